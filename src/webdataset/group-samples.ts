// Grouping of consecutive tar members into samples, exactly as webdataset's group_by_keys (with
// open_clip's nothrow behaviour): members with the same key that are adjacent form one sample; a
// new key starts a new sample; a repeated extension within one key also starts a new sample (and is
// counted, since it usually means two samples share a key prefix). A sample with a member that failed
// to read is dropped (and counted) instead of being emitted incomplete; so is the open sample when the
// shard fails, unless the failing member is known to belong to the next key.
import type { WdsSample } from './sample.ts';

export interface TarMember {
  /** Full member name inside the tar (a gunzipped `x.txt.gz` member is named `x.txt`). */
  name: string;
  data: Uint8Array;
  /** Byte offset of the member's header in the (decompressed) tar stream. */
  offset: number;
  /** Set when the member could not be read (e.g. a corrupt `.gz` member); data is then empty. */
  error?: string;
}

export class SampleGrouper {
  private current: WdsSample | undefined;
  private currentBad = false;
  /** How many times a repeated extension split a key into two samples. */
  duplicateSplits = 0;
  /** Samples dropped because one of their members failed to read. */
  droppedSamples = 0;
  private readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  /**
   * Add a member (key and lowercased extension already split); returns the sample this member
   * completed, if any. `bad` marks the member as unreadable: its whole sample will be dropped.
   */
  add(key: string, extension: string, data: Uint8Array, bad = false): WdsSample | undefined {
    let completed: WdsSample | undefined;
    if (this.current === undefined || this.current.__key__ !== key) {
      completed = this.take();
    } else if (Object.hasOwn(this.current, extension)) {
      this.duplicateSplits++;
      completed = this.take();
    }
    if (this.current === undefined) this.current = { __key__: key, __url__: this.url };
    this.current[extension] = data;
    if (bad) this.currentBad = true;
    return completed;
  }

  /** The last, still open sample (call at the end of the shard). */
  flush(): WdsSample | undefined {
    return this.take();
  }

  /** Key of the open sample, if any. */
  get openKey(): string | undefined {
    return this.current?.__key__;
  }

  /** Drop the open sample (after a read error it may be missing members). Returns whether one was dropped. */
  discard(): boolean {
    const had = this.current !== undefined;
    this.current = undefined;
    this.currentBad = false;
    return had;
  }

  private take(): WdsSample | undefined {
    const sample = this.current;
    const bad = this.currentBad;
    this.current = undefined;
    this.currentBad = false;
    if (sample !== undefined && bad) {
      this.droppedSamples++;
      return undefined;
    }
    return sample;
  }
}
