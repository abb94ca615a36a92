import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { ParamStore } from '../../src/nn/params.ts';
import {
  saveCheckpoint,
  loadCheckpoint,
  listCheckpoints,
  latestCheckpoint,
  applyWeights,
  CheckpointCorruptError,
  type SaveInput,
} from '../../src/train/checkpoint-format.ts';
import { parseSafetensors, toFloat32 } from '../../src/weights/safetensors.ts';
import { readFile } from 'node:fs/promises';
import { testRecord } from '../helpers/model-record.ts';

test.before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const nodeBin = new URL('../../node_modules/.bin/node', import.meta.url).pathname;

function stateFor(step: number, extra: Partial<SaveInput['state']> = {}): SaveInput['state'] {
  return {
    pipeline: 't',
    step,
    lrScale: 0.997,
    rollbacks: 1,
    optimizer: { step, config: { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.1 } },
    schedule: { baseLr: 1e-4, peakLr: 1e-3, warmupSteps: 2500, totalSteps: 128001, minLr: 0 },
    rng: [11, 22, 33, 44],
    supervision: { queue: new Float32Array([1.5, -0, NaN, 1e-45]), ptr: 7 },
    guard: [5.1, 5.2],
    data: { epoch: 2, samplesConsumed: 123, shards: ['a.tar', 'b.tar'], seed: 9 },
    samplesSeen: 999,
    elapsedMs: 12.5,
    model: { preset: 'tiny', supervision: 'declip' },
    ...extra,
  };
}

test.serial(
  'round trip is bit-exact; weights are a PyTorch-layout safetensors state dict with OpenAI names',
  async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const store = new ParamStore();
    store.add(
      'visual.conv1.weight',
      tf.tensor4d(
        Float32Array.from({ length: 2 * 2 * 3 * 4 }, (_, i) => i + 0.25),
        [2, 2, 3, 4],
      ),
      { kind: 'weight', torchLayout: 'conv', trainable: false },
    );
    store.add(
      'text_projection',
      tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      { kind: 'weight', torchLayout: 'none' },
    );
    store.add(
      'visual.proj.weight',
      tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      { kind: 'weight', torchLayout: 'linear' },
    );
    store.add('bn.running_mean', tf.tensor1d([0.5, -0.5]), { kind: 'buffer' });
    const m = {
      text_projection: new Float32Array([1, 2, 3, 4, 5, 6]),
      'visual.proj.weight': new Float32Array([6, 5, 4, 3, 2, 1]),
    };
    const v = { text_projection: new Float32Array(6).fill(1e-8), 'visual.proj.weight': new Float32Array(6).fill(2e-8) };
    const dir = await saveCheckpoint(
      root,
      { store, record: testRecord(), moments: { step: 7, m, v }, state: stateFor(7) },
      3,
    );
    t.is(dir, join(root, 'step-000000007'));
    t.deepEqual((await readdir(dir)).sort(), [
      'checksums.json',
      'model.safetensors',
      'optimizer.safetensors',
      'state.msgpack',
    ]);

    const file = parseSafetensors(await readFile(join(dir, 'model.safetensors')));
    const w = (name: string) => file.tensors.get(name)!;
    t.deepEqual(w('visual.proj.weight').shape, [3, 2], 'linear weights in PyTorch [out, in]');
    t.deepEqual(Array.from(toFloat32(w('visual.proj.weight'))), [1, 4, 2, 5, 3, 6]);
    t.deepEqual(w('visual.conv1.weight').shape, [4, 3, 2, 2], 'conv weights OIHW');
    t.is(toFloat32(w('visual.conv1.weight'))[1], 12.25, 'OIHW[0,0,0,1] = HWIO[0,1,0,0] = element (1*3)*4');
    t.deepEqual(Array.from(toFloat32(w('bn.running_mean'))), [0.5, -0.5], 'BN statistics are in the weights');

    const loaded = await loadCheckpoint(dir);
    const rec = store.toRecord();
    const fresh = new ParamStore();
    for (const e of store.entries())
      fresh.add(e.name, tf.zerosLike(e.variable), {
        kind: e.meta.kind,
        torchLayout: e.meta.torchLayout,
        trainable: e.meta.trainable,
      });
    // the record travels in model.safetensors; a model with other heads (same shapes) is refused
    t.deepEqual(loaded.record, testRecord());
    const otherHeads = { ...testRecord().config, text: { ...testRecord().config.text, heads: 4 } };
    t.throws(() => applyWeights({ store: fresh, config: otherHeads }, loaded), {
      message:
        /step-000000007 holds a different model \(.*text 2 layers x 64 wide, 2 heads.*\) than this run builds \(.*4 heads/,
    });
    applyWeights({ store: fresh, config: testRecord().config }, loaded);
    const back = fresh.toRecord();
    for (const [k, r] of Object.entries(rec)) {
      t.deepEqual(back[k].shape, r.shape);
      t.deepEqual(Array.from(back[k].data), Array.from(r.data), `${k} bit-exact`);
    }
    fresh.dispose();
    t.deepEqual(loaded.moments, { step: 7, m, v });
    t.is(loaded.state.step, 7);
    t.deepEqual(loaded.state.rng, [11, 22, 33, 44]);
    const q = loaded.state.supervision.queue as Float32Array;
    t.true(q instanceof Float32Array, 'typed arrays survive msgpack (moreTypes)');
    t.deepEqual(
      new Uint8Array(q.buffer, q.byteOffset, 16),
      new Uint8Array(new Float32Array([1.5, -0, NaN, 1e-45]).buffer),
    );
    t.deepEqual(loaded.state.data, { epoch: 2, samplesConsumed: 123, shards: ['a.tar', 'b.tar'], seed: 9 });
    store.dispose();
    await rm(root, { recursive: true, force: true });
  },
);

test.serial('keeps the last K and resolves latest; junk and temp directories are ignored', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'ckpt-'));
  const store = new ParamStore();
  store.add('w', tf.tensor1d([1, 2]), { kind: 'weight' });
  for (const step of [1, 2, 3, 4, 5])
    await saveCheckpoint(
      root,
      {
        store,
        record: testRecord(),
        moments: { step, m: { w: new Float32Array(2) }, v: { w: new Float32Array(2) } },
        state: stateFor(step),
      },
      2,
    );
  t.deepEqual(
    (await listCheckpoints(root)).map((c) => c.step),
    [4, 5],
  );
  await mkdir(join(root, '.tmp-step-000000006-1-2'));
  await writeFile(join(root, 'notes.txt'), 'x');
  t.is(await latestCheckpoint(root), join(root, 'step-000000005'));
  // re-saving an existing step replaces it (after a rollback)
  await saveCheckpoint(
    root,
    {
      store,
      record: testRecord(),
      moments: { step: 5, m: { w: new Float32Array(2) }, v: { w: new Float32Array(2) } },
      state: stateFor(5, { lrScale: 0.5 }),
    },
    2,
  );
  t.is((await loadCheckpoint(join(root, 'step-000000005'))).state.lrScale, 0.5);
  t.false(
    (await readdir(root)).some((n) => n.startsWith('.tmp-') || n.startsWith('.old-')),
    'stale temp dirs removed',
  );
  await t.throwsAsync(loadCheckpoint(join(root, 'nope')), { message: /not a checkpoint directory/ });
  store.dispose();
  await rm(root, { recursive: true, force: true });
});

test.serial('msgpackr defaults would corrupt typed arrays (why moreTypes is used)', (t) => {
  const f = new Float32Array([1, 2, 3, 4]);
  const plain = new Packr().unpack(new Packr().pack({ f })) as { f: unknown };
  t.false(plain.f instanceof Float32Array);
  const good = new Packr({ moreTypes: true });
  t.deepEqual(good.unpack(good.pack({ f })), { f });
});

test.serial(
  'a checkpoint is never half-written: SIGKILL during saves leaves only complete, loadable checkpoints',
  async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'ckpt-kill-'));
    for (const delayMs of [350, 700]) {
      const child = spawn(nodeBin, [new URL('../helpers/checkpoint-writer-child.ts', import.meta.url).pathname, root], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let saved = 0;
      child.stdout.on('data', (d: Buffer) => {
        saved += (d.toString().match(/saved/g) ?? []).length;
      });
      await new Promise<void>((resolve) => {
        const start = () =>
          setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, delayMs);
        child.stdout.once('data', start);
      });
      await new Promise((r) => child.once('exit', r));
      t.true(saved >= 1);
      const all = await listCheckpoints(root);
      // keep = 3; a kill between publishing a new checkpoint and pruning the oldest leaves one extra (pruned on the
      // next save)
      t.true(all.length >= 1 && all.length <= 4, `${all.length} checkpoints`);
      for (const c of all) {
        const ck = await loadCheckpoint(c.dir);
        t.is(ck.state.step, c.step);
        t.true(
          toFloat32(ck.weights.get('w')!).every((x) => x === c.step),
          `weights of step ${c.step} complete`,
        );
        t.true(
          ck.moments.v.w.every((x) => x === Math.fround(c.step / 100)),
          `moments of step ${c.step} complete`,
        );
      }
    }
    await rm(root, { recursive: true, force: true });
  },
);

test.serial('a corrupt or cut-short checkpoint file is an error naming the file (checksums)', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'ckpt-'));
  const store = new ParamStore();
  store.add('w', tf.tensor1d([1, 2]), { kind: 'weight' });
  const moments = { step: 1, m: { w: new Float32Array(2) }, v: { w: new Float32Array(2) } };
  const dir = await saveCheckpoint(root, { store, record: testRecord(), moments, state: stateFor(1) }, 3);
  const state = join(dir, 'state.msgpack');
  const bytes = await readFile(state);
  // one flipped byte that msgpack still decodes: only the checksum can tell
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 1] ^= 1;
  await writeFile(state, flipped);
  const err = await t.throwsAsync(loadCheckpoint(dir), { instanceOf: CheckpointCorruptError });
  t.is(err!.file, state);
  t.regex(
    err!.message,
    /^checkpoint file .*step-000000001\/state\.msgpack: corrupt \(its sha256 differs from checksums\.json/,
  );
  await writeFile(state, bytes.subarray(0, 10));
  await t.throwsAsync(loadCheckpoint(dir), { message: /state\.msgpack: corrupt/ });
  await rm(join(dir, 'model.safetensors'));
  await writeFile(state, bytes);
  await t.throwsAsync(loadCheckpoint(dir), { message: /model\.safetensors: missing$/ });
  // without checksums (an older checkpoint) an undecodable state still names its file
  await rm(join(dir, 'checksums.json'));
  await writeFile(state, Buffer.from([0xc1, 0xc1, 0xc1]));
  await t.throwsAsync(loadCheckpoint(dir), { message: /state\.msgpack: cannot be decoded/ });
  store.dispose();
  await rm(root, { recursive: true, force: true });
});
