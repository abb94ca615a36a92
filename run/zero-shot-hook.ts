// An evaluation hook for pipeline declarations: zero-shot classification on webdataset shards with `.cls` labels
// (CLIP_benchmark's layout), prompt-ensemble classifier from a classnames-and-templates JSON, the seed's single
// centre-crop view, reported as <dataset>/acc1, /acc5, /mean_per_class_recall. FILIP is scored with its dense
// token-wise path; CLIP, DeCLIP, SLIP and DeFILIP with the global embeddings.
// `check()` runs before training starts: the prompts file must hold the dataset, every local shard must exist and
// the set must yield a labelled image, so a bad setting fails at start-up instead of at the first evaluation.
import { existsSync } from 'node:fs';
import { createContext, runStages } from '../stages/core/stage.ts';
import { evalImageBatches, type EvalImageBatch } from '../stages/eval/eval-image-batches.ts';
import { shardClassificationDataset } from '../stages/eval/shard-datasets.ts';
import { evaluateZeroShot } from '../src/eval/zero-shot.ts';
import { denseZeroShotScorer } from '../src/eval/dense-zero-shot.ts';
import { loadZeroShotPrompts, type ZeroShotPrompts } from '../src/eval/datasets/zero-shot-prompts.ts';
import { imagenetStats, openaiClipStats } from '../src/image/presets.ts';
import { expandShardSpec } from '../src/webdataset/shard-spec.ts';
import { Counters } from '../src/counters.ts';
import type { EvaluateHook } from './declaration.ts';

export interface ZeroShotHookOptions {
  /** Shard spec of the labelled evaluation set. */
  shards: string;
  /** classnames-and-templates JSON ({"<dataset>": {classes, templates}}). */
  prompts: string;
  dataset: string;
  batchSize?: number;
}

/** An evaluation setting that cannot work (exit code 2: it is part of the declaration). */
export class EvaluationSetupError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'EvaluationSetupError';
  }
}

async function prompts(o: ZeroShotHookOptions): Promise<ZeroShotPrompts> {
  try {
    return await loadZeroShotPrompts(o.prompts, o.dataset);
  } catch (err) {
    const message = (err as Error).message;
    throw new EvaluationSetupError(
      `eval.prompts: ${message.includes(o.prompts) ? message : `${o.prompts}: ${message}`}`,
    );
  }
}

export function zeroShotEvaluation(o: ZeroShotHookOptions): EvaluateHook {
  const hook: EvaluateHook = async ({ model, tokenizer, declaration, supervision, signal }) => {
    const { classes, templates } = await prompts(o);
    const ctx = createContext({ signal });
    const dataset = shardClassificationDataset(o.shards, classes, ctx, o.dataset);
    const stats = declaration.model.normalisation === 'openai' ? openaiClipStats : imagenetStats;
    const result = await runStages(
      ctx,
      dataset.items(),
      [evalImageBatches({ size: model.config.vision.imageSize, stats, batchSize: o.batchSize ?? 128 })],
      (batches: AsyncIterable<EvalImageBatch<{ label: number }>>) =>
        evaluateZeroShot({
          model,
          tokenizer,
          classes,
          templates,
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
      [`${o.dataset}/chance`]: 1 / classes.length,
    };
  };
  hook.identity = { zeroShot: { shards: o.shards, prompts: o.prompts, dataset: o.dataset } };
  hook.check = async () => {
    const { classes } = await prompts(o);
    let urls: string[];
    try {
      urls = expandShardSpec(o.shards);
    } catch (err) {
      throw new EvaluationSetupError(`eval.shards: ${(err as Error).message}`);
    }
    if (urls.length === 0) throw new EvaluationSetupError(`eval.shards: ${JSON.stringify(o.shards)} names no shards`);
    const missing = urls.filter((u) => !/^(https?:|pipe:)/.test(u) && !existsSync(u));
    if (missing.length)
      throw new EvaluationSetupError(
        `eval.shards: ${missing.length} of ${urls.length} shard(s) do not exist, e.g. ${missing[0]}`,
      );
    // one labelled image, read the way the evaluation reads them
    const counters = new Counters(() => {});
    const items = shardClassificationDataset(o.shards, classes, createContext({ counters }), o.dataset)
      .items()
      [Symbol.asyncIterator]();
    let first: IteratorResult<unknown>;
    try {
      first = await items.next();
    } catch (err) {
      throw new EvaluationSetupError(`eval.shards: ${(err as Error).message}`);
    } finally {
      await items.return?.(undefined);
    }
    if (first.done)
      throw new EvaluationSetupError(
        `eval.shards: no sample with an image and a .cls label in ${urls.length} shard(s) (${counters.format()})`,
      );
  };
  return hook;
}
