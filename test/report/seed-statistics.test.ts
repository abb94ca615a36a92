// Mean, std, Welch's t-test (against SciPy 1.x `ttest_ind(a, b, equal_var=False)`, values below) and average ranks.
import test from 'ava';
import {
  mean,
  sampleStd,
  welchTTest,
  studentTwoSidedP,
  averageRanks,
  logGamma,
} from '../../src/report/seed-statistics.ts';

const close = (a: number, b: number, rel = 1e-9) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

test('mean and sample standard deviation (n - 1)', (t) => {
  t.is(mean([1, 2, 3, 4]), 2.5);
  t.true(close(sampleStd([1, 2, 3, 4]), Math.sqrt(5 / 3)));
  t.true(Number.isNaN(sampleStd([1])));
  t.true(Number.isNaN(mean([])));
});

test('Student t two-sided p-values at the textbook critical values; log-gamma', (t) => {
  // t_{0.975} for df 1, 2, 4, 10, 30
  for (const [tc, df] of [
    [12.706204736, 1],
    [4.30265273, 2],
    [2.776445105, 4],
    [2.228138852, 10],
    [2.042272456, 30],
  ])
    t.true(close(studentTwoSidedP(tc, df), 0.05, 1e-6), `df ${df}: ${studentTwoSidedP(tc, df)}`);
  t.is(studentTwoSidedP(0, 3), 1);
  t.is(studentTwoSidedP(Infinity, 3), 0);
  t.true(close(logGamma(5), Math.log(24), 1e-13));
  t.true(close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-13));
});

test("Welch's test equals SciPy's ttest_ind(equal_var=False)", (t) => {
  // scipy.stats.ttest_ind([1,2,3],[4,5,6,7], equal_var=False)
  const r = welchTTest([1, 2, 3], [4, 5, 6, 7])!;
  t.true(close(r.t, -4.041451884327381));
  t.true(close(r.df, 4.959183673469389));
  t.true(close(r.p, 0.01007694334798886, 1e-8));
  t.is(r.diff, -3.5);
  // scipy.stats.ttest_ind([0.81, 0.79], [0.52, 0.58], equal_var=False): 2 seeds a side, a 25-point difference
  // is still within noise at p < 0.05 when one side spreads by 4 points
  const s = welchTTest([0.81, 0.79], [0.52, 0.58])!;
  t.true(close(s.t, 7.905694150420954, 1e-9));
  t.true(close(s.df, 1.2195121951219523, 1e-9));
  t.true(close(s.p, 0.05374249507700638, 1e-8), String(s.p));
  // no spread on either side: equal means are "no difference", different means are certain
  t.deepEqual(welchTTest([1, 1], [1, 1])!.p, 1);
  t.deepEqual(welchTTest([1, 1], [2, 2])!.p, 0);
  t.is(welchTTest([1], [1, 2]), undefined, 'one seed: no test');
});

test('average ranks: 1 = best, ties share their mean rank, missing values are left out', (t) => {
  t.deepEqual(
    averageRanks({
      clip: { a: 0.5, b: 0.3, c: 0.9 },
      slip: { a: 0.6, b: 0.3, c: NaN },
      filip: { a: 0.4, b: 0.2, c: 0.1 },
    }),
    { clip: (2 + 1.5 + 1) / 3, slip: (1 + 1.5) / 2, filip: (3 + 3 + 2) / 3 },
  );
});
