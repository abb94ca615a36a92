// Evaluation datasets as lazily read items: an image (a file to read, encoded bytes, or raw pixels) with a class
// label, or with several captions. Readers yield these one at a time so a large test set never sits in memory.

/** An image as a file to read, as encoded file bytes (JPEG/PNG/WebP...), or as raw interleaved uint8 pixels. */
export type EvalImage =
  | { kind: 'file'; path: string }
  | { kind: 'encoded'; bytes: Uint8Array }
  | { kind: 'raw'; pixels: Uint8Array; width: number; height: number; channels: 1 | 3 };

export interface EvalItem {
  key: string;
  image: EvalImage;
  /** Where the item comes from (a file path, or shard#key), for messages about it. */
  source?: string;
}

export interface ClassificationItem extends EvalItem {
  label: number;
}
export interface RetrievalItem extends EvalItem {
  captions: string[];
}

export interface ClassificationDataset {
  name: string;
  classes: string[];
  /** Number of items, when known up front (for progress bars and evenly spread subsets). */
  size?: number;
  items(): AsyncIterable<ClassificationItem>;
}

export interface RetrievalDataset {
  name: string;
  size?: number;
  items(): AsyncIterable<RetrievalItem>;
  /** Rows or captions the reader left out, by reason (e.g. malformed_rows, empty_captions), with examples. */
  dropped?: DroppedRows;
}

/** What a caption-table reader left out, so results can say it. */
export interface DroppedRows {
  counts: Record<string, number>;
  /** The first few, as "file:line: what is wrong". */
  examples: string[];
}
