// The YFCC100M metadata TSV layout and a pure parser for one line of it.
// 25 tab-separated columns; text columns (nickname, device, title, description, tags) are
// URL-encoded with '+' for spaces. The column map is data: pass another one for a different
// export (e.g. the 23-column variant without line number/marker).

export const YFCC100M_COLUMNS = [
  'lineNumber',
  'photoId',
  'photoHash',
  'userNsid',
  'userNickname',
  'dateTaken',
  'dateUploaded',
  'captureDevice',
  'title',
  'description',
  'userTags',
  'machineTags',
  'longitude',
  'latitude',
  'accuracy',
  'pageUrl',
  'downloadUrl',
  'licenseName',
  'licenseUrl',
  'serverId',
  'farmId',
  'secret',
  'secretOriginal',
  'extensionOriginal',
  'marker',
] as const;

/** Columns of OpenAI's yfcc100m_subset_data.tsv (the first three YFCC100M columns). */
export const OPENAI_SUBSET_COLUMNS = ['lineNumber', 'photoId', 'photoHash'] as const;

/** A parsed metadata row: every mapped column as its raw (still URL-encoded) string. */
export interface YfccRow {
  /** Position of the row in the input (0-based line index), used to order and merge parts. */
  pos: number;
  fields: Record<string, string>;
}

export type ParseResult =
  | { ok: true; row: YfccRow }
  | { ok: false; reason: 'wrong-column-count' | 'empty-line' | 'bad-photo-id' | 'bad-marker'; detail: string };

/**
 * Parse one TSV line (without its newline) with `columns` naming the tab-separated fields in order.
 * Never throws: malformed lines return a reason so the caller counts them.
 */
export function parseYfccLine(line: string, pos: number, columns: readonly string[] = YFCC100M_COLUMNS): ParseResult {
  if (line.endsWith('\r')) line = line.slice(0, -1);
  if (line.length === 0) return { ok: false, reason: 'empty-line', detail: `empty line at input position ${pos}` };
  const parts = line.split('\t');
  if (parts.length !== columns.length) {
    return {
      ok: false,
      reason: 'wrong-column-count',
      detail: `input position ${pos}: expected ${columns.length} columns, got ${parts.length}`,
    };
  }
  const fields: Record<string, string> = {};
  for (let i = 0; i < columns.length; i++) fields[columns[i]] = parts[i];
  if ('photoId' in fields && !/^\d+$/.test(fields.photoId)) {
    return {
      ok: false,
      reason: 'bad-photo-id',
      detail: `input position ${pos}: photo id ${JSON.stringify(fields.photoId.slice(0, 40))} is not an integer`,
    };
  }
  if ('marker' in fields && fields.marker !== '0' && fields.marker !== '1') {
    return {
      ok: false,
      reason: 'bad-marker',
      detail: `input position ${pos}: marker ${JSON.stringify(fields.marker.slice(0, 20))} is not 0 or 1`,
    };
  }
  return { ok: true, row: { pos, fields } };
}

/** Parse a `--columns` option: a comma-separated list of names, or the preset name `yfcc100m`. */
export function parseColumnMap(spec: string): string[] {
  if (spec === 'yfcc100m') return [...YFCC100M_COLUMNS];
  const names = spec.split(',').map((s) => s.trim());
  if (names.some((n) => n.length === 0)) throw new Error(`--columns: empty column name in ${JSON.stringify(spec)}`);
  if (new Set(names).size !== names.length)
    throw new Error(`--columns: duplicate column name in ${JSON.stringify(spec)}`);
  if (!names.includes('photoId')) throw new Error(`--columns: the map must name a photoId column`);
  return names;
}
