// The shape every one-task evaluation command shares (zero-shot, retrieval, linear probe): load the model the flags
// name (setupEval), run the task, write its CLIP_benchmark JSON into --out, print the result line unless --quiet, and
// release the model whatever happens.
import { setupEval, type EvalSetup } from '../eval-cli.ts';
import { writeResult, type BenchmarkResult } from '../../src/eval/results.ts';
import { describeRecord } from './report-record.ts';
import { extraFlags } from './eval-command-options.ts';
import type { CommandOption } from '../command.ts';

export async function oneTaskCommand<R>(
  argv: string[],
  own: Record<string, CommandOption>,
  dataHelp: string,
  task: (setup: EvalSetup) => Promise<{ record: BenchmarkResult; result: R }>,
  summary: (record: BenchmarkResult, result: R) => string,
): Promise<{ record: BenchmarkResult; result: R }> {
  const setup = await setupEval(argv, extraFlags(own), dataHelp);
  try {
    const { record, result } = await task(setup);
    const path = await writeResult(String(setup.values.out), record);
    if (!setup.quiet) console.log(describeRecord(record, path, summary(record, result)));
    return { record, result };
  } finally {
    setup.model.dispose();
  }
}
