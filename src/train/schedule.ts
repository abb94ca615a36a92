// The learning-rate schedule of DeCLIP's CosineLRScheduler (docs/methods.md, "Training recipe"), stepped every
// iteration with the 1-based iteration index t:
//   t <  W: lr(t) = base + (peak - base) * (t - 1) / (W - 1)          (linear warm-up)
//   t >= W: lr(t) = min + (peak - min) * 0.5 * (1 + cos(pi * (t - W) / (T - W)))   (cosine to min)
// The seed's recipe: base 1e-4, peak 1e-3 (5e-4 for SLIP/FILIP), W = 2500, T = 128001, min = 0.

export interface ScheduleConfig {
  /** Learning rate at iteration 1 (`base_lr`). */
  baseLr: number;
  /** Learning rate reached at the end of warm-up (`warmup_lr`). */
  peakLr: number;
  /** Warm-up iterations W (linear from baseLr to peakLr). */
  warmupSteps: number;
  /** Total iterations T (the cosine reaches minLr at t = T). */
  totalSteps: number;
  /** Floor of the cosine (0 in every released config). */
  minLr: number;
}

export function learningRate(t: number, s: ScheduleConfig): number {
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`learningRate: the iteration index is 1-based, got ${t}`);
  const W = s.warmupSteps;
  if (t < W) {
    // W >= 2 here (t >= 1 and t < W).
    return s.baseLr + ((s.peakLr - s.baseLr) * (t - 1)) / (W - 1);
  }
  const span = s.totalSteps - W;
  const progress = span > 0 ? Math.min(1, (t - W) / span) : 1;
  return s.minLr + (s.peakLr - s.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** Validate a schedule; returns a one-line problem description naming the field, or undefined. */
export function scheduleProblem(s: ScheduleConfig, prefix = 'optim.schedule'): string | undefined {
  if (!(s.baseLr >= 0)) return `${prefix}.baseLr must be >= 0, got ${s.baseLr}`;
  if (!(s.peakLr > 0)) return `${prefix}.peakLr must be > 0, got ${s.peakLr}`;
  if (!(s.minLr >= 0)) return `${prefix}.minLr must be >= 0, got ${s.minLr}`;
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0)
    return `${prefix}.warmupSteps must be an integer >= 0, got ${s.warmupSteps}`;
  if (!Number.isInteger(s.totalSteps) || s.totalSteps < 1)
    return `${prefix}.totalSteps must be an integer >= 1, got ${s.totalSteps}`;
  return undefined;
}
