// `--model NAME`: a whole CLIP (vision tower + text tower) by one name, as data. Vision/text presets are in
// src/models/presets.ts; embedDim defaults to the reference config of the vision preset.
export const modelPresets: Record<string, { vision: string; text: string }> = {
  'vit-b32': { vision: 'vit-b32', text: 'text-12x512' },
  'vit-b16': { vision: 'vit-b16', text: 'text-12x512' },
  rn50: { vision: 'rn50', text: 'text-12x512' },
  rn101: { vision: 'rn101', text: 'text-12x512' },
  tiny: { vision: 'tiny-vit', text: 'tiny-text' },
  'tiny-rn': { vision: 'tiny-rn', text: 'tiny-text' },
};

export function modelPreset(name: string): { vision: string; text: string } {
  const p = modelPresets[name];
  if (!p) throw new Error(`model.preset: unknown model "${name}" (known: ${Object.keys(modelPresets).join(', ')})`);
  return p;
}
