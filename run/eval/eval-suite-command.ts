// `node pipelines/eval-suite.ts`: evaluate one model on every task of an evaluation suite (a JSON file), writing a
// CLIP_benchmark-shaped JSON per dataset and task plus aggregate.json, and printing the table and the aggregate.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { setupEval } from '../eval-cli.ts';
import { denseScorerOf } from './dense-scorer-of.ts';
import { defineEvalSuite, type EvalSuite } from '../../src/eval/eval-suite.ts';
import { formatResultsTable } from '../../src/eval/results.ts';
import { runEvalSuite, writeSuiteResults, type SuiteResults } from './run-eval-suite.ts';
import { validateEvalSuite } from './validate-eval-suite.ts';
import { evaluatedModelOf } from './evaluated-model-of.ts';
import { evalCommandSpec, evalOptions, extraFlags } from './eval-command-options.ts';
import type { CommandOption } from '../command.ts';

const { data: _data, dataset: _dataset, ...shared } = evalOptions;
const own: Record<string, CommandOption> = {
  suite: { type: 'string', arg: 'SUITE.json', help: 'the evaluation suite (paths in it relative to the file)' },
  dense: {
    type: 'boolean',
    help: "FILIP's token-wise scoring of zero-shot tasks (default: as in training, on for FILIP checkpoints; --no-dense: off)",
  },
};

export const evalSuiteSpec = evalCommandSpec(
  {
    usage: '--suite SUITE.json --weights W [--out DIR] [options]',
    about:
      'Evaluates a model on an evaluation suite (zero-shot classification, retrieval, linear probes, declared once): one CLIP_benchmark JSON per dataset and task and aggregate.json.',
    notes: `SUITE.json: {"name", "prompts"?, "batchSize"?, "tasks": [{"task": "zeroshot_classification" | "zeroshot_retrieval" |
"linear_probe", "dataset", "data", ...}]} (the fields are documented in src/eval/eval-suite.ts). The suite is checked
(data, prompts, class names) before the model loads. aggregate.json holds the mean of each task's main metric: acc1
(mean per-class recall for Caltech-101, FGVC Aircraft, Flowers-102, Oxford-IIIT Pets), mean_recall@1, lp_acc1.
--batch-size overrides the suite's.`,
  },
  own,
  shared,
);

const pathFields = ['prompts', 'data', 'trainData', 'images', 'classes', 'featureCache'] as const;

/** Read a suite file; its relative paths are taken relative to the file's directory. */
export async function readEvalSuite(file: string): Promise<EvalSuite> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`--suite: cannot read ${file} (${e.code ?? e.message})`);
  });
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`--suite: ${file} is not valid JSON (${(e as Error).message})`);
  }
  const suite = defineEvalSuite(json, file);
  const base = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) || /^(https?:\/\/|pipe:)/.test(p) ? p : resolve(base, p));
  const withPaths = <T extends object>(o: T): T => {
    const out = { ...o } as Record<string, unknown>;
    for (const f of pathFields) if (typeof out[f] === 'string') out[f] = abs(out[f] as string);
    return out as T;
  };
  return { ...withPaths(suite), tasks: suite.tasks.map(withPaths) };
}

export async function evalSuiteCommand(argv: string[], signal?: AbortSignal): Promise<SuiteResults> {
  const suiteAt = argv.indexOf('--suite');
  const suiteFile = suiteAt >= 0 ? argv[suiteAt + 1] : undefined;
  if (!suiteFile) throw new Error('--suite is required (an evaluation suite JSON)');
  const suite = await readEvalSuite(suiteFile);
  await validateEvalSuite(suite);
  const rest = argv.filter((_, i) => i !== suiteAt && i !== suiteAt + 1);
  // the shared evaluation flags want one --data; here every task names its own, so the suite's name stands in
  const setup = await setupEval(
    [
      ...rest,
      '--data',
      suite.name,
      ...(rest.includes('--batch-size') ? [] : ['--batch-size', String(suite.batchSize)]),
    ],
    extraFlags({ dense: own.dense }),
  );
  try {
    const dense = await denseScorerOf(setup);
    const results = await runEvalSuite({ ...suite, batchSize: setup.batchSize }, evaluatedModelOf(setup, dense), {
      quiet: setup.quiet,
    });
    const written = await writeSuiteResults(String(setup.values.out), results);
    if (!setup.quiet)
      console.log(
        `${formatResultsTable(results.records)}\n\naggregate (mean of ${results.aggregate.tasks
          .map((x) => `${x.dataset} ${x.metric}`)
          .join(
            ', ',
          )}): ${results.aggregate.score.toFixed(4)}\n(wrote ${written.length} files into ${setup.values.out})`,
      );
    return results;
  } finally {
    setup.model.dispose();
  }
}
