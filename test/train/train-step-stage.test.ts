// stages/train/train-step-stage.ts: on a device backend the next batch is pulled (and uploaded) while the current
// step's read is pending; the batch order, the number of batches pulled and the tensors' lifetimes are as without it.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { trainStepStage, type StepRecord } from '../../stages/train/train-step-stage.ts';
import type { AssembledBatch } from '../../stages/train/assemble-batch.ts';
import type { StepResult, Trainer } from '../../src/train/trainer.ts';
import type { TrainableModel, TrainBatch } from '../../src/train/contracts.ts';
import { RollbackRequest } from '../../src/train/halt.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

/** A stand-in trainer whose step records, hands over to `whileReading`, then waits for its "read" (a few ms). */
function fakeTrainer(log: string[], rollbackAt = 0) {
  const trainer = {
    step: 0,
    async trainStep(batch: TrainBatch, whileReading?: () => void): Promise<StepResult> {
      const t = trainer.step + 1;
      log.push(`record ${t} on ${batch.images[0]!.shape[0]}`);
      whileReading?.();
      await tick();
      log.push(`read ${t}`);
      const rollback = t === rollbackAt;
      if (!rollback) trainer.step = t;
      return {
        step: t,
        samples: batch.images[0]!.shape[0],
        loss: 1,
        parts: {},
        lr: 0,
        gradNorm: 0,
        logitScales: {},
        verdict: rollback ? { action: 'rollback', reason: 'test' } : { action: 'ok' },
        computeMs: 0,
      } as StepResult;
    },
  };
  return trainer;
}

/** Batches 1..n (batch k has k images, so the log says which one a step trained), logging each pull. */
async function* batches(log: string[], n: number): AsyncGenerator<AssembledBatch> {
  for (let k = 1; k <= n; k++) {
    await tick();
    log.push(`pull ${k}`);
    const batch = {
      images: [tf.zeros([k, 2, 2, 3]) as tf.Tensor4D],
      texts: { raw: tf.zeros([k, 4], 'int32') as tf.Tensor2D },
    };
    yield { batch, size: k, readyAt: performance.now() };
  }
}

async function run(options: { overlap: boolean; lastStep: number; stopAfter?: number; rollbackAt?: number }) {
  const log: string[] = [];
  const trainer = fakeTrainer(log, options.rollbackAt);
  let stop = false;
  const stage = trainStepStage({
    trainer: trainer as unknown as Trainer<TrainableModel>,
    lastStep: options.lastStep,
    stopRequested: () => stop,
    overlap: options.overlap,
  });
  const before = tf.memory().numTensors;
  const records: StepRecord[] = [];
  let error: unknown;
  try {
    for await (const r of stage(batches(log, 10), undefined as never)) {
      records.push(r);
      if (r.step === options.stopAfter) stop = true;
    }
  } catch (e) {
    error = e;
  }
  return { log, steps: records.map((r) => r.step), leaked: tf.memory().numTensors - before, error };
}

test.serial(
  'overlap: the next batch is pulled while the step reads; same batches, none pulled past the last step',
  async (t) => {
    const r = await run({ overlap: true, lastStep: 3 });
    t.deepEqual(r.steps, [1, 2, 3]);
    t.deepEqual(r.log, [
      'pull 1',
      'record 1 on 1',
      'pull 2', // during step 1's read
      'read 1',
      'record 2 on 2',
      'pull 3',
      'read 2',
      'record 3 on 3',
      'read 3', // the last step pulls nothing ahead
    ]);
    t.is(r.leaked, 0);
  },
);

test.serial('without overlap (host backends, data parallel): one batch at a time', async (t) => {
  const r = await run({ overlap: false, lastStep: 3 });
  t.deepEqual(r.steps, [1, 2, 3]);
  t.deepEqual(r.log, [
    'pull 1',
    'record 1 on 1',
    'read 1',
    'pull 2',
    'record 2 on 2',
    'read 2',
    'pull 3',
    'record 3 on 3',
    'read 3',
  ]);
  t.is(r.leaked, 0);
});

test.serial('a stop after a step: the batch pulled ahead is disposed, not trained', async (t) => {
  const r = await run({ overlap: true, lastStep: 8, stopAfter: 2 });
  t.deepEqual(r.steps, [1, 2]);
  t.true(r.log.includes('pull 3'), 'step 2 pulled batch 3 ahead');
  t.false(r.log.some((l) => l.startsWith('record 3')));
  t.is(r.leaked, 0);
});

test.serial('a rollback: the batch pulled ahead is disposed and the request propagates', async (t) => {
  const r = await run({ overlap: true, lastStep: 8, rollbackAt: 2 });
  t.deepEqual(r.steps, [1]);
  t.true(r.error instanceof RollbackRequest);
  t.true(r.log.includes('pull 3'));
  t.is(r.leaked, 0);
});
