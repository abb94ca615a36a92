// The model a declaration describes: its preset (src/models/presets.ts) with the declared fields changed, the text
// tower sized to the tokenizer (vocabulary and context length).
import { buildClipConfig, type ClipConfig } from '../src/models/presets.ts';
import type { PipelineDeclaration } from './declaration.ts';

export function declaredModelConfig(d: PipelineDeclaration, vocabSize: number): ClipConfig {
  return buildClipConfig(d.model.preset, {
    vision: { bnGhostSize: d.model.bnGhostSize },
    text: { vocabSize, contextLength: d.text.contextLength },
  });
}
