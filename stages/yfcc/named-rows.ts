// Parse rows with named fields (JSONL or parquet copies of the metadata, e.g. dalle-mini's
// YFCC100M_OpenAI_subset) into the same records the TSV parser makes, through a column map
// `yfccColumn=inputField` (src/yfcc/columns.ts names). Counted under the 'parse' stage; a row without
// an integer photo id is dropped as 'bad-photo-id', never fatal.
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

/** Presets: dalle-mini's column names (its `key` column is assumed to be the photo hash). */
export const NAMED_FIELD_PRESETS: Record<string, Record<string, string>> = {
  'dalle-mini': {
    photoId: 'photoid',
    photoHash: 'key',
    userNsid: 'uid',
    userNickname: 'unickname',
    dateTaken: 'datetaken',
    dateUploaded: 'dateuploaded',
    captureDevice: 'capturedevice',
    title: 'title',
    description: 'description',
    userTags: 'usertags',
    machineTags: 'machinetags',
    longitude: 'longitude',
    latitude: 'latitude',
    accuracy: 'accuracy',
    pageUrl: 'pageurl',
    downloadUrl: 'downloadurl',
    licenseName: 'licensename',
    licenseUrl: 'licenseurl',
    serverId: 'serverid',
    farmId: 'farmid',
    secret: 'secret',
    secretOriginal: 'secretoriginal',
    extensionOriginal: 'ext',
    marker: 'marker',
  },
};

/** `preset` or `preset,yfccColumn=field,...` or just `yfccColumn=field,...`. */
export function parseNamedFields(spec: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (NAMED_FIELD_PRESETS[part]) {
      Object.assign(map, NAMED_FIELD_PRESETS[part]);
      continue;
    }
    const m = /^(\w+)=(.+)$/.exec(part);
    if (!m)
      throw new Error(
        `--metadata-fields: expected a preset (${Object.keys(NAMED_FIELD_PRESETS).join(', ')}) or ` +
          `yfccColumn=field, got ${JSON.stringify(part)}`,
      );
    map[m[1]] = m[2];
  }
  if (!map.photoId) throw new Error('--metadata-fields: the map must name the photoId field');
  return map;
}

export function namedRows(map: Record<string, string>, posField = '_pos'): Stage<Record<string, unknown>, YfccRecord> {
  return countedFilter<Record<string, unknown>, YfccRecord>('parse', (row) => {
    const fields: Record<string, string> = {};
    for (const [column, field] of Object.entries(map)) {
      const v = row[field];
      fields[column] = v === undefined || v === null ? '' : String(v);
    }
    if (!/^\d+$/.test(fields.photoId)) return 'bad-photo-id';
    if ('marker' in fields && fields.marker !== '' && fields.marker !== '0' && fields.marker !== '1')
      return 'bad-marker';
    return { pos: Number(row[posField]), fields };
  });
}
