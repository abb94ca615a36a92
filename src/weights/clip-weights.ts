// Load a whole CLIP model from a safetensors file (architecture inferred from the shapes), and save one.
import type { Rng } from '../rng.ts';
import { deriveRng } from '../rng.ts';
import { ParamStore } from '../nn/params.ts';
import { createClip } from '../models/clip.ts';
import type { ClipModel } from '../models/clip.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';
import { importStateDict, exportStateDict } from './openai-names.ts';
import { inferClipConfig, CONFIG_METADATA_KEY } from './infer-config.ts';

export interface LoadedClip {
  model: ClipModel;
  /** Checkpoint tensors the model did not use (e.g. method heads), canonical names. */
  unused: string[];
}

export async function loadClipWeights(
  path: string,
  opts: { freezePatchEmbedding?: boolean; rng?: Rng } = {},
): Promise<LoadedClip> {
  const file = await readSafetensors(path);
  const config = inferClipConfig(file.tensors, file.metadata, opts);
  const model = createClip(config, new ParamStore(), opts.rng ?? deriveRng('weights-init', path));
  // BN num_batches_tracked is absent in some exports; it only counts updates, so default to 0.
  const { unused } = importStateDict(model.store, file.tensors, {
    allowMissing: (n) => n.endsWith('.num_batches_tracked'),
  });
  return { model, unused };
}

/** Write the model's parameters with OpenAI names and PyTorch layouts, plus the exact config in the metadata. */
export async function saveClipWeights(
  model: ClipModel,
  path: string,
  filter?: (name: string) => boolean,
): Promise<void> {
  await writeSafetensors(path, exportStateDict(model.store, filter), {
    [CONFIG_METADATA_KEY]: JSON.stringify(model.config),
    format: 'pt',
  });
}
