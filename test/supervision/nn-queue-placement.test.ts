// The NN queue's two placements (src/supervision/nn-queue.ts) behave the same: host (JS entries, wasm/cpu) and device
// (tensor entries with a host mirror, GPU backends; exercised here on the cpu backend), including wrap-around, state
// round trips, and a training step that is rejected (its enqueue undone) or applied (step-effects.ts).
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { NnQueue } from '../../src/supervision/nn-queue.ts';
import { Rng } from '../../src/rng.ts';
import { flushStepEffects, settleStepEffects, withinStep } from '../../src/train/step-effects.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

test.serial(
  'host and device placements: same look-ups, same entries after wrap-around, state round trip',
  async (t) => {
    const host = new NnQueue(10, 4, new Rng(3), 'host');
    const device = new NnQueue(10, 4, new Rng(3), 'device');
    t.deepEqual(device.getState(), host.getState());
    const rng = new Rng(9);
    for (let step = 0; step < 5; step++) {
      const rows = tf.tensor2d(
        Float32Array.from({ length: 3 * 4 }, () => rng.normal()),
        [3, 4],
      );
      const queries = tf.tensor2d(
        Float32Array.from({ length: 5 * 4 }, () => rng.normal()),
        [5, 4],
      );
      const a = host.lookup(queries),
        b = device.lookup(queries);
      t.deepEqual(Array.from(await b.data()), Array.from(await a.data()), `look-up at step ${step}`);
      host.enqueue(rows);
      device.enqueue(rows);
      await flushStepEffects();
      tf.dispose([rows, queries, a, b]);
    }
    const h = host.getState(),
      d = device.getState();
    t.is(d.pointer, h.pointer);
    t.is(d.pointer, 5); // 15 rows into 10 slots
    d.bank.forEach((v, i) => t.true(Math.abs(v - h.bank[i]!) < 1e-7, `entry value ${i}`));
    const copy = new NnQueue(10, 4, new Rng(99), 'device');
    copy.setState(h);
    t.deepEqual(copy.getState(), h);
    for (const q of [host, device, copy]) q.dispose();
  },
);

test.serial(
  'inside a training step an enqueue waits for the verdict: undone when rejected, kept when applied',
  async (t) => {
    for (const placement of ['host', 'device'] as const) {
      const q = new NnQueue(6, 2, new Rng(4), placement);
      const before = q.getState();
      const rows = tf.tensor2d([1, 0, 0, 1], [2, 2]);
      withinStep(() => q.enqueue(rows));
      await settleStepEffects(false);
      t.deepEqual(q.getState(), before, `${placement}: rejected step left the queue as it was`);
      const probe = tf.tensor2d([1, 0.01], [1, 2]);
      const nn = q.lookup(probe);
      t.notDeepEqual(Array.from(await nn.data()), [1, 0], `${placement}: the undone row is not found`);
      withinStep(() => q.enqueue(rows));
      await settleStepEffects(true);
      t.is(q.getState().pointer, 2, `${placement}: applied step advanced the pointer`);
      const nn2 = q.lookup(probe);
      t.deepEqual(Array.from(await nn2.data()), [1, 0], `${placement}: the applied row is the nearest`);
      tf.dispose([rows, probe, nn, nn2]);
      q.dispose();
    }
  },
);
