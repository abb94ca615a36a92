import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../../src/rng.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip } from '../../src/models/clip.ts';
import type { ClipModel } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { loadClipWeights, saveClipWeights } from '../../src/weights/clip-weights.ts';
import { exportStateDict, importStateDict } from '../../src/weights/openai-names.ts';
import { inferClipConfig } from '../../src/weights/infer-config.ts';
import { parseSafetensors, serializeSafetensors } from '../../src/weights/safetensors.ts';
import type { TensorToWrite } from '../../src/weights/safetensors.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

function inputs(model: ClipModel, rng: Rng) {
  const s = model.config.vision.imageSize;
  const ctx = model.config.text.contextLength;
  const images = tf.tensor4d(
    Float32Array.from({ length: 3 * s * s * 3 }, () => rng.normal()),
    [3, s, s, 3],
  );
  const ids = new Int32Array(3 * ctx);
  for (let i = 0; i < 3; i++) {
    ids[i * ctx] = 49406;
    for (let j = 1; j < 4 + i; j++) ids[i * ctx + j] = 1 + rng.int(1000);
    ids[i * ctx + 4 + i] = 49407;
  }
  return { images, ids: tf.tensor2d(ids, [3, ctx], 'int32') };
}

function embed(model: ClipModel, x: ReturnType<typeof inputs>): number[] {
  return tf.tidy(() => [
    ...model.encodeImage(x.images, { training: false }).embedding.dataSync(),
    ...model.encodeText(x.ids, { training: false }).embedding.dataSync(),
  ]);
}

for (const preset of ['tiny', 'tiny-rn']) {
  test.serial(
    `${preset}: export to safetensors and re-import gives identical embeddings (BN running stats included)`,
    async (t) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'w-'));
      try {
        const model = createClip(buildClipConfig(preset), new ParamStore(), new Rng(3));
        const x = inputs(model, new Rng(4));
        tf.tidy(() => {
          model.encodeImage(x.images, { training: true });
        }); // move BN running stats away from 0/1
        const file = path.join(dir, 'm.safetensors');
        await saveClipWeights(model, file);
        const { model: back, unused } = await loadClipWeights(file);
        t.deepEqual(unused, []);
        t.deepEqual(back.config, model.config);
        t.deepEqual(embed(back, x), embed(model, x));
        if (preset === 'tiny-rn')
          t.deepEqual(
            Array.from(back.store.get('visual.bn1.running_var').dataSync()),
            Array.from(model.store.get('visual.bn1.running_var').dataSync()),
          );
        model.dispose();
        back.dispose();
        tf.dispose(x);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}

test.serial('without metadata the architecture is inferred from shapes (OpenAI rules)', (t) => {
  const cfg = buildClipConfig('tiny-rn', { embedDim: 48, text: { vocabSize: 300, contextLength: 20 } });
  const model = createClip(cfg, new ParamStore(), new Rng(1));
  const sd = exportStateDict(model.store);
  const inferred = inferClipConfig(sd);
  t.deepEqual(inferred.vision, { type: 'modified-resnet', imageSize: 64, layers: [1, 1, 1, 1], width: 8, heads: 4 });
  t.like(inferred.text, { vocabSize: 300, contextLength: 20, width: 64, layers: 2, heads: 1, projectionBias: false });
  t.is(inferred.embedDim, 48);
  model.dispose();
});

test.serial(
  'DeCLIP checkpoint names (module./encode_text. prefixes, Linear text_projection, logit_scale [1]) import',
  (t) => {
    const cfg = buildClipConfig('tiny', { text: { vocabSize: 49409, projectionBias: true } });
    const model = createClip(cfg, new ParamStore(), new Rng(5));
    t.true(model.store.has('text_projection.weight') && model.store.has('text_projection.bias'));
    const declip = new Map<string, TensorToWrite>();
    for (const [name, v] of exportStateDict(model.store)) {
      const textKey = !name.startsWith('visual.') && name !== 'logit_scale';
      declip.set(`module.${textKey ? 'encode_text.' : ''}${name}`, name === 'logit_scale' ? { ...v, shape: [1] } : v);
    }
    declip.set('module.projector.layer1.0.weight', { shape: [2, 2], data: new Float32Array(4) }); // a DeCLIP head
    const file = parseSafetensors(serializeSafetensors(declip));
    const inferred = inferClipConfig(file.tensors);
    t.true(inferred.text.projectionBias);
    t.is(inferred.text.vocabSize, 49409);
    t.is(inferred.embedDim, 64);
    const other = createClip(cfg, new ParamStore(), new Rng(6));
    const { unused } = importStateDict(other.store, file.tensors);
    t.deepEqual(unused, ['projector.layer1.0.weight']);
    const x = inputs(model, new Rng(7));
    t.deepEqual(embed(other, x), embed(model, x));
    model.dispose();
    other.dispose();
    tf.dispose(x);
  },
);

test.serial('shape mismatches and missing tensors give one-line errors', (t) => {
  const a = createClip(buildClipConfig('tiny'), new ParamStore(), new Rng(1));
  const b = createClip(buildClipConfig('tiny', { embedDim: 32 }), new ParamStore(), new Rng(1));
  const sd = parseSafetensors(serializeSafetensors(exportStateDict(a.store))).tensors;
  t.throws(() => importStateDict(b.store, sd), {
    message: /weights: "visual.proj" has shape \[64,64\] in the checkpoint, the model expects \[64,32\]/,
  });
  sd.delete('ln_final.weight');
  t.throws(() => importStateDict(a.store, sd), {
    message: /checkpoint lacks 1 tensor\(s\) the model needs, e.g. "ln_final.weight"/,
  });
  t.throws(() => inferClipConfig(sd), { message: /no "ln_final.weight" tensor/ });
  a.dispose();
  b.dispose();
});
