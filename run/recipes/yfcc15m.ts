// The seed's YFCC-15M recipe (docs/methods.md, "Training recipe") as one declaration; the five method pipelines change only the
// supervision and the optimiser numbers that differ (SLIP and FILIP: peak lr 5e-4, weight decay 0.5).
import type { PipelineDeclaration, DeepPartial } from '../declaration.ts';
import type { SupervisionName } from '../../src/supervision/index.ts';

export const YFCC15M_ENV = 'CLIP_BENCH_YFCC15M';

export const yfcc15mMissingHint =
  `no YFCC-15M shards: pass --data 'DIR/{00000..01538}.tar' or set ${YFCC15M_ENV}; make them from DeCLIP's yfcc15m_clean_open_data.json ` +
  `with node pipelines/yfcc15m-shards.ts --format declip --input FILE --out DIR (downloads the images), or from any image+caption list with node pipelines/make-shards.ts`;

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
    seed: 0,
    data: {
      shards: '',
      env: YFCC15M_ENV,
      missingHint: yfcc15mMissingHint,
      epochs: 'endless',
      captionExtension: 'txt',
      decodeConcurrency: 8,
    },
    model: { preset: 'vit-b32', normalisation: 'imagenet', bnGhostSize: 128 },
    text: { variant: 'declip', vocabPath: '', contextLength: 77 },
    supervision: { name: method, options: { ...yfcc15mSupervisionOptions[method] } },
    optim: {
      batchSize: 4096,
      microBatchSize: 128,
      steps: 128001,
      baseLr: 1e-4,
      peakLr: slipOrFilip ? 5e-4 : 1e-3,
      warmupSteps: 2500,
      totalSteps: 128001,
      minLr: 0,
      beta1: 0.9,
      beta2: 0.98,
      eps: 1e-8,
      weightDecay: slipOrFilip ? 0.5 : 0.1,
      nanPolicy: 'rollback',
      rollbackLrFactor: 0.997,
      maxRollbacks: 10,
    },
    // The seed evaluates ImageNet zero-shot every 2000 iterations: --eval.shards 'IMAGENET_VAL/{0..49}.tar'
    // (webdataset with .cls) --eval.prompts classnames-and-templates.json [--eval.dataset imagenet1k]
    eval: { every: 2000, atEnd: true, evaluate: null, shards: '', prompts: '', dataset: 'imagenet1k' },
    checkpoint: { every: method === 'declip' || method === 'defilip' ? 200 : 500, keep: 3, resume: '', onSignal: true },
    logging: { out: `runs/${method}-yfcc15m`, progress: 'auto', every: 10 },
    backend: { name: 'auto', threads: 0 },
  };
}
