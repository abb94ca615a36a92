// The model a declaration describes: its preset (src/models/presets.ts) with the declared fields changed (0 = the
// preset's), the text tower sized to the tokenizer (vocabulary and context length); and the record a checkpoint
// keeps of it (src/weights/model-record.ts) so that evaluation uses the same model, tokenizer and normalisation.
import { isAbsolute, resolve } from 'node:path';
import { buildClipConfig, type ClipConfig, type ModelOverrides } from '../src/models/presets.ts';
import { normalisations } from '../src/image/presets.ts';
import type { ClipTokenizer } from '../src/tokenizer/clip-tokenizer.ts';
import type { ModelRecord } from '../src/weights/model-record.ts';
import type { PipelineDeclaration } from './declaration.ts';

const set = <T>(v: T): T | undefined => (v === 0 ? undefined : v);

export function declaredModelConfig(d: PipelineDeclaration, vocabSize: number): ClipConfig {
  const m = d.model;
  const overrides: ModelOverrides = {
    embedDim: set(m.embedDim),
    vision: {
      imageSize: set(m.vision.imageSize),
      patchSize: set(m.vision.patchSize),
      width: set(m.vision.width),
      layers: set(m.vision.layers),
      heads: set(m.vision.heads),
      bnGhostSize: m.bnGhostSize,
    },
    text: {
      width: set(m.text.width),
      layers: set(m.text.layers),
      heads: set(m.text.heads),
      vocabSize,
      contextLength: d.text.contextLength,
    },
  };
  return buildClipConfig(m.preset, overrides);
}

/** What a run's checkpoints record of its model: the built config, the tokenizer it loaded, the normalisation. */
export function modelRecordOf(d: PipelineDeclaration, config: ClipConfig, tokenizer: ClipTokenizer): ModelRecord {
  const source = tokenizer.vocabFile.source;
  return {
    config,
    tokenizer: {
      variant: tokenizer.variant,
      contextLength: tokenizer.contextLength,
      vocabSize: tokenizer.vocabSize,
      vocab: /^[a-z]+:\/\//i.test(source) || isAbsolute(source) ? source : resolve(source),
      vocabSha256: tokenizer.vocabFile.sha256,
      vocabBytes: tokenizer.vocabFile.bytes,
    },
    normalisation: { name: d.model.normalisation, ...normalisations[d.model.normalisation] },
    preset: d.model.preset,
    supervision: d.supervision.name,
  };
}
