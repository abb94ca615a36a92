// The item flowing through the image stages of the shards pipeline. Failures are NOT dropped:
// they travel to the shard sink so every slice's _stats.json accounts for all its rows
// (as img2dataset's status column does).
import type { ShardInput } from './shard-input.ts';

export type FetchStatus = 'success' | 'failed_to_download' | 'failed_to_validate' | 'near_duplicate';

export interface FetchItem {
  /** Slice (= shard number) and index of the row inside it; key = sampleKey(slice, index). */
  slice: number;
  index: number;
  key: string;
  input: ShardInput;
  status: FetchStatus;
  error?: string;
  bytes?: Uint8Array;
  source?: string;
  attempts?: number;
  width?: number;
  height?: number;
  format?: string;
  sha256?: string;
  dhash?: string;
  reencoded?: boolean;
}
