// Evaluation datasets as lazily read items: an encoded image (or raw pixels) with a class label, or with
// several captions. Readers yield these one at a time so a large test set never sits in memory.

/** An image either as encoded file bytes (JPEG/PNG/WebP...) or as raw interleaved uint8 pixels. */
export type EvalImage =
  | { kind: 'encoded'; bytes: Uint8Array }
  | { kind: 'raw'; pixels: Uint8Array; width: number; height: number; channels: 1 | 3 };

export interface ClassificationItem {
  key: string;
  image: EvalImage;
  label: number;
}
export interface RetrievalItem {
  key: string;
  image: EvalImage;
  captions: string[];
}

export interface ClassificationDataset {
  name: string;
  classes: string[];
  /** Number of items, when known up front (for progress bars). */
  size?: number;
  items(): AsyncIterable<ClassificationItem>;
}

export interface RetrievalDataset {
  name: string;
  size?: number;
  items(): AsyncIterable<RetrievalItem>;
}
