// The model a declaration describes: its preset (src/models/presets.ts) with the declared fields changed (0 = the
// preset's), the text tower sized to the tokenizer (vocabulary and context length).
import { buildClipConfig, type ClipConfig, type ModelOverrides } from '../src/models/presets.ts';
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
