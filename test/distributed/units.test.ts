// Data-parallel pieces that need no MPI launcher: the single-process fallback, option and env checks, per-rank data
// cursors in checkpoints, and the step agreement between ranks (with a scripted stand-in for the other rank).
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { getCollective, type Collective } from '../../src/distributed/collective.ts';
import { createDataParallel, parseInjectedFault } from '../../src/distributed/data-parallel.ts';
import { cursorForRank, gatherCursors } from '../../src/distributed/rank-cursors.ts';
import { agreeOnSteps } from '../../stages/train/agree-on-steps.ts';
import { createContext } from '../../stages/core/stage.ts';
import { computeGradients } from '../../src/train/grad-cache.ts';
import { batchTensors } from '../../src/train/contracts.ts';
import { createToyModel, toyBatch, toyClipSupervision } from '../helpers/toy-clip.ts';

test.before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

test.serial('outside a launcher the data-parallel step is the ordinary one (same loss and gradients)', async (t) => {
  const dp = createDataParallel(getCollective());
  const model = createToyModel(2);
  const sup = toyClipSupervision();
  const batch = toyBatch(3, 8, model);
  const a = await computeGradients(model, sup, batch, 4);
  const b = await dp.computeGradients(model, sup, batch, 4);
  t.is(a.loss.dataSync()[0], b.loss.dataSync()[0]);
  t.deepEqual(Object.keys(a.grads).sort(), Object.keys(b.grads).sort());
  for (const k of Object.keys(a.grads))
    t.deepEqual(Array.from(a.grads[k].dataSync()), Array.from(b.grads[k].dataSync()));
  for (const r of [a, b]) {
    Object.values(r.grads).forEach((g) => g.dispose());
    Object.values(r.features).forEach((f) => f.dispose());
    tf.dispose([r.loss, ...Object.values(r.parts)]);
  }
  batchTensors(batch).forEach((x) => x.dispose());
  model.store.dispose();
});

test('options and the fault-injection variable are checked with one-line errors', (t) => {
  const world = getCollective();
  t.throws(() => createDataParallel(world, { nnQueue: 'local' as never }), {
    message: `data parallel: nnQueue must be 'global' or 'per-rank', got "local"`,
  });
  t.throws(() => createDataParallel(world, { buffers: 'sync' as never }), {
    message: `data parallel: buffers must be 'mean' or 'rank0', got "sync"`,
  });
  t.throws(() => createDataParallel(world, { bucketBytes: 0 }), { message: /bucketBytes must be an integer >= 4/ });
  t.deepEqual(parseInjectedFault('1@5'), { rank: 1, step: 5 });
  t.is(parseInjectedFault(undefined), null);
  t.throws(() => parseInjectedFault('rank1'), { message: /CLIP_BENCH_INJECT_FAULT must look like RANK@STEP/ });
});

test('per-rank data cursors: each rank resumes at its own position; a different world size is refused', (t) => {
  const data = {
    epoch: 0,
    samplesConsumed: 12,
    shards: ['a'],
    seed: 1,
    ranks: [
      { epoch: 0, samplesConsumed: 12 },
      { epoch: 1, samplesConsumed: 3, shard: 1 },
    ],
  };
  t.like(cursorForRank(data, 1, 2, 'ck'), { epoch: 1, samplesConsumed: 3, shard: 1, shards: ['a'], seed: 1 });
  t.false('ranks' in cursorForRank(data, 0, 2, 'ck'));
  t.throws(() => cursorForRank(data, 0, 4, 'ck'), {
    message: 'checkpoint.resume: ck was written by 2 ranks, this job has 4 (launch with mpirun -np 2)',
  });
  t.throws(() => cursorForRank({ epoch: 0, samplesConsumed: 5 }, 0, 2, 'ck'), {
    message: /written by a single-process run/,
  });
  t.deepEqual(cursorForRank({ epoch: 0, samplesConsumed: 5 }, 0, 1, 'ck'), { epoch: 0, samplesConsumed: 5 });
  t.deepEqual(gatherCursors(getCollective(), { epoch: 2, samplesConsumed: 7, shard: 3 }), [
    { epoch: 2, samplesConsumed: 7, shard: 3 },
  ]);
});

/** Rank 0 of a 2-rank job whose other rank has `otherBatches` batches and asks to stop before batch `otherStopsAt`. */
function scriptedWorld(otherBatches: number, otherStopsAt = Infinity): Collective {
  let round = 0;
  const single = getCollective();
  return {
    ...single,
    rank: 0,
    size: 2,
    kind: 'mpi',
    allreduceSum<T extends Float32Array | Float64Array | Int32Array | Uint8Array>(data: T): T {
      round++;
      data[0] += round <= otherBatches ? 1 : 0;
      data[1] += round >= otherStopsAt ? 1 : 0;
      return data;
    },
  } as Collective;
}

async function agreed(
  world: Collective,
  mine: number,
  stopMine = () => false,
): Promise<{ got: number[]; why?: string }> {
  let why: string | undefined;
  const stage = agreeOnSteps<number>({
    world,
    stopRequested: stopMine,
    onStop: (w) => {
      why = w;
    },
  });
  const got: number[] = [];
  for await (const x of stage(
    (async function* () {
      for (let i = 0; i < mine; i++) yield i;
    })(),
    createContext(),
  ))
    got.push(x);
  return { got, why };
}

test('ranks agree on every step: the job stops when any rank runs out of data or asks to stop', async (t) => {
  t.deepEqual(await agreed(scriptedWorld(10), 3), { got: [0, 1, 2], why: 'data' }, 'this rank runs out first');
  t.deepEqual(
    await agreed(scriptedWorld(2), 5),
    { got: [0, 1], why: 'data' },
    'the other rank runs out first: its batches are dropped here too',
  );
  t.deepEqual(
    await agreed(scriptedWorld(10, 4), 8),
    { got: [0, 1, 2], why: 'stop' },
    'a stop request on the other rank',
  );
  let n = 0;
  t.deepEqual(await agreed(scriptedWorld(10), 8, () => ++n > 2), { got: [0, 1], why: 'stop' }, 'a stop request here');
});
