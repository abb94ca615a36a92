// Registry of the supervision modules: createSupervision(name, options) with the seed's defaults.
import type { Supervision, SupervisionName } from './types.ts';
import { createClipSupervision } from './clip.ts';
import { createDeclipSupervision } from './declip.ts';
import { createSlipSupervision } from './slip.ts';
import { createFilipSupervision } from './filip.ts';
import { createDefilipSupervision } from './defilip.ts';

export type { Supervision, SupervisionName, TrainBatch, TextView, ImageViewName, Features, LossOutput, DenseScorer } from './types.ts';

const registry: Record<SupervisionName, (options?: Record<string, unknown>) => Supervision> = {
  clip: createClipSupervision,
  declip: createDeclipSupervision,
  slip: createSlipSupervision,
  filip: createFilipSupervision,
  defilip: createDefilipSupervision,
};

export const supervisionNames = Object.keys(registry) as SupervisionName[];

export function createSupervision(name: string, options: Record<string, unknown> = {}): Supervision {
  const make = registry[name as SupervisionName];
  if (!make) throw new Error(`unknown supervision "${name}" (known: ${supervisionNames.join(', ')})`);
  return make(options);
}
