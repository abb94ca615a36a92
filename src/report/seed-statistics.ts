// Statistics over seeds for the benchmark table: mean, sample standard deviation, Welch's unequal-variance t-test
// (is a difference between two cells larger than seed noise?) and average ranks across columns.
//
// Why Welch's test: each cell's seeds are independent runs whose spread is the seed noise; the two cells compared
// need not have the same spread (a method can be less stable than another), which Student's pooled test assumes.
// With few seeds the test is conservative (2 + 2 seeds: ~2 degrees of freedom, t must exceed ~4.3 at p = 0.05), so
// "within noise" means "these seeds cannot tell them apart", not "equal".

export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Sample standard deviation (n - 1); NaN for fewer than 2 values. */
export function sampleStd(xs: number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the regularized incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Two-sided p-value of Student's t distribution with `df` (possibly fractional) degrees of freedom. */
export function studentTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? NaN : 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

export interface WelchResult {
  /** mean(a) - mean(b). */
  diff: number;
  t: number;
  /** Welch-Satterthwaite degrees of freedom. */
  df: number;
  p: number;
}

/** Welch's two-sided t-test of mean(a) = mean(b); undefined when either side has fewer than 2 values. */
export function welchTTest(a: number[], b: number[]): WelchResult | undefined {
  if (a.length < 2 || b.length < 2) return undefined;
  const diff = mean(a) - mean(b);
  const va = sampleStd(a) ** 2 / a.length;
  const vb = sampleStd(b) ** 2 / b.length;
  const se2 = va + vb;
  if (se2 === 0)
    return { diff, t: diff === 0 ? 0 : Math.sign(diff) * Infinity, df: a.length + b.length - 2, p: diff === 0 ? 1 : 0 };
  const t = diff / Math.sqrt(se2);
  const df = se2 ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { diff, t, df, p: studentTwoSidedP(t, df) };
}

/**
 * Average rank of each row across columns (1 = best = highest value; ties share the mean of their ranks; a row
 * without a value in a column is left out of that column).
 */
export function averageRanks(table: Record<string, Record<string, number>>): Record<string, number> {
  const rows = Object.keys(table);
  const columns = [...new Set(rows.flatMap((r) => Object.keys(table[r])))];
  const sums: Record<string, number> = {};
  const counts: Record<string, number> = {};
  for (const c of columns) {
    const entries = rows.filter((r) => Number.isFinite(table[r][c])).map((r) => [r, table[r][c]] as const);
    entries.sort((x, y) => y[1] - x[1]);
    for (let i = 0; i < entries.length; ) {
      let j = i;
      while (j + 1 < entries.length && entries[j + 1][1] === entries[i][1]) j++;
      const rank = (i + j) / 2 + 1;
      for (let k = i; k <= j; k++) {
        sums[entries[k][0]] = (sums[entries[k][0]] ?? 0) + rank;
        counts[entries[k][0]] = (counts[entries[k][0]] ?? 0) + 1;
      }
      i = j + 1;
    }
  }
  return Object.fromEntries(rows.map((r) => [r, counts[r] ? sums[r] / counts[r] : NaN]));
}
