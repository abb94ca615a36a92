// Registry of the supervision modules: createSupervision(name, options) with the seed's defaults
// (docs/methods.md). What each declares and optimises:
//
//   name     image views           text views  heads (state-dict prefix)        loss (parts)
//   clip     clip                  raw         -                                clip
//   declip   mocov2, mocov2        mlm, eda    projector, predictor,            0.4 mv + 0.2 simsiam + 0.2 mlm + 0.2 nn
//                                              text_label_predictor; NN queue
//   slip     clip, simclr, simclr  raw         predictor_sim                    1 clip + 1 simclr (tau 0.1)
//   filip    mocov2                mlm         image_mapping, text_mapping,     0 clip + 1 filip
//                                              logit_scale_dense
//   defilip  mocov2, mocov2        mlm, eda    declip's + filip's               declip's + 0.2 filip
//   siglip   clip                  raw         logit_bias                       siglip (pairwise sigmoid)
//
// Logit scale: exp(θ) capped at 100 in the forward (not SLIP, FILIP's dense scale nor SigLIP); θ clamped into [3, 6]
// in beforeStep/afterStep (SigLIP: init ln 10, clamped into [0, ln 100]). Every weight, temperature, head size, queue
// size and clamp is an option.
import type { Supervision } from './types.ts';
import { createClipSupervision } from './clip.ts';
import { createDeclipSupervision } from './declip.ts';
import { createSlipSupervision } from './slip.ts';
import { createFilipSupervision } from './filip.ts';
import { createDefilipSupervision } from './defilip.ts';
import { createSiglipSupervision } from './siglip.ts';

export type {
  Supervision,
  TrainBatch,
  TextView,
  ImageViewName,
  Features,
  LossOutput,
  DenseScorer,
} from './types.ts';

/** The methods by name: the one list the declaration, its validation and the command line read the names from. */
const registry = {
  clip: createClipSupervision,
  declip: createDeclipSupervision,
  slip: createSlipSupervision,
  filip: createFilipSupervision,
  defilip: createDefilipSupervision,
  siglip: createSiglipSupervision,
} satisfies Record<string, (options?: Record<string, unknown>) => Supervision>;

export type SupervisionName = keyof typeof registry;
export const supervisionNames = Object.keys(registry) as SupervisionName[];

export function createSupervision(name: string, options: Record<string, unknown> = {}): Supervision {
  const make = registry[name as SupervisionName];
  if (!make) throw new Error(`unknown supervision "${name}" (known: ${supervisionNames.join(', ')})`);
  return make(options);
}
