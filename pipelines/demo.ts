// `npm start`: the offline demo. A tiny DeFILIP (DeCLIP's four losses + FILIP's token-wise loss) trains on the
// procedurally drawn fixtures (fixtures/demo/train-*.tar, captions like "a red star near the top on grey") with the
// BPE vocab learned from those captions, on the embedded default backend (wasm), for a few minutes; it evaluates
// zero-shot colour classification on the held-out shard (never trained on) along the way and at the end, and
// writes the report (PNG plots + one-page HTML) into the run directory.
//   node pipelines/demo.ts [--steps N] [--batch-size N] [--out DIR] [--resume latest] [any --field value]
import { isMain } from '../run/command.ts';
import { main } from '../run/main.ts';
import { demoDeclaration } from '../run/recipes/demo.ts';
import { writeRunReport } from '../run/report/write-run-report.ts';

if (isMain(import.meta)) {
  await main(demoDeclaration, import.meta, async (summary, d) => {
    const report = await writeRunReport(d.logging.out);
    const last = summary.evals.at(-1);
    if (last) {
      const r = last.results;
      process.stderr.write(
        `[demo] zero-shot demo-color top-1 ${(100 * r['demo-color/acc1']).toFixed(1)}% (chance ${(100 * r['demo-color/chance']).toFixed(1)}%), ` +
          `top-5 ${(100 * r['demo-color/acc5']).toFixed(1)}% at step ${last.step}\n`,
      );
    }
    process.stderr.write(`[demo] report: ${report.html}\n`);
  });
}
