// The command-line entry point every runnable pipeline uses: validate the declaration, apply flags, run, print a
// summary; any expected failure (bad declaration or flag, no data, a halted run) is ONE line on stderr and a
// non-zero exit code. The wasm backend's threads are shut down so the process exits.
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shutdownBackend } from '../src/backend.ts';
import { validateDeclaration, DeclarationError } from './validate.ts';
import { parseArgs, applyOverrides, usage } from './cli.ts';
import { runPipeline, MissingDataError, type RunSummary } from './runner.ts';
import { TrainingHalt } from '../src/train/halt.ts';
import type { PipelineDeclaration, DeepPartial } from './declaration.ts';
import { getCollective, underMpiLauncher } from '../src/distributed/collective.ts';

/** Exit codes: 0 done, 1 run failed, 2 bad declaration/flags, 3 no data. */
export async function main(
  declaration: DeepPartial<PipelineDeclaration>,
  scriptUrl: string,
  after?: (summary: RunSummary, d: PipelineDeclaration) => Promise<void>,
): Promise<never> {
  const script = relative(process.cwd(), fileURLToPath(scriptUrl));
  let code = 0;
  try {
    const base = validateDeclaration(declaration);
    const args = parseArgs(process.argv.slice(2));
    if (args.help) {
      process.stdout.write(usage(script, base));
    } else {
      const d = applyOverrides(base, args.overrides);
      const s = await runPipeline(d, { installSignalHandlers: true });
      const parts = Object.entries(s.lastParts)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join(', ');
      process.stderr.write(
        `[${d.name}] ${s.stoppedBy === 'signal' ? 'stopped by signal' : 'done'} at step ${s.lastStep}: loss ${s.lastLoss.toFixed(4)}${parts ? ` (${parts})` : ''}; ` +
          `${s.samples} samples in ${(s.wallMs / 1000).toFixed(1)} s = ${s.samplesPerSec.toFixed(1)} samples/s on ${s.backend}` +
          `${s.checkpoint ? `; checkpoint ${s.checkpoint}` : ''}\n`,
      );
      const counters = Object.entries(s.counters);
      if (counters.length)
        process.stderr.write(`[${d.name}] counters: ${counters.map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
      if (s.stoppedBy === 'signal')
        process.stderr.write(
          `[${d.name}] resume with: node ${script} ${process.argv
            .slice(2)
            .filter((a, i, all) => a !== '--resume' && all[i - 1] !== '--resume')
            .join(' ')} --resume latest\n`,
        );
      if (after) await after(s, d);
    }
  } catch (err) {
    const e = err as Error;
    if (e instanceof DeclarationError) {
      process.stderr.write(`${script}: ${e.message}\n`);
      code = 2;
    } else if (e instanceof MissingDataError) {
      process.stderr.write(`${script}: ${e.message}\n`);
      code = 3;
    } else if (e instanceof TrainingHalt) {
      process.stderr.write(`${script}: ${e.message}\n`);
      code = 1;
    } else {
      process.stderr.write(`${script}: ${e?.message?.split('\n')[0] ?? String(err)}\n`);
      if (process.env.CLIP_BENCH_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
      code = 1;
    }
  } finally {
    shutdownBackend();
  }
  // under mpirun/srun: a clean MPI exit, or stop every rank of the job now (no rank left waiting in a collective)
  if (underMpiLauncher()) {
    if (code === 0) getCollective().finalize();
    else getCollective().abort(code);
  }
  process.exit(code);
}
