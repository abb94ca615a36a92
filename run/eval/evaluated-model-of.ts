// The model a stand-alone evaluation command loaded (run/eval-cli.ts's setup), as the tasks take it.
import type { EvalSetup } from '../eval-cli.ts';
import type { DenseScorer } from '../../src/supervision/types.ts';
import type { EvaluatedModel } from './evaluated-model.ts';

export function evaluatedModelOf(setup: EvalSetup, dense?: DenseScorer): EvaluatedModel {
  const names = setup.record('zeroshot_classification', {}); // the model and pretrained names the flags give
  return {
    model: setup.model,
    tokenizer: setup.tokenizer,
    stats: setup.stats,
    modelName: names.model,
    pretrained: names.pretrained,
    weightsFile: setup.weightsFile,
    ...(dense ? { dense } : {}),
  };
}
