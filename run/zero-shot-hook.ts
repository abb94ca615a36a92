// An evaluation hook for pipeline declarations: zero-shot classification on webdataset shards with `.cls` labels
// (CLIP_benchmark's layout), prompt-ensemble classifier from a classnames-and-templates JSON, the seed's ONECROP view
// (docs/methods.md, "Evaluation"), reported as <dataset>/acc1, /acc5, /mean_per_class_recall. FILIP is scored with its
// dense token-wise path; CLIP, DeCLIP, SLIP and DeFILIP with the global embeddings.
import { createContext, runStages } from '../stages/core/stage.ts';
import { evalImageBatches, type EvalImageBatch } from '../stages/eval/eval-image-batches.ts';
import { shardClassificationDataset } from '../stages/eval/shard-datasets.ts';
import { evaluateZeroShot } from '../src/eval/zero-shot.ts';
import { denseZeroShotScorer } from '../src/eval/dense-zero-shot.ts';
import { loadZeroShotPrompts } from '../src/eval/datasets/zero-shot-prompts.ts';
import { imagenetStats, openaiClipStats } from '../src/image/presets.ts';
import type { EvaluateHook } from './declaration.ts';

export interface ZeroShotHookOptions {
  /** Shard spec of the labelled evaluation set. */
  shards: string;
  /** classnames-and-templates JSON ({"<dataset>": {classes, templates}}). */
  prompts: string;
  dataset: string;
  batchSize?: number;
}

export function zeroShotEvaluation(o: ZeroShotHookOptions): EvaluateHook {
  return async ({ model, tokenizer, declaration, supervision }) => {
    const prompts = await loadZeroShotPrompts(o.prompts, o.dataset);
    const ctx = createContext();
    const dataset = shardClassificationDataset(o.shards, prompts.classes, ctx, o.dataset);
    const stats = declaration.model.normalisation === 'openai' ? openaiClipStats : imagenetStats;
    const result = await runStages(
      ctx,
      dataset.items(),
      [evalImageBatches({ size: model.config.vision.imageSize, stats, batchSize: o.batchSize ?? 128 })],
      (batches: AsyncIterable<EvalImageBatch<{ label: number }>>) =>
        evaluateZeroShot({
          model,
          tokenizer,
          classes: prompts.classes,
          templates: prompts.templates,
          batches,
          ...(supervision?.name === 'filip' && supervision.dense
            ? { scorer: denseZeroShotScorer(model, tokenizer, supervision.dense) }
            : {}),
        }),
    );
    return {
      [`${o.dataset}/acc1`]: result.metrics.acc1,
      [`${o.dataset}/acc5`]: result.metrics.acc5,
      [`${o.dataset}/mean_per_class_recall`]: result.metrics.mean_per_class_recall,
      [`${o.dataset}/chance`]: 1 / prompts.classes.length,
    };
  };
}
