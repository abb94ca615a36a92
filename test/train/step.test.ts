import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { computeGradients, sliceBatch } from '../../src/train/grad-cache.ts';
import { readLoss } from '../helpers/gradients.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { NanGuard } from '../../src/train/nan-guard.ts';
import { seedAdamW } from '../../src/train/adamw.ts';
import { batchTensors } from '../../src/train/contracts.ts';
import { createToyModel, toyBatch, toyClipSupervision } from '../helpers/toy-clip.ts';

test.before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

test.serial('gradient cache: micro-batches of 4 give the full-batch contrastive gradient and loss', async (t) => {
  const model = createToyModel(1);
  const sup = toyClipSupervision();
  const batch = toyBatch(2, 16, model);
  const full = await readLoss(computeGradients(model, sup, batch, 0));
  const cached = await readLoss(computeGradients(model, sup, batch, 4));
  t.true(Math.abs(full.loss - cached.loss) < 1e-5, `${full.loss} vs ${cached.loss}`);
  t.deepEqual(Object.keys(cached.grads).sort(), [
    'logit_scale',
    'token_embedding.weight',
    'visual.bias',
    'visual.proj',
  ]);
  for (const [name, g] of Object.entries(full.grads)) {
    const a = g.dataSync();
    const b = cached.grads[name].dataSync();
    let worst = 0;
    let scale = 0;
    a.forEach((x, i) => {
      worst = Math.max(worst, Math.abs(x - b[i]));
      scale = Math.max(scale, Math.abs(x));
    });
    t.true(scale > 0, `${name} gradient is not trivially zero`);
    t.true(worst <= 1e-5 * Math.max(1, scale), `${name}: max diff ${worst} (scale ${scale})`);
  }
  // and summing per-micro-batch losses (naive accumulation) would NOT match: the check has teeth
  const naive = tf.tidy(() => {
    let acc: tf.Tensor | null = null;
    for (let j = 0; j < 4; j++) {
      const { grads } = tf.variableGrads(
        () => sup.loss(sup.features(model, sliceBatch(batch, 4 * j, 4), { training: true }), model).total,
        [model.store.get('visual.proj')],
      );
      const g = Object.values(grads)[0]!;
      acc = acc ? tf.add(acc, tf.div(g, 4)) : tf.div(g, 4);
    }
    return acc!.dataSync();
  });
  const ref = full.grads['visual.proj'].dataSync();
  t.true(
    naive.some((x, i) => Math.abs(x - ref[i]) > 1e-3),
    'naive accumulation differs from the full-batch gradient',
  );
  for (const r of [full, cached]) {
    Object.values(r.grads).forEach((g) => g.dispose());
    Object.values(r.features).forEach((f) => f.dispose());
  }
  batchTensors(batch).forEach((x) => x.dispose());
  model.store.dispose();
});

test.serial('trainer: loss decreases, tensors do not leak, schedule and clamps applied', async (t) => {
  const model = createToyModel(3);
  const sup = toyClipSupervision();
  const trainer = new Trainer(model, sup, {
    schedule: { baseLr: 1e-3, peakLr: 1e-2, warmupSteps: 3, totalSteps: 40, minLr: 0 },
    adamw: seedAdamW(0.1),
    microBatchSize: 4,
    nanPolicy: 'stop',
  });
  const batch = toyBatch(4, 8, model);
  const before = tf.memory().numTensors;
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const r = await trainer.trainStep(batch);
    t.is(r.verdict.action, 'ok');
    losses.push(r.loss);
    if (i === 0) t.is(r.lr, 1e-3);
    if (i === 2) t.is(r.lr, 1e-2);
    t.is(tf.memory().numTensors, before, `tensor count flat at step ${r.step}`);
  }
  t.is(trainer.step, 30);
  t.is(sup.afterSteps, 30);
  t.true(losses[29] < losses[0] * 0.7, `loss ${losses[0]} -> ${losses[29]}`);
  trainer.dispose();
  batchTensors(batch).forEach((x) => x.dispose());
  model.store.dispose();
});

test.serial('a NaN loss is caught before the update, naming the step', async (t) => {
  const model = createToyModel(5);
  const sup = toyClipSupervision();
  const trainer = new Trainer(model, sup, {
    schedule: { baseLr: 1e-3, peakLr: 1e-3, warmupSteps: 0, totalSteps: 10, minLr: 0 },
    adamw: seedAdamW(0.1),
    microBatchSize: 0,
    nanPolicy: 'stop',
  });
  const good = toyBatch(6, 4, model);
  await trainer.trainStep(good);
  const weights = Array.from(model.store.get('visual.proj').dataSync());
  const bad = { images: [tf.fill([4, 4, 4, 3], NaN) as tf.Tensor4D], texts: good.texts };
  const r = await trainer.trainStep(bad);
  t.deepEqual(r.verdict, { action: 'stop', reason: 'non-finite loss (NaN) at step 2' });
  t.is(trainer.step, 1, 'the step is not counted');
  t.deepEqual(Array.from(model.store.get('visual.proj').dataSync()), weights, 'weights untouched');
  trainer.dispose();
  batchTensors(good).forEach((x) => x.dispose());
  bad.images[0].dispose();
  model.store.dispose();
});

test('divergence: a jump of more than 10 above the running mean is flagged (DeCLIP solver rule)', (t) => {
  const g = new NanGuard({ policy: 'rollback', minHistory: 3 });
  for (let i = 1; i <= 5; i++) t.is(g.check(i, 5 + i * 0.01, 1).action, 'ok');
  const v = g.check(6, 17, 1);
  t.is(v.action, 'rollback');
  t.regex((v as { reason: string }).reason, /jumped more than 10 above its running mean 5\.03\d* at step 6/);
  t.is(g.check(7, Infinity, 1).action, 'rollback');
  t.is(g.check(8, 5, NaN).action, 'rollback');
});
