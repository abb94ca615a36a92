// Rows of any caption table (the clean table, DeCLIP's V2 list, a JSONL/parquet copy with named
// fields) normalised to what the image stage needs, through a field map that is data.
// A field map names, for each role, the input field that holds it:
//   table   (the yfcc15m-filter output): id=photoId hash=photoHash url=downloadUrl caption=caption
//   declip  (DeCLIP yfcc15m_clean_open_data.json lines): id=filename hash=filename url=url caption=caption
//   dalle-mini (HF YFCC100M_OpenAI_subset): id=photoid hash=key url=downloadurl caption=title_clean
// Rows whose url is missing are still passed on (a local copy is found by hash/id).

export interface FieldMap {
  id: string;
  hash: string;
  url: string;
  caption: string;
}

export const FIELD_MAPS: Record<string, FieldMap> = {
  table: { id: 'photoId', hash: 'photoHash', url: 'downloadUrl', caption: 'caption' },
  declip: { id: 'filename', hash: 'filename', url: 'url', caption: 'caption' },
  'dalle-mini': { id: 'photoid', hash: 'key', url: 'downloadurl', caption: 'title_clean' },
};

export interface ShardInput {
  /** Row index in the input table (line index for JSONL, row number for parquet). */
  pos: number;
  id: string;
  hash: string;
  url: string;
  caption: string;
  /** The whole input row, kept in the sample's .json. */
  row: Record<string, unknown>;
}

/** Parse `--fields id=photoid,url=downloadurl,...` on top of a preset. */
export function parseFieldMap(preset: string, overrides?: string): FieldMap {
  const base = FIELD_MAPS[preset];
  if (!base)
    throw new Error(
      `--format: unknown field-map preset ${JSON.stringify(preset)} (expected ${Object.keys(FIELD_MAPS).join(', ')})`,
    );
  const map = { ...base };
  for (const pair of (overrides ?? '').split(',').filter(Boolean)) {
    const m = /^(id|hash|url|caption)=(.+)$/.exec(pair.trim());
    if (!m)
      throw new Error(`--fields: expected role=field with role in id, hash, url, caption; got ${JSON.stringify(pair)}`);
    map[m[1] as keyof FieldMap] = m[2];
  }
  return map;
}

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));

/** Strip an image extension from a DeCLIP-style filename used as id/hash. */
function stem(s: string): string {
  return s.replace(/^.*\//, '').replace(/\.(jpe?g|png|webp|gif)$/i, '');
}

export function toShardInput(row: Record<string, unknown>, pos: number, map: FieldMap): ShardInput {
  return {
    pos,
    id: stem(str(row[map.id])),
    hash: stem(str(row[map.hash])),
    url: str(row[map.url]),
    caption: str(row[map.caption]),
    row,
  };
}
