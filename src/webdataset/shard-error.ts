// The error a shard read fails with: names the shard and the byte offset in the (decompressed) tar
// stream where reading stopped, e.g. "shard data/x-000003.tar: Unexpected end of data at byte 1536".

export class ShardReadError extends Error {
  readonly url: string;
  readonly offset: number;
  readonly reason: string;
  /** Name of the member being read when the shard failed, when known (its header was intact). */
  readonly member: string | undefined;

  constructor(url: string, reason: string, offset: number, options?: { cause?: unknown; member?: string }) {
    super(`shard ${url}: ${reason} at byte ${offset}`, options);
    this.name = 'ShardReadError';
    this.url = url;
    this.reason = reason;
    this.offset = offset;
    this.member = options?.member;
  }
}
