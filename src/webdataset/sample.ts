// One webdataset sample: the members of a tar that share a key, by lowercased extension.
// `__key__` is the path up to the first dot of the basename; `__url__` the shard it came from.
// Member values are raw bytes (a member named `x.txt.gz` is gunzipped and stored under `txt`).

export interface WdsSample {
  __key__: string;
  __url__: string;
  [extension: string]: Uint8Array | string;
}

/** Read member `ext` of a sample as bytes, or undefined when absent. */
export function member(sample: WdsSample, ext: string): Uint8Array | undefined {
  const value = sample[ext];
  return value instanceof Uint8Array ? value : undefined;
}

/** Read member `ext` as UTF-8 text, or undefined when absent. */
export function textMember(sample: WdsSample, ext: string): string | undefined {
  const value = member(sample, ext);
  return value === undefined ? undefined : new TextDecoder().decode(value);
}
