import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { createSupervision } from '../../src/supervision/index.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { seedAdamW } from '../../src/train/adamw.ts';
import { deriveRng } from '../../src/rng.ts';

test.before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

// The seed's param_group_all (docs/methods.md, "Training recipe"): no decay for norms, every Conv/Linear/BN/LN bias and
// anything named *logit_scale*; decay for weights, embeddings, class token, proj, positional embeddings and — the
// quirk — nn.MultiheadAttention's packed in_proj_bias. ViT conv1 is frozen (never updated).
function seedDecays(name: string): boolean {
  if (name.includes('logit_scale')) return false;
  if (name.endsWith('in_proj_bias')) return true;
  if (/(^|\.)(ln_\w+|ln_\d|bn\d*|norm\w*)\./.test(name)) return false;
  if (name.endsWith('.bias')) return false;
  return true;
}

test.serial(
  'AdamW parameter groups of a real DeFILIP ViT follow the seed: exclusions, in_proj_bias quirk, frozen conv1',
  (t) => {
    const store = new ParamStore();
    const model = createClip(
      buildClipConfig('tiny', { text: { vocabSize: 300, contextLength: 16 } }),
      store,
      deriveRng(1, 'm'),
    );
    const sup = createSupervision('defilip', {
      projectorHidden: 16,
      projectorOut: 16,
      predictorHidden: 8,
      queueSize: 32,
      denseDim: 8,
      topK: 2,
    });
    sup.addHeads(model, deriveRng(1, 'h'));
    const trainer = new Trainer(model, sup, {
      schedule: { baseLr: 1e-4, peakLr: 1e-3, warmupSteps: 2, totalSteps: 10, minLr: 0 },
      adamw: seedAdamW(0.1),
      microBatchSize: 0,
      nanPolicy: 'stop',
    });
    const groups = new Map(trainer.optimizer.params.map((p) => [p.name, p.decay]));
    t.false(groups.has('visual.conv1.weight'), 'ViT patch embedding is frozen (not optimised)');
    t.true(store.has('visual.conv1.weight'));
    const checked: string[] = [];
    for (const [name, decay] of groups) {
      if (
        name.startsWith('visual.') ||
        name.startsWith('transformer.') ||
        name === 'logit_scale' ||
        name === 'logit_scale_dense' ||
        name.startsWith('token_embedding') ||
        name === 'positional_embedding' ||
        name === 'text_projection' ||
        name.startsWith('ln_final')
      ) {
        t.is(decay, seedDecays(name), `${name}: decay ${decay}`);
        checked.push(name);
      }
    }
    t.true(groups.get('visual.transformer.resblocks.0.attn.in_proj_bias'), 'in_proj_bias IS decayed (quirk)');
    t.false(groups.get('visual.transformer.resblocks.0.attn.out_proj.bias'), 'out_proj.bias is not');
    t.false(groups.get('logit_scale'));
    t.false(groups.get('logit_scale_dense') ?? false);
    t.true(groups.get('visual.class_embedding'));
    t.true(groups.get('visual.proj'));
    t.false(groups.get('ln_final.weight'));
    t.true(checked.length > 20, `${checked.length} names checked`);
    trainer.dispose();
    sup.dispose();
    model.dispose();
  },
);
