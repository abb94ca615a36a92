// Grouping of consecutive tar members into samples, exactly as webdataset's group_by_keys (with
// open_clip's nothrow behaviour): members with the same key that are adjacent form one sample; a
// new key starts a new sample; a repeated extension within one key also starts a new sample (and is
// counted, since it usually means two samples share a key prefix).
import type { WdsSample } from './sample.ts';

export interface TarMember {
  /** Full member name inside the tar (after `.gz` decoding the `.gz` is removed). */
  name: string;
  data: Uint8Array;
  /** Byte offset of the member's header in the (decompressed) tar stream. */
  offset: number;
}

export class SampleGrouper {
  private current: WdsSample | undefined;
  /** How many times a repeated extension split a key into two samples. */
  duplicateSplits = 0;
  private readonly url: string;

  constructor(url: string) { this.url = url; }

  /** Add a member (key and extension already split); returns the sample this member completed, if any. */
  add(key: string, extension: string, data: Uint8Array): WdsSample | undefined {
    let completed: WdsSample | undefined;
    if (this.current === undefined || this.current.__key__ !== key) {
      completed = this.current;
      this.current = { __key__: key, __url__: this.url };
    } else if (Object.hasOwn(this.current, extension)) {
      this.duplicateSplits++;
      completed = this.current;
      this.current = { __key__: key, __url__: this.url };
    }
    this.current[extension] = data;
    return completed;
  }

  /** The last, still open sample (call at the end of the shard). */
  flush(): WdsSample | undefined {
    const last = this.current;
    this.current = undefined;
    return last;
  }

  /** Drop the open sample (after a read error it may be missing members). Returns whether one was dropped. */
  discard(): boolean {
    const had = this.current !== undefined;
    this.current = undefined;
    return had;
  }
}
