// The images an evaluation could not use (unreadable file, empty, not an image, over the pixel limit...): counted
// by reason, the first few named with what was wrong, so a result says exactly what it left out.

export interface SkippedImagesReport {
  count: number;
  /** Skips per reason (unreadable, empty, unsupported, corrupt, too-large). */
  reasons: Record<string, number>;
  /** The first skipped images as "source: reason: message". */
  examples: string[];
}

export class SkippedImages {
  count = 0;
  readonly reasons: Record<string, number> = {};
  readonly examples: string[] = [];
  private readonly maxExamples: number;

  constructor(maxExamples = 20) {
    this.maxExamples = maxExamples;
  }

  add(source: string, reason: string, message: string): void {
    this.count++;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
    if (this.examples.length < this.maxExamples) this.examples.push(`${source}: ${reason}: ${message}`);
  }

  toJSON(): SkippedImagesReport {
    return { count: this.count, reasons: { ...this.reasons }, examples: [...this.examples] };
  }

  /** One line for the terminal, '' when nothing was skipped. */
  summary(what: string): string {
    if (this.count === 0) return '';
    const reasons = Object.entries(this.reasons)
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    const more = this.count > this.examples.length ? ` (+${this.count - this.examples.length} more)` : '';
    return (
      `${what}: skipped ${this.count} image(s) (${reasons}): ` +
      `${this.examples.slice(0, 3).join('; ')}${this.count > 3 ? '; ...' : ''}${more}`
    );
  }
}
