import test from 'ava';
import { learningRate, scheduleProblem, type ScheduleConfig } from '../../src/train/schedule.ts';

/** The seed's YFCC-15M schedule (peak 1e-3 for CLIP/DeCLIP/DeFILIP, 5e-4 for SLIP/FILIP). */
const seedSchedule = (peakLr: number): ScheduleConfig => ({
  baseLr: 1e-4,
  peakLr,
  warmupSteps: 2500,
  totalSteps: 128001,
  minLr: 0,
});

const close = (t: any, a: number, b: number, tol = 1e-15) => t.true(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('seed schedule: warm-up from 1e-4 to the peak over 2500 iterations, hand-computed values', (t) => {
  const s = seedSchedule(1e-3);
  close(t, learningRate(1, s), 1e-4);
  // 1e-4 + 9e-4 * 1/2499
  close(t, learningRate(2, s), 1.0036014405762305e-4);
  // 1e-4 + 9e-4 * 1249/2499
  close(t, learningRate(1250, s), 1e-4 + (9e-4 * 1249) / 2499);
  close(t, learningRate(1250, s), 5.4981992797118845e-4);
  close(t, learningRate(2499, s), 9.99639855942377e-4);
  close(t, learningRate(2500, s), 1e-3);
});

test('seed schedule: cosine from the peak to 0 at 128001', (t) => {
  const s = seedSchedule(5e-4);
  close(t, learningRate(2500, s), 5e-4);
  close(t, learningRate(128001, s), 0, 1e-20);
  // one step into the cosine: 0.5 * 5e-4 * (1 + cos(pi / 125501))
  close(t, learningRate(2501, s), 0.5 * 5e-4 * (1 + Math.cos(Math.PI / 125501)));
  t.true(learningRate(2501, s) < 5e-4);
});

test('cosine quarter and half points on a small schedule', (t) => {
  const s = { baseLr: 0.1, peakLr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0 };
  close(t, learningRate(1, s), 0.1);
  close(t, learningRate(5, s), 0.1 + (0.9 * 4) / 9);
  close(t, learningRate(10, s), 1);
  close(t, learningRate(35, s), 0.8535533905932737, 1e-15); // 0.5 (1 + cos(pi/4))
  close(t, learningRate(60, s), 0.5, 1e-15); // 0.5 (1 + cos(pi/2))
  close(t, learningRate(110, s), 0, 1e-16);
  close(t, learningRate(500, s), 0, 1e-16); // past the end stays at the floor
  const floor = { ...s, minLr: 0.01 };
  close(t, learningRate(60, floor), 0.01 + 0.99 * 0.5, 1e-15);
});

test('iteration indices are 1-based and schedules are validated naming the field', (t) => {
  t.throws(() => learningRate(0, seedSchedule(1e-3)), { message: /1-based/ });
  t.regex(scheduleProblem({ ...seedSchedule(1e-3), warmupSteps: 2.5 })!, /optim\.schedule\.warmupSteps/);
  t.regex(scheduleProblem({ ...seedSchedule(1e-3), peakLr: -1 })!, /optim\.schedule\.peakLr/);
  t.is(scheduleProblem(seedSchedule(1e-3)), undefined);
});
