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
import { parseSafetensors, serializeSafetensors, writeSafetensors } from '../../src/weights/safetensors.ts';
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
        const { model: back, unexpected, heads, inferred } = await loadClipWeights(file);
        t.deepEqual([unexpected, heads, inferred], [[], [], false]);
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
  const { config: inferred, guesses } = inferClipConfig(sd);
  t.deepEqual(inferred.vision, { type: 'modified-resnet', imageSize: 64, layers: [1, 1, 1, 1], width: 8, heads: 4 });
  t.like(inferred.text, { vocabSize: 300, contextLength: 20, width: 64, layers: 2, heads: 1, projectionBias: false });
  t.is(inferred.embedDim, 48);
  // the heads are not in the shapes: the guesses are said, and given heads are used instead
  t.deepEqual(guesses, ['vision heads 4 (attention pool width 256 / 64)', 'text heads 1 (width 64 / 64)']);
  const given = inferClipConfig(sd, { heads: { text: 2 } });
  t.is(given.config.text.heads, 2);
  t.deepEqual(given.guesses, ['vision heads 4 (attention pool width 256 / 64)']);
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
    const { config: inferred } = inferClipConfig(file.tensors);
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
    message: /checkpoint lacks 1 tensor\(s\) the model needs: "ln_final.weight"$/,
  });
  t.throws(() => inferClipConfig(sd), { message: /no "ln_final.weight" tensor/ });
  a.dispose();
  b.dispose();
});

test.serial('weights must hold exactly the model: a missing tensor is named, never a shallower model', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'w-'));
  try {
    const model = createClip(buildClipConfig('tiny'), new ParamStore(), new Rng(2));
    const write = async (name: string, edit: (sd: Map<string, TensorToWrite>) => void, metadata = {}) => {
      const sd = exportStateDict(model.store);
      edit(sd);
      const file = path.join(dir, name);
      await writeSafetensors(file, sd, metadata);
      return file;
    };
    // a foreign file (no record) without one tensor of the last vision block: the architecture still has 2 blocks
    const noBlock = await write('no-block.safetensors', (sd) =>
      sd.delete('visual.transformer.resblocks.1.attn.in_proj_weight'),
    );
    const missing = await t.throwsAsync(loadClipWeights(noBlock));
    t.regex(
      missing!.message,
      /no-block\.safetensors: checkpoint lacks 1 tensor\(s\) the model needs: "visual\.transformer\.resblocks\.1\.attn\.in_proj_weight" \(inferred from the shapes: ViT 32px patch 8, 2 layers/,
    );
    t.false(missing!.message.includes('\n'));
    // every tensor of a middle text block gone: still 2 text blocks, all 12 missing names counted
    const noText = await write('no-text-block.safetensors', (sd) => {
      for (const k of [...sd.keys()]) if (k.startsWith('transformer.resblocks.0.')) sd.delete(k);
    });
    await t.throwsAsync(loadClipWeights(noText), {
      message: /lacks 12 tensor\(s\) the model needs: "transformer\.resblocks\.0\.[^"]+", .* and 4 more/,
    });
    // tensors that are neither the model's nor a method head: refused unless asked, then reported
    const extra = await write('extra.safetensors', (sd) => {
      sd.set('visual.extra_token', { shape: [2], data: new Float32Array(2) });
      sd.set('projector.linear1.weight', { shape: [2, 2], data: new Float32Array(4) });
    });
    await t.throwsAsync(loadClipWeights(extra), {
      message:
        /extra\.safetensors: 1 tensor\(s\) are not part of the inferred architecture \(ViT .*\): "visual\.extra_token"$/,
    });
    const allowed = await loadClipWeights(extra, { allowUnexpected: true });
    t.deepEqual([allowed.unexpected, allowed.heads], [['visual.extra_token'], ['projector.linear1.weight']]);
    allowed.model.dispose();
    // a recorded architecture is checked the same way: a third text block is not part of a 2-block model
    const recorded = await write(
      'recorded.safetensors',
      (sd) => sd.set('transformer.resblocks.2.ln_1.weight', { shape: [64], data: new Float32Array(64) }),
      { 'clip_bench.config': JSON.stringify(model.config) },
    );
    await t.throwsAsync(loadClipWeights(recorded), {
      message: /not part of the recorded architecture .*: "transformer\.resblocks\.2\.ln_1\.weight"$/,
    });
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
