// The item flowing through the image stages of the shards pipeline. Failures are NOT dropped:
// they travel to the shard sink so every slice's _stats.json accounts for all its rows
// (as img2dataset's status column does).
import type { ShardInput } from './shard-input.ts';
import type { Recipe } from './recipe.ts';

export type FetchStatus = 'success' | 'failed_to_download' | 'failed_to_validate' | 'near_duplicate';

export interface FetchItem {
  /** Slice (= shard number) and index of the row inside it; key = sampleKey(slice, index). */
  slice: number;
  index: number;
  key: string;
  input: ShardInput;
  status: FetchStatus;
  /** Why the row failed, in full (kept in the shard's parquet). */
  error?: string;
  /** The failure's kind without row-specific details, for the per-shard counts ("HTTP 503 Service Unavailable"). */
  reason?: string;
  /** The failure may go away on a rerun (network error, timeout, 5xx, 429, an unreadable local file). */
  retryable?: boolean;
  bytes?: Uint8Array;
  source?: string;
  attempts?: number;
  width?: number;
  height?: number;
  format?: string;
  sha256?: string;
  dhash?: string;
  reencoded?: boolean;
  /** What makes this row's slice (its rows and the job's settings), recorded in the slice's _stats.json. */
  sliceRecipe?: Recipe;
  /** Reads this row's sample from the shard an earlier run wrote for this slice (a success then: not fetched again). */
  reuse?: () => Promise<{ jpg: Uint8Array; json: Record<string, unknown> }>;
  /** Taken from the earlier shard: already validated under the same settings. */
  reused?: boolean;
}
