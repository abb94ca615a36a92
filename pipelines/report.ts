// Reports of training runs: one run's plots and page, or several runs compared in one set of plots.
//   node pipelines/report.ts RUN_DIR                        -> RUN_DIR/report/ (PNG plots + index.html)
//   node pipelines/report.ts RUN_DIR RUN_DIR... [--out DIR] -> DIR/ (SVG plots, one curve per run, + index.html)
import { isMain, runCommand, UsageError } from '../run/command.ts';
import { writeRunReport } from '../run/report/write-run-report.ts';
import { writeComparison } from '../run/report/compare-runs.ts';

if (isMain(import.meta))
  await runCommand(
    import.meta,
    {
      usage: ['RUN_DIR', 'RUN_DIR RUN_DIR... [--out DIR]'],
      about:
        'The report of a training run (loss and its parts, lr, logit scale, evaluations, wall time over every ' +
        'session of ' +
        'a resumed run), or several runs compared: one curve per run in each plot (loss, lr, temperature, every ' +
        'zero-shot, retrieval and linear-probe metric), their facts and CLIP_benchmark results in one page.',
      positionals: true,
      options: {
        out: {
          type: 'string',
          arg: 'DIR',
          help: 'where a comparison goes (default report-compare); with one run, compare mode into DIR',
        },
      },
    },
    async ({ args }) => {
      const dirs = args.positionals;
      if (dirs.length === 0) throw new UsageError('no run directory given (see --help)');
      const out = args.values.out as string | undefined;
      const r =
        dirs.length === 1 && !out
          ? await writeRunReport(dirs[0])
          : await writeComparison(dirs, out ?? 'report-compare');
      process.stdout.write(`${r.html}\n${r.plots.join('\n')}\n`);
    },
  );
