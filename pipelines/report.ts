// Reports of training runs.
//   node pipelines/report.ts RUN_DIR                      RUN_DIR/report/: PNG plots (loss parts, lr, temperature,
//                                                         evaluations) + index.html
//   node pipelines/report.ts RUN_DIR RUN_DIR... [--out DIR]   several runs in one set of plots (one curve per run),
//                                                         their facts and evaluation results: DIR/*.svg + DIR/index.html
//                                                         (default DIR: report-compare)
import { parseArgs } from 'node:util';
import { writeRunReport } from '../run/report/write-run-report.ts';
import { writeComparison } from '../run/report/compare-runs.ts';

const usage =
  'usage: node pipelines/report.ts RUN_DIR            (report of one run)\n' +
  '       node pipelines/report.ts RUN_DIR... [--out DIR]  (several runs compared; default DIR report-compare)\n';

try {
  const { values, positionals } = parseArgs({
    options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) process.stdout.write(usage);
  else if (positionals.length === 0) {
    process.stderr.write(usage);
    process.exitCode = 2;
  } else {
    const r =
      positionals.length === 1 && !values.out
        ? await writeRunReport(positionals[0])
        : await writeComparison(positionals, values.out ?? 'report-compare');
    process.stdout.write(`${r.html}\n${r.plots.join('\n')}\n`);
  }
} catch (err) {
  process.stderr.write(`pipelines/report.ts: ${(err as Error).message.split('\n')[0]}\n`);
  process.exitCode = (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
}
