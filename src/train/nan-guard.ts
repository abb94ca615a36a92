// The non-finite / divergence guard of the training step. DeCLIP's solver reloads a checkpoint and multiplies the
// learning rate by 0.997 when the loss is NaN or jumps more than 10 above its running mean
// (docs/methods.md, "Training recipe"); the alternative is to stop, naming the step.

export type GuardVerdict = { action: 'ok' } | { action: 'stop' | 'rollback'; reason: string };

export interface NanGuardOptions {
  policy: 'stop' | 'rollback';
  /** Loss above runningMean + jump counts as divergence (the seed: 10). */
  jump: number;
  /** Window of the running mean (finite losses). */
  window: number;
  /** Do not judge jumps before this many observations. */
  minHistory: number;
}

export class NanGuard {
  readonly options: NanGuardOptions;
  private history: number[] = [];

  constructor(options: Partial<NanGuardOptions> & { policy: 'stop' | 'rollback' }) {
    this.options = { jump: 10, window: 100, minHistory: 20, ...options };
  }

  runningMean(): number {
    return this.history.length ? this.history.reduce((a, b) => a + b, 0) / this.history.length : NaN;
  }

  /** Judge one step's loss (and gradient norm); a verdict other than 'ok' means the update must not be applied. */
  check(step: number, loss: number, gradNorm: number): GuardVerdict {
    let reason: string | undefined;
    if (!Number.isFinite(loss)) reason = `non-finite loss (${loss}) at step ${step}`;
    else if (!Number.isFinite(gradNorm)) reason = `non-finite gradient (norm ${gradNorm}) at step ${step}`;
    else if (this.history.length >= this.options.minHistory && loss > this.runningMean() + this.options.jump) {
      reason = `loss ${loss.toFixed(4)} jumped more than ${this.options.jump} above its running mean ${this.runningMean().toFixed(4)} at step ${step}`;
    }
    if (reason) return { action: this.options.policy, reason };
    this.history.push(loss);
    if (this.history.length > this.options.window) this.history.shift();
    return { action: 'ok' };
  }

  getState(): number[] {
    return [...this.history];
  }
  setState(history: number[]): void {
    this.history = [...history];
  }
}
