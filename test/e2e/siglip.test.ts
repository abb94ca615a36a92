// SigLIP through a real pipeline: `--supervision.name siglip` on a YFCC-15M pipeline trains the tiny model on the demo
// shards, with the sigmoid loss as its one part, open_clip's temperature init and clamp, and the learnable bias saved
// in the checkpoint under its open_clip name.
import test from 'ava';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPipeline, tinyArgs } from '../helpers/run-pipeline-child.ts';
import { readSafetensors } from '../../src/weights/safetensors.ts';

test('siglip trains the tiny model: loss falls, scale from 10 within [1, 100], logit_bias checkpointed', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'pipe-siglip-'));
  const run = await startPipeline(
    'pipelines/clip-yfcc15m.ts',
    tinyArgs('clip', out, ['--supervision.name', 'siglip', '--steps', '6', '--checkpoint.every', '6']),
  );
  t.is(run.code, 0, run.stderr);
  const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(lines.find((l) => l.type === 'run').supervision, 'siglip');
  const steps = lines.filter((l) => l.type === 'step');
  t.deepEqual(
    steps.map((s) => s.step),
    [1, 2, 3, 4, 5, 6],
  );
  for (const s of steps) {
    t.deepEqual(Object.keys(s.parts), ['siglip']);
    t.is(s.loss, s.parts.siglip);
    const scale = s.logitScales.logit_scale as number;
    t.true(scale >= 1 && scale <= 100, `step ${s.step}: scale ${scale} within [exp 0, exp ln 100]`);
  }
  t.true(Math.abs(steps[0].logitScales.logit_scale - 10) < 0.01, 'temperature starts at exp(ln 10)');
  t.true(steps[5].loss < steps[0].loss, `loss ${steps[0].loss} -> ${steps[5].loss}`);

  const [dir] = await readdir(join(out, 'checkpoints'));
  const weights = await readSafetensors(join(out, 'checkpoints', dir, 'model.safetensors'));
  const bias = weights.tensors.get('logit_bias');
  t.truthy(bias, 'logit_bias in model.safetensors');
  const value = new Float32Array(bias!.bytes.slice().buffer)[0];
  t.true(value > -10 && value < -9, `logit_bias moved from its init -10 by a few small steps: ${value}`);
  await rm(out, { recursive: true, force: true });
});
