// Benchmark: data-parallel training over MPI on this machine (2 cores, loopback).
//   (1) the scaling 1 -> 2 ranks of a tiny-model training step (tiny CLIP and tiny DeCLIP, global batch 64): one process
//       with 2 wasm threads and the whole batch vs `mpirun -np 2` with 1 thread per rank and 32 samples each (and one
//       process with 1 thread, for reference) — samples/s and ms per step;
//   (2) the communication time per step inside the 2-rank step: feature all-gather, gradient all-reduce (bucketed),
//       BN-buffer sync, with the bytes moved;
//   (3) the collectives alone (all-reduce of 1/16/64 MiB, all-gather), next to PyTorch's torch.distributed (gloo) doing
//       the same on this machine (reference/distributed_bench.py), from which docs/distributed.md extrapolates to a cluster.
//
// Usage: node bench/distributed.ts [--steps 8] [--batch 64] [--no-torch]
//        (internal: --worker --threads N, run under mpirun or alone)
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { initBackend, shutdownBackend } from '../src/backend.ts';
import { getCollective, type Collective } from '../src/distributed/collective.ts';
import { createDataParallel, broadcastParameters, type CommTimes } from '../src/distributed/data-parallel.ts';
import { syntheticBatch } from '../fixtures/synthetic-batch.ts';
import { buildClipConfig } from '../src/models/presets.ts';
import { createClip, type ClipModel } from '../src/models/clip.ts';
import { ParamStore } from '../src/nn/params.ts';
import { Rng } from '../src/rng.ts';
import { createSupervision } from '../src/supervision/index.ts';
import type { SupervisionName } from '../src/supervision/index.ts';
import { Trainer } from '../src/train/trainer.ts';
import { seedAdamW } from '../src/train/adamw.ts';
import { batchTensors } from '../src/train/contracts.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : def;
};
const steps = Number(opt('--steps', '8'));
const globalBatch = Number(opt('--batch', '64'));
const root = fileURLToPath(new URL('..', import.meta.url));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

interface StepReport {
  name: string;
  ranks: number;
  threads: number;
  localBatch: number;
  msPerStep: number;
  samplesPerSec: number;
  comm?: CommTimes & { totalMs: number };
}
interface CollectiveReport {
  op: string;
  bytes: number;
  ms: number;
  best: number;
  gbPerSec: number;
}

async function worker(): Promise<void> {
  const threads = Number(opt('--threads', '1'));
  const world: Collective = getCollective();
  await initBackend({ backend: 'wasm', threads, quiet: true });
  const local = globalBatch / world.size;
  const config = buildClipConfig('tiny', { text: { contextLength: 77 } });
  const out: { steps: StepReport[]; collectives: CollectiveReport[] } = { steps: [], collectives: [] };
  for (const name of ['clip', 'declip'] as SupervisionName[]) {
    const sup = createSupervision(
      name,
      name === 'declip'
        ? { projectorHidden: 256, projectorOut: 256, predictorHidden: 128, queueSize: 4096, headGhostSize: local }
        : {},
    );
    const model = createClip(config, new ParamStore(), new Rng(1));
    sup.addHeads(model, new Rng(2));
    const dp = world.size > 1 ? createDataParallel(world, { separateWait: true }) : undefined;
    if (dp) broadcastParameters(world, model.store);
    const trainer = new Trainer<ClipModel>(model, sup, {
      schedule: { baseLr: 1e-4, peakLr: 1e-4, warmupSteps: 0, totalSteps: 1000, minLr: 1e-4 },
      adamw: seedAdamW(0.1),
      microBatchSize: 0,
      nanPolicy: 'stop',
      computeGradients: dp?.computeGradients,
    });
    const spec = {
      size: globalBatch,
      imageViews: sup.imageViews.length,
      imageSize: config.vision.imageSize,
      contextLength: 77,
      vocabSize: config.text.vocabSize,
    };
    const wall: number[] = [];
    const comms: CommTimes[] = [];
    for (let s = 0; s < steps + 2; s++) {
      const batch = syntheticBatch(3, s, spec, world.rank * local, local);
      world.barrier();
      const t0 = performance.now();
      trainer.trainStep(batch);
      world.barrier();
      const ms = performance.now() - t0;
      for (const x of batchTensors(batch)) x.dispose();
      if (s >= 2) {
        wall.push(ms);
        if (dp) comms.push({ ...dp.lastComm });
      }
    }
    const ms = median(wall);
    const report: StepReport = {
      name,
      ranks: world.size,
      threads,
      localBatch: local,
      msPerStep: ms,
      samplesPerSec: (globalBatch * 1000) / ms,
    };
    if (dp) {
      const pick = (k: keyof CommTimes) => median(comms.map((c) => c[k]));
      const c = {
        waitMs: pick('waitMs'),
        gatherMs: pick('gatherMs'),
        allreduceMs: pick('allreduceMs'),
        buffersMs: pick('buffersMs'),
        bytesGathered: pick('bytesGathered'),
        bytesReduced: pick('bytesReduced'),
        buckets: pick('buckets'),
      };
      report.comm = { ...c, totalMs: c.gatherMs + c.allreduceMs + c.buffersMs };
    }
    out.steps.push(report);
    trainer.dispose();
    sup.dispose();
    model.dispose();
  }
  if (world.size > 1) {
    for (const mib of [1, 16, 64]) {
      const data = new Float32Array((mib * 1024 * 1024) / 4).fill(world.rank + 1);
      const times: number[] = [];
      for (let i = 0; i < 11; i++) {
        world.barrier();
        const t0 = performance.now();
        world.allreduceSum(data);
        times.push(performance.now() - t0);
      }
      const ms = median(times.slice(1));
      out.collectives.push({
        op: `allreduce ${mib} MiB`,
        bytes: data.byteLength,
        ms,
        best: Math.min(...times.slice(1)),
        gbPerSec: data.byteLength / ms / 1e6,
      });
    }
    // the features of one ViT-B/32 CLIP rank at the seed's local batch: 128 x (512 image + 512 text) float32
    const feats = new Float32Array(128 * 1024).fill(1);
    const times: number[] = [];
    for (let i = 0; i < 11; i++) {
      world.barrier();
      const t0 = performance.now();
      world.allgather(feats);
      times.push(performance.now() - t0);
    }
    const ms = median(times.slice(1));
    out.collectives.push({
      op: 'allgather 128x1024 f32 per rank',
      bytes: feats.byteLength * world.size,
      ms,
      best: Math.min(...times.slice(1)),
      gbPerSec: (feats.byteLength * world.size) / ms / 1e6,
    });
  }
  if (world.rank === 0) console.log(JSON.stringify(out));
  shutdownBackend();
  world.finalize();
  process.exit(0);
}

function launch(np: number, threads: number): { steps: StepReport[]; collectives: CollectiveReport[] } {
  const env = {
    ...process.env,
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    OMPI_MCA_rmaps_base_oversubscribe: '1',
  };
  const workerArgs = [
    process.argv[1]!,
    '--worker',
    '--threads',
    String(threads),
    '--steps',
    String(steps),
    '--batch',
    String(globalBatch),
  ];
  const r =
    np === 1
      ? spawnSync(process.execPath, workerArgs, { cwd: root, env, encoding: 'utf8', timeout: 600_000 })
      : spawnSync('mpirun', ['-np', String(np), '--bind-to', 'core', process.execPath, ...workerArgs], {
          cwd: root,
          env,
          encoding: 'utf8',
          timeout: 600_000,
        });
  if (r.status !== 0)
    throw new Error(
      `${np} rank(s) x ${threads} thread(s) failed (${r.status}): ${r.stderr.split('\n').slice(-5).join(' | ')}`,
    );
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

async function orchestrate(): Promise<void> {
  const mpi = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  if (mpi.status !== 0) {
    console.error('bench/distributed: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)');
    process.exit(1);
  }
  console.log(
    `# data-parallel step, tiny models, global batch ${globalBatch}, median of ${steps} steps (wasm backend; ${mpi.stdout.split('\n')[0]})`,
  );
  const load0 = os.loadavg()[0];
  const runs = [launch(1, 1), launch(1, 2), launch(2, 1)];
  for (const name of ['clip', 'declip']) {
    console.log(`\n${name}:`);
    const base = runs[1]!.steps.find((s) => s.name === name)!;
    for (const r of runs) {
      const s = r.steps.find((x) => x.name === name)!;
      const c = s.comm
        ? `  comm ${s.comm.totalMs.toFixed(1)} ms/step (waiting for the slower rank ${s.comm.waitMs.toFixed(1)} ms not included; all-gather ${s.comm.gatherMs.toFixed(1)} ms of ${(s.comm.bytesGathered / 1024).toFixed(0)} KiB, all-reduce ${s.comm.allreduceMs.toFixed(1)} ms of ${(s.comm.bytesReduced / 1048576).toFixed(1)} MiB in ${s.comm.buckets} bucket(s), BN buffers ${s.comm.buffersMs.toFixed(1)} ms) = ${((100 * s.comm.totalMs) / s.msPerStep).toFixed(0)}% of the step`
        : '';
      console.log(
        `  ${s.ranks} rank(s) x ${s.threads} thread(s), ${String(s.localBatch).padStart(3)}/rank: ${s.msPerStep.toFixed(1).padStart(7)} ms/step ${s.samplesPerSec.toFixed(1).padStart(7)} samples/s  (x${(s.samplesPerSec / base.samplesPerSec).toFixed(2)} vs 1 rank x 2 threads)${c}`,
      );
    }
  }
  console.log(
    `\n(load average ${load0.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after, on ${os.availableParallelism()} cores: other work on the machine skews every number)`,
  );
  const collectives = runs[2]!.collectives;
  let torch: Record<string, { median: number; best: number }> | null = null;
  if (!args.includes('--no-torch')) {
    const py = spawnSync('/usr/bin/python3', ['reference/distributed_bench.py', '--json'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (py.status === 0) torch = JSON.parse(py.stdout.trim().split('\n').at(-1)!);
    else console.log(`\n(PyTorch reference skipped: ${py.stderr.trim().split('\n').at(-1)})`);
  }
  console.log('\ncollectives, 2 ranks on loopback (MPI addon vs torch.distributed gloo, same sizes):');
  for (const c of collectives) {
    const t = torch?.[c.op];
    console.log(
      `  ${c.op.padEnd(34)} MPI median ${c.ms.toFixed(2).padStart(8)} ms, best ${c.best.toFixed(2).padStart(7)} ms (${(c.bytes / c.best / 1e6).toFixed(2)} GB/s)` +
        (t !== undefined
          ? `   gloo median ${t.median.toFixed(2).padStart(8)} ms, best ${t.best.toFixed(2).padStart(7)} ms   ratio MPI/gloo median ${(c.ms / t.median).toFixed(2)}, best ${(c.best / t.best).toFixed(2)}`
          : ''),
    );
  }
}

if (args.includes('--worker')) await worker();
else await orchestrate();
