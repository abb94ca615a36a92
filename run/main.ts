// The command-line entry point of every training pipeline: validate the declaration, apply flags, run, print a
// summary. Runs under runCommand (run/command.ts): one-line errors, `--help` listing every field, exit codes
// 0 done, 1 run failed, 2 bad declaration or flag, 3 no data, 130/143 stopped by SIGINT/SIGTERM (after saving).
import { runCommand, EXIT } from './command.ts';
import { validateDeclaration } from './validate.ts';
import { parseArgs, applyOverrides, declarationOptions } from './cli.ts';
import { runPipeline, type RunSummary } from './runner.ts';
import { defaults, type PipelineDeclaration, type DeepPartial } from './declaration.ts';
import { getCollective, underMpiLauncher } from '../src/distributed/collective.ts';

export async function main(
  declaration: DeepPartial<PipelineDeclaration>,
  meta: ImportMeta,
  after?: (summary: RunSummary, d: PipelineDeclaration) => Promise<void>,
): Promise<never> {
  let base: PipelineDeclaration | Error;
  try {
    base = validateDeclaration(declaration);
  } catch (err) {
    base = err as Error;
  }
  return runCommand(
    meta,
    {
      usage: '[--field value ...]',
      about:
        `Trains ${typeof declaration.name === 'string' ? declaration.name : 'a pipeline'} as declared; any ` +
        `field of the declaration can be overridden from the command line.`,
      options: declarationOptions(base instanceof Error ? { name: '', ...defaults } : base),
      notes:
        'Values are parsed by the field type; --field=value works too, and camelCase field names as well as ' +
        'kebab-case.\n' +
        'Ctrl-C (SIGINT) or SIGTERM finishes the current step, saves a checkpoint and exits 130/143; ' +
        '--resume latest continues.',
      parse: (argv) => {
        if (base instanceof Error) throw base;
        return applyOverrides(base, parseArgs(argv).overrides);
      },
      // under mpirun/srun: a clean MPI exit, or stop every rank of the job now (no rank left waiting in a collective)
      onExit: (code) => {
        if (!underMpiLauncher()) return;
        if (code === EXIT.ok) getCollective().finalize();
        else getCollective().abort(code);
      },
    },
    async ({ args: d, script, signal }) => {
      const s = await runPipeline(d, { stop: signal });
      const parts = Object.entries(s.lastParts)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join(', ');
      process.stderr.write(
        `[${d.name}] ${s.stoppedBy === 'signal' ? 'stopped by signal' : 'done'} at step ${s.lastStep}: loss ` +
          `${s.lastLoss.toFixed(4)}${parts ? ` (${parts})` : ''}; ` +
          `${s.samples} samples in ${(s.wallMs / 1000).toFixed(1)} s = ${s.samplesPerSec.toFixed(1)} ` +
          `samples/s on ${s.backend}` +
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
    },
  );
}
