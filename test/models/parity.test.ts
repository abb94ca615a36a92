// PyTorch parity of the model zoo: fixtures from reference/models_reference.py (OpenAI CLIP architecture, tiny
// configs). The weights files import with no architecture flags; embeddings, dense tokens and parameter gradients must
// match within 1e-4 relative (max |ours - torch| / max |torch| per tensor) on the wasm and cpu backends.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { loadClipWeights } from '../../src/weights/clip-weights.ts';
import { readSafetensors, toFloat32, toInt32 } from '../../src/weights/safetensors.ts';
import type { SafetensorsFile } from '../../src/weights/safetensors.ts';
import { transpose2d, oihwToHwio, importStateDict } from '../../src/weights/openai-names.ts';
import { parseSafetensors, serializeSafetensors } from '../../src/weights/safetensors.ts';
import type { TensorToWrite } from '../../src/weights/safetensors.ts';
import { inferClipConfig } from '../../src/weights/infer-config.ts';
import { createClip } from '../../src/models/clip.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { Rng } from '../../src/rng.ts';
import type { ClipModel } from '../../src/models/clip.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/parity/models/${name}`, import.meta.url));
const TOL = 1e-4;

test.after.always(() => shutdownBackend());

function relErr(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(ours[i] - ref[i]));
    den = Math.max(den, Math.abs(ref[i]));
  }
  return num / (den || 1);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function sine(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(0.1 * i));
}

/** Same scalar loss as the reference: symmetric CLIP loss + mean(tokens * R) + mean(wordFeatures * R). */
function referenceLoss(model: ClipModel, images: tf.Tensor4D, ids: tf.Tensor2D): tf.Scalar {
  const img = model.encodeImage(images, { training: true });
  const txt = model.encodeText(ids, { training: true });
  const u = tf.div(img.embedding, tf.norm(img.embedding, 2, -1, true));
  const v = tf.div(txt.embedding, tf.norm(txt.embedding, 2, -1, true));
  const logits = tf.mul(tf.exp(model.logitScale), tf.matMul(u, v, false, true));
  const b = logits.shape[0];
  const eye = tf.eye(b);
  const ce = (l: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(l, -1), eye), -1)));
  const clip = tf.mul(0.5, tf.add(ce(logits), ce(tf.transpose(logits))));
  const tokTerm = tf.mean(tf.mul(img.tokens, tf.tensor(sine(img.tokens.size), img.tokens.shape)));
  const wordTerm = tf.mean(tf.mul(txt.wordFeatures, tf.tensor(sine(txt.wordFeatures.size), txt.wordFeatures.shape)));
  return tf.addN([clip, tokTerm, wordTerm]) as tf.Scalar;
}

/** A PyTorch-layout gradient converted to our layout for `name`. */
function toOurLayout(model: ClipModel, name: string, io: SafetensorsFile): Float32Array {
  const t = io.tensors.get(`grad.${name}`)!;
  const layout = model.store.meta(name).torchLayout;
  const data = toFloat32(t);
  if (layout === 'linear') return transpose2d(data, t.shape[0], t.shape[1]);
  if (layout === 'conv') return oihwToHwio(data, t.shape);
  return data;
}

async function checkParity(t: any, backend: 'wasm' | 'cpu', arch: 'vit' | 'rn') {
  await initBackend({ backend, quiet: true });
  t.is(tf.getBackend(), backend);
  const before = tf.memory().numTensors;
  const { model, unexpected, heads } = await loadClipWeights(fixture(`${arch}.safetensors`));
  t.deepEqual([...unexpected, ...heads], []);
  const io = await readSafetensors(fixture(`${arch}-io.safetensors`));
  const get = (n: string) => toFloat32(io.tensors.get(n)!);
  const imgT = io.tensors.get('images')!;
  const images = tf.tensor4d(toFloat32(imgT), imgT.shape as [number, number, number, number]);
  const ids = tf.tensor2d(toInt32(io.tensors.get('ids')!), io.tensors.get('ids')!.shape as [number, number], 'int32');

  // eval-mode outputs (BN uses the fixture's running statistics)
  const img = model.encodeImage(images, { training: false });
  const txt = model.encodeText(ids, { training: false });
  const outputs: Array<[string, tf.Tensor]> = [
    ['image_embedding', img.embedding],
    ['image_feature', img.feature],
    ['image_tokens', img.tokens],
    ['text_embedding', txt.embedding],
    ['word_features', txt.wordFeatures],
  ];
  for (const [name, ours] of outputs) {
    t.deepEqual(ours.shape, io.tensors.get(name)!.shape, `${arch}/${backend} ${name} shape`);
    const e = relErr(ours.dataSync(), get(name));
    t.true(e < TOL, `${arch}/${backend} ${name}: relative error ${e.toExponential(2)}`);
  }
  tf.dispose([img, txt].flatMap((o) => Object.values(o)));

  // training-mode gradients (ViT: conv1 unfrozen so its gradient is checked too)
  if (model.config.vision.type === 'vit') model.store.setTrainable('visual.conv1.weight', true);
  const { value, grads } = tf.variableGrads(() => referenceLoss(model, images, ids));
  const lossErr = Math.abs(value.dataSync()[0] - get('loss')[0]) / Math.abs(get('loss')[0]);
  t.true(lossErr < TOL, `${arch}/${backend} loss relative error ${lossErr}`);
  let checked = 0;
  let worst = 0;
  let worstName = '';
  for (const key of io.tensors.keys()) {
    if (!key.startsWith('grad.')) continue;
    const name = key.slice(5);
    const g = grads[model.store.get(name).name];
    t.truthy(g, `${arch}/${backend}: no gradient for ${name}`);
    if (!g) continue;
    const ref = toOurLayout(model, name, io);
    // attnpool k_proj.bias has an exactly-zero gradient (softmax is shift-invariant): compare absolutely
    const e = name.endsWith('k_proj.bias')
      ? (Math.max(maxAbs(ref), maxAbs(g.dataSync())) / 1e-6) * TOL
      : relErr(g.dataSync(), ref);
    if (process.env.PARITY_VERBOSE) t.log(name, e);
    if (e > worst) {
      worst = e;
      worstName = name;
    }
    checked++;
  }
  t.true(worst < TOL, `${arch}/${backend} worst gradient ${worstName}: relative error ${worst.toExponential(2)}`);
  t.true(checked > (arch === 'vit' ? 40 : 50), `${arch}: checked ${checked} gradients`);

  // BN running statistics after that one training forward (ResNet)
  for (const key of io.tensors.keys()) {
    if (!key.startsWith('after.')) continue;
    const e = relErr(model.store.get(key.slice(6)).dataSync(), get(key));
    t.true(e < TOL, `${arch}/${backend} ${key}: relative error ${e}`);
  }
  if (arch === 'rn') t.is(model.store.get('visual.bn1.num_batches_tracked').dataSync()[0], 8);
  tf.dispose([value, images, ids, ...Object.values(grads)]);
  model.dispose();
  t.true(tf.memory().numTensors - before <= 1, `leaked ${tf.memory().numTensors - before} tensors`);
  t.log(`${arch}/${backend}: ${checked} gradients, worst ${worstName} ${worst.toExponential(2)}`);
}

for (const backend of ['wasm', 'cpu'] as const) {
  for (const arch of ['vit', 'rn'] as const) {
    test.serial(
      `${arch} on ${backend}: PyTorch-written safetensors imports with no flags; embeddings, tokens, gradients match`,
      (t) => checkParity(t, backend, arch),
    );
  }
}

test.serial(
  'DeCLIP-named state dict (module./encode_text. prefixes, nn.Linear text_projection with bias) matches ' +
    'PyTorch nn.Linear',
  async (t) => {
    await initBackend({ backend: 'cpu', quiet: true });
    const weights = await readSafetensors(fixture('vit.safetensors'));
    const io = await readSafetensors(fixture('vit-io.safetensors'));
    const declip = new Map<string, TensorToWrite>();
    for (const [name, st] of weights.tensors) {
      const data = toFloat32(st);
      if (name === 'text_projection') {
        // DeCLIP: nn.Linear(width, embed).weight is [embed, width]
        declip.set('module.encode_text.text_projection.weight', {
          shape: [st.shape[1], st.shape[0]],
          data: transpose2d(data, st.shape[0], st.shape[1]),
        });
        const bias = io.tensors.get('declip.text_projection.bias')!;
        declip.set('module.encode_text.text_projection.bias', { shape: bias.shape, data: toFloat32(bias) });
      } else if (name === 'logit_scale') {
        declip.set('module.logit_scale', { shape: [1], data });
      } else {
        declip.set(`module.${name.startsWith('visual.') ? '' : 'encode_text.'}${name}`, { shape: st.shape, data });
      }
    }
    const file = parseSafetensors(serializeSafetensors(declip));
    const { config } = inferClipConfig(file.tensors);
    t.true(config.text.projectionBias);
    const model = createClip(config, new ParamStore(), new Rng(0));
    t.deepEqual(importStateDict(model.store, file.tensors).unused, []);
    const idsT = io.tensors.get('ids')!;
    const emb = model.encodeText(tf.tensor2d(toInt32(idsT), idsT.shape as [number, number], 'int32'), {
      training: false,
    }).embedding;
    const e = relErr(emb.dataSync(), toFloat32(io.tensors.get('declip.text_embedding')!));
    t.true(e < TOL, `relative error ${e}`);
    model.dispose();
  },
);
