// The demo pipeline (DeFILIP on the procedurally drawn fixtures: data stages, NN queue, FILIP top-k, MLM, checkpoint,
// zero-shot evaluation) trains on webgpu with the losses and accuracy of the same run on wasm. A few steps at a small
// batch: the software adapter is slow.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shutdownBackend } from '../../src/backend.ts';
import { validateDeclaration } from '../../run/validate.ts';
import { runPipeline } from '../../run/runner.ts';
import { demoDeclaration } from '../../run/recipes/demo.ts';
import { zeroShotEvaluation } from '../../run/zero-shot-hook.ts';
import { gpuTestFor, webgpuUnavailable } from '../helpers/webgpu.ts';

const gpuTest = gpuTestFor(await webgpuUnavailable());
test.after.always(() => shutdownBackend());

const fixture = (name: string) => new URL(`../../fixtures/demo/${name}`, import.meta.url).pathname;

async function demo(backend: 'wasm' | 'webgpu', out: string) {
  const d = validateDeclaration({
    ...demoDeclaration,
    name: `demo-${backend}`,
    optim: { ...demoDeclaration.optim, batchSize: 16, steps: 3, warmupSteps: 1, totalSteps: 3 },
    eval: {
      every: 0,
      atEnd: true,
      evaluate: zeroShotEvaluation({
        shards: fixture('heldout-000000.tar'),
        prompts: fixture('zero-shot.json'),
        dataset: 'demo-color',
        batchSize: 100,
      }),
    },
    checkpoint: { every: 3, keep: 1 },
    logging: { out: join(out, backend), progress: 'none' },
    backend: { name: backend, threads: 1 },
  });
  return runPipeline(d, { log: () => {} });
}

gpuTest('the demo trains on webgpu: same losses and zero-shot accuracy as wasm, checkpoint written', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'gpu-demo-'));
  try {
    const wasm = await demo('wasm', out);
    const gpu = await demo('webgpu', out);
    t.regex(gpu.backend, /^webgpu/);
    t.is(gpu.lastStep, 3);
    t.truthy(gpu.checkpoint, 'a checkpoint was written from the GPU');
    t.true(
      Math.abs(gpu.lastLoss - wasm.lastLoss) <= 1e-3 * Math.abs(wasm.lastLoss),
      `loss after 3 steps: webgpu ${gpu.lastLoss}, wasm ${wasm.lastLoss}`,
    );
    for (const [k, v] of Object.entries(wasm.lastParts))
      t.true(Math.abs(gpu.lastParts[k]! - v) <= 1e-3 * Math.max(1, Math.abs(v)), `${k}: ${gpu.lastParts[k]} vs ${v}`);
    const acc = (s: typeof wasm) => s.evals.at(-1)!.results['demo-color/acc1'];
    t.is(acc(gpu), acc(wasm));
    t.log(`loss ${gpu.lastLoss.toFixed(4)} (wasm ${wasm.lastLoss.toFixed(4)}), zero-shot top-1 ${acc(gpu)}`);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
