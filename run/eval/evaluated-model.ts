// What an evaluation needs besides its task: the model under evaluation (with its tokenizer and image
// normalisation, and FILIP's dense scorer when the caller has it), the names its results carry, and how to run.
import type { ClipModel } from '../../src/models/clip.ts';
import type { ClipTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import type { NormalizeStats } from '../../src/image/presets.ts';
import type { DenseScorer } from '../../src/supervision/types.ts';
import type { ImagePool } from '../../stages/image/decode-views.ts';

export interface EvaluatedModel {
  model: ClipModel;
  tokenizer: ClipTokenizer;
  /** The pixel normalisation the model was trained with. */
  stats: NormalizeStats;
  /** FILIP's token-wise scorer: zero-shot tasks with scoring 'auto' (the default) or 'dense' use it. */
  dense?: DenseScorer;
  /** Names in the CLIP_benchmark-shaped records. */
  modelName: string;
  pretrained: string;
  /** The weights file, when there is one (keys the linear probe's feature cache). */
  weightsFile?: string;
}

export interface EvalRunOptions {
  /** Images per forward pass. */
  batchSize: number;
  /** A long-lived image worker pool (otherwise each task makes and closes its own). */
  pool?: ImagePool;
  signal?: AbortSignal;
  /** No progress output. */
  quiet?: boolean;
}
