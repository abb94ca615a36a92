// A token bucket: at most `perSecond` acquisitions per second on average, bursts up to `burst`.
// `acquire()` resolves when a token is available (honouring an AbortSignal).

export class RateLimiter {
  private tokens: number;
  private last: number;
  private readonly perSecond: number;
  private readonly burst: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(perSecond: number, burst = Math.max(1, perSecond)) {
    if (!(perSecond > 0)) throw new RangeError(`RateLimiter: perSecond must be > 0, got ${perSecond}`);
    this.perSecond = perSecond;
    this.burst = burst;
    this.tokens = burst;
    this.last = performance.now();
  }

  acquire(signal?: AbortSignal): Promise<void> {
    // Serialise waiters so tokens are handed out in call order.
    const next = this.queue.then(() => this.take(signal));
    this.queue = next.catch(() => {});
    return next;
  }

  private async take(signal?: AbortSignal): Promise<void> {
    while (true) {
      const now = performance.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const waitMs = ((1 - this.tokens) / this.perSecond) * 1000;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(t);
          reject(signal!.reason);
        };
        const t = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, waitMs);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}
