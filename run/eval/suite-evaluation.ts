// An evaluation suite as a training declaration's evaluation hook (`eval.evaluate`): every `eval.every` steps (and at
// the end) the model being trained is evaluated on every task of the suite; metrics.jsonl gets <dataset>/<metric>
// scalars and `aggregate`, and <run dir>/eval/step-<N>/ the CLIP_benchmark-shaped JSON files and aggregate.json.
// The hook's validate() checks the suite's files and prompts; the runner calls it before training starts.
import { join } from 'node:path';
import { imagenetStats, openaiClipStats } from '../../src/image/presets.ts';
import { defineEvalSuite, type EvalSuite, type EvalSuiteInput } from '../../src/eval/eval-suite.ts';
import type { EvaluateHook } from '../declaration.ts';
import { runEvalSuite, suiteScalars, writeSuiteResults } from './run-eval-suite.ts';
import { validateEvalSuite } from './validate-eval-suite.ts';

export interface SuiteEvaluationOptions {
  /** Write each evaluation's JSON files under <logging.out>/eval/step-<N>/ (default true). */
  writeResults?: boolean;
}

export type SuiteEvaluationHook = EvaluateHook & { validate(): Promise<void>; suite: EvalSuite };

export function suiteEvaluation(
  input: EvalSuite | EvalSuiteInput,
  options: SuiteEvaluationOptions = {},
): SuiteEvaluationHook {
  const suite = defineEvalSuite(input);
  const hook = async ({ step, model, tokenizer, declaration, supervision, signal }: Parameters<EvaluateHook>[0]) => {
    const results = await runEvalSuite(
      suite,
      {
        model,
        tokenizer,
        stats: declaration.model.normalisation === 'openai' ? openaiClipStats : imagenetStats,
        // FILIP is scored with its dense token-wise path; the other methods with the global embeddings
        ...(supervision?.name === 'filip' && supervision.dense ? { dense: supervision.dense } : {}),
        modelName: declaration.model.preset,
        pretrained: `${declaration.name}-step${step}`,
      },
      { signal, quiet: true },
    );
    if (options.writeResults !== false)
      await writeSuiteResults(join(declaration.logging.out, 'eval', `step-${step}`), results);
    return suiteScalars(results);
  };
  return Object.assign(hook, { validate: () => validateEvalSuite(suite), suite });
}
