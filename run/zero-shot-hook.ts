// An evaluation hook for pipeline declarations: zero-shot classification on one labelled set (webdataset shards with
// `.cls` labels in CLIP_benchmark's layout, a class folder or MNIST files), prompt-ensemble classifier from a
// classnames-and-templates JSON, the ONECROP eval view, reported as <dataset>/acc1, /acc5, /mean_per_class_recall and
// /chance. A one-task evaluation suite (run/eval/suite-evaluation.ts, which evaluates several datasets and tasks);
// FILIP is scored with its dense token-wise path, CLIP, DeCLIP, SLIP and DeFILIP with the global embeddings.
import { suiteEvaluation, type SuiteEvaluationHook } from './eval/suite-evaluation.ts';

export interface ZeroShotHookOptions {
  /** The labelled evaluation set: a shard spec, a class-folder directory or a directory of MNIST IDX files. */
  shards: string;
  /** classnames-and-templates JSON ({"<dataset>": {classes, templates}}). */
  prompts: string;
  dataset: string;
  batchSize?: number;
  /** Evaluate about this many images (every k-th of a set of known size, else the first N). */
  limit?: number;
}

export function zeroShotEvaluation(o: ZeroShotHookOptions): SuiteEvaluationHook {
  return suiteEvaluation(
    {
      name: `zero-shot ${o.dataset}`,
      batchSize: o.batchSize ?? 128,
      tasks: [
        {
          task: 'zeroshot_classification',
          dataset: o.dataset,
          data: o.shards,
          prompts: o.prompts,
          ...(o.limit !== undefined ? { limit: o.limit } : {}),
        },
      ],
    },
    { writeResults: false },
  );
}
