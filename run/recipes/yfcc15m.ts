// The seed's YFCC-15M recipe per method as one declaration; the five method pipelines change only the supervision and
// the optimiser numbers that differ (SLIP and FILIP: peak lr 5e-4, weight decay 0.5).
import type { PipelineDeclaration, DeepPartial } from '../declaration.ts';
import type { SupervisionName } from '../../src/supervision/index.ts';

export const YFCC15M_ENV = 'CLIP_BENCH_YFCC15M';

export const yfcc15mMissingHint =
  `no YFCC-15M shards: pass --data 'DIR/{00000..01538}.tar' or set ${YFCC15M_ENV}; make them from DeCLIP's yfcc15m_clean_open_data.json ` +
  `with node pipelines/yfcc15m-shards.ts --format declip --input FILE --out DIR (downloads the images), or from any image+caption list with node pipelines/make-shards.ts`;

/** The seed's recipe for one method: the defaults (run/declaration.ts) are the seed's CLIP recipe; this is what differs. */
/** The seed's head and queue sizes, the same for every tower (the defaults scale them with the model instead). */
const declipSizes = { projectorHidden: 1024, projectorOut: 1024, predictorHidden: 512, queueSize: 65536 };
export const yfcc15mSupervisionOptions: Partial<Record<SupervisionName, Record<string, unknown>>> = {
  declip: declipSizes,
  slip: { mlpHidden: 4096, mlpOut: 256 },
  filip: { denseDim: 256 },
  defilip: { ...declipSizes, denseDim: 256 },
};

export function yfcc15mDeclaration(method: SupervisionName): DeepPartial<PipelineDeclaration> {
  const slipOrFilip = method === 'slip' || method === 'filip';
  return {
    name: `${method}-yfcc15m`,
    data: { env: YFCC15M_ENV, missingHint: yfcc15mMissingHint, decodeConcurrency: 8 },
    supervision: {
      name: method,
      ...(yfcc15mSupervisionOptions[method] ? { options: { ...yfcc15mSupervisionOptions[method] } } : {}),
    },
    // SLIP and FILIP: peak lr 5e-4, weight decay 0.5
    ...(slipOrFilip ? { optim: { peakLr: 5e-4, weightDecay: 0.5 } } : {}),
    // The seed evaluates ImageNet zero-shot every 2000 iterations (the default): --eval.shards
    // 'IMAGENET_VAL/{0..49}.tar' (webdataset with .cls) --eval.prompts classnames-and-templates.json
    // DeCLIP and DeFILIP save every 200 iterations (the default), the others every 500
    ...(method === 'declip' || method === 'defilip' ? {} : { checkpoint: { every: 500 } }),
    logging: { out: `runs/${method}-yfcc15m` },
  };
}
