// Whether a stand-alone evaluation scores zero-shot tasks with FILIP's token-wise (dense) path, and its scorer.
// Evaluation inherits what training used: the in-training evaluation scores a FILIP run densely (src/supervision's
// filip exposes a dense scorer; the other methods, DeFILIP included, use the global embeddings), so a checkpoint that
// records supervision "filip" is scored densely unless --no-dense says otherwise; --dense asks for it on any weights
// holding FILIP's token mappings.
import { loadDenseScorer } from '../../src/eval/load-model.ts';
import type { DenseScorer } from '../../src/supervision/index.ts';
import type { EvalSetup } from '../eval-cli.ts';

export async function denseScorerOf(setup: EvalSetup): Promise<DenseScorer | undefined> {
  const asked = setup.values.dense as boolean | undefined;
  const dense = asked ?? setup.supervision === 'filip';
  if (!dense) return undefined;
  if (asked !== undefined) return loadDenseScorer(setup.model, setup.weightsFile);
  if (!setup.quiet)
    process.stderr.write('[weights] zero-shot scored token-wise (FILIP), as in training; --no-dense for global\n');
  return loadDenseScorer(setup.model, setup.weightsFile).catch((e: Error) => {
    if (!e.message.startsWith('--dense:')) throw e;
    throw new Error(
      `${setup.weightsFile} records FILIP training but holds no FILIP token mappings (image_mapping.*, text_mapping.*), so its zero-shot cannot be scored token-wise as in training; --no-dense scores it with the global embeddings`,
    );
  });
}
