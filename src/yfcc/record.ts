// The record that flows through the YFCC filter stages, and the clean-table row it becomes.
import type { YfccRow } from './columns.ts';
import { unquotePlus, CLEAN_VERSION } from './clean-yfcc-text.ts';
import type { CaptionCandidate } from './caption.ts';

export interface YfccRecord extends YfccRow {
  /** Cleaned title/description ('' when empty or rejected by the camera/EXIF screens). */
  title?: string;
  description?: string;
  /** Why the title/description was blanked, if it was. */
  titleRejected?: 'camera-title';
  descriptionRejected?: 'exif-description';
  candidates?: CaptionCandidate[];
}

/** One row of the clean table (JSON lines): everything later stages and the shards need. */
export interface TableRow {
  pos: number;
  photoId: string;
  photoHash: string;
  caption: string;
  captions: CaptionCandidate[];
  title: string;
  description: string;
  downloadUrl: string;
  cleanVersion: string;
  [field: string]: unknown;
}

const NUMERIC = new Set(['lineNumber', 'longitude', 'latitude', 'accuracy', 'marker']);
const DECODED = new Set(['userNickname', 'captureDevice', 'userTags', 'machineTags']);
const DROPPED = new Set(['title', 'description']);

export function toTableRow(rec: YfccRecord): TableRow {
  const candidates = rec.candidates ?? [];
  const row: TableRow = {
    pos: rec.pos,
    photoId: rec.fields.photoId,
    photoHash: rec.fields.photoHash ?? '',
    caption: candidates[0]?.text ?? '',
    captions: candidates,
    title: rec.title ?? '',
    description: rec.description ?? '',
    downloadUrl: rec.fields.downloadUrl ?? '',
    cleanVersion: CLEAN_VERSION,
  };
  for (const [k, v] of Object.entries(rec.fields)) {
    if (k in row || DROPPED.has(k)) continue;
    if (NUMERIC.has(k)) {
      const n = Number(v);
      row[k] = v === '' || !Number.isFinite(n) ? null : n;
    } else row[k] = DECODED.has(k) ? unquotePlus(v) : v;
  }
  return row;
}
