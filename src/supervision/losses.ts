// The loss math of the supervisions, as pure tf functions (docs/methods.md).
// Everything here is differentiable tf code with no state; the supervision modules assemble these parts.
//
// Conventions (from the seed's code):
// - image embeddings are L2-normalised without eps (x / ||x||); text embeddings with +1e-10 in the denominator;
// - labels of every contrastive matrix are the diagonal (a single process sees the global batch);
// - cross-entropy is averaged over rows.
import * as tf from '@tensorflow/tfjs';

/**
 * Identity in the forward, zero gradient in the backward (tfjs has no stop_gradient op). Use only on values whose
 * consumers are differentiable; for indices (top-k, argmax) read the values and make a fresh tensor instead, since
 * ops such as TopK have no gradient and must not lie on a taped path to the loss.
 */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as <T extends tf.Tensor>(x: T) => T;

/**
 * max over the last axis whose gradient goes to the (first) arg-max, like torch's max(dim). tfjs's own Max gradient
 * builds equal(x, broadcast max) — on wasm that broadcasting Equal dominated the FILIP step (bench/supervision.ts).
 */
export const maxLastAxis = tf.customGrad(((x: tf.Tensor, save: (ts: tf.Tensor[]) => void) => {
  const k = x.shape[x.rank - 1];
  const idx = tf.argMax(x, -1);
  save([idx]);
  return {
    value: tf.max(x, -1),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.mul(tf.oneHot(saved[0].reshape([-1]), k).reshape([...dy.shape, k]), tf.expandDims(dy, -1)),
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;

/** x / ||x|| over the last axis (clip.py's image normalisation: no eps). */
export function normalizeImageEmbedding<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.div(x, tf.norm(x, 'euclidean', -1, true))) as T;
}

/** x / (||x|| + 1e-10) over the last axis (clip.py's text normalisation; also the NN re-normalisation). */
export function normalizeTextEmbedding<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.div(x, tf.add(tf.norm(x, 'euclidean', -1, true), 1e-10))) as T;
}

/** Mean over rows of -log softmax(logits)[i, i] (cross-entropy with diagonal labels). */
export function diagonalCrossEntropy(logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [rows, cols] = logits.shape;
    if (rows !== cols) throw new Error(`diagonalCrossEntropy: logits must be square, got [${rows}, ${cols}]`);
    const logp = tf.logSoftmax(logits, 1);
    const picked = tf.sum(tf.mul(logp, tf.eye(rows)), 1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/** ClipInfoCELoss: ½ (CE(first) + CE(second)) with diagonal labels (callers sometimes pass two image→text matrices). */
export function pairedCrossEntropy(first: tf.Tensor2D, second: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mul(0.5, tf.add(diagonalCrossEntropy(first), diagonalCrossEntropy(second))) as tf.Scalar);
}

/** s·U·Vᵀ for normalised rows U [B, D], V [B, D] and a scalar scale s. */
export function scaledSimilarity(u: tf.Tensor2D, v: tf.Tensor2D, scale: tf.Scalar): tf.Tensor2D {
  return tf.tidy(() => tf.mul(scale, tf.matMul(u, v, false, true)) as tf.Tensor2D);
}

/** Symmetric InfoNCE L_NCE(U, V) = ½ [CE(s U Vᵀ) + CE(s V Uᵀ)]. */
export function symmetricInfoNce(u: tf.Tensor2D, v: tf.Tensor2D, scale: tf.Scalar): tf.Scalar {
  return tf.tidy(() => pairedCrossEntropy(scaledSimilarity(u, v, scale), scaledSimilarity(v, u, scale)));
}

/**
 * SimSiam loss (loss.py::SimsiamLoss, symmetric): −½ [mean_i cos(p¹_i, sg(z²_i)) + mean_i cos(p²_i, sg(z¹_i))].
 * Cosine = dot of the two rows each divided by its norm (no eps), stop-gradient on the z side.
 */
export function simSiamLoss(p1: tf.Tensor2D, z1: tf.Tensor2D, p2: tf.Tensor2D, z2: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const d = (p: tf.Tensor2D, z: tf.Tensor2D) => {
      const zs = stopGradient(z);
      const pn = tf.div(p, tf.norm(p, 'euclidean', -1, true));
      const zn = tf.div(zs, tf.norm(zs, 'euclidean', -1, true));
      return tf.mean(tf.sum(tf.mul(pn, zn), 1));
    };
    return tf.mul(-0.5, tf.add(d(p1, z2), d(p2, z1))) as tf.Scalar;
  });
}

/**
 * SimCLR NT-Xent (nt_xent.py::NT_Xent_gather) on two views h¹, h² [B, D]: cosine similarities of all 2B rows / τ;
 * for each anchor the positive is the other view of the same image and the negatives are the other 2B−2 rows
 * (itself excluded); cross-entropy averaged over the 2B anchors. Cosine = product of rows each divided by max(norm, 1e-8).
 */
export function ntXentLoss(h1: tf.Tensor2D, h2: tf.Tensor2D, temperature = 0.1): tf.Scalar {
  return tf.tidy(() => {
    const b = h1.shape[0];
    if (h2.shape[0] !== b) throw new Error(`ntXentLoss: views have different batch sizes ${b} and ${h2.shape[0]}`);
    const z = tf.concat([h1, h2], 0);
    const zn = tf.div(z, tf.maximum(tf.norm(z, 'euclidean', -1, true), 1e-8));
    const cos = tf.matMul(zn, zn, false, true);
    const logits = tf.div(cos, temperature);
    // Self-similarity is removed from the softmax by a -1e9 offset (exp underflows to exactly 0 in float32).
    const n = 2 * b;
    const masked = tf.sub(logits, tf.mul(tf.eye(n), 1e9));
    const positiveIndex = tf.tensor1d(
      Array.from({ length: n }, (_, i) => (i < b ? i + b : i - b)),
      'int32',
    );
    const positives = tf.oneHot(positiveIndex, n);
    const logp = tf.logSoftmax(masked, 1);
    return tf.neg(tf.mean(tf.sum(tf.mul(logp, positives), 1))) as tf.Scalar;
  });
}

/**
 * Positions (flat indices into [B·L]) and original ids of the tokens selected for MLM: labels != -100.
 * Reads the labels synchronously (they are input data, not computed), like torch's boolean-mask indexing.
 */
export function selectedMlmPositions(labels: tf.Tensor2D): { positions: Int32Array; targets: Int32Array } {
  const flat = labels.dataSync();
  const positions: number[] = [];
  const targets: number[] = [];
  for (let i = 0; i < flat.length; i++) {
    if (flat[i] !== -100) {
      positions.push(i);
      targets.push(flat[i]);
    }
  }
  return { positions: Int32Array.from(positions), targets: Int32Array.from(targets) };
}

/**
 * Masked-LM cross-entropy per sample (declip.py: CE of text_label_predictor(word_features) at the selected positions
 * vs. the original ids), returned as per-sample sums and counts so micro-batches concatenate; the loss is
 * Σ sums / Σ counts (mlmLossFromSums) = the seed's mean over all selected positions of the batch.
 * `predict` maps selected word-feature rows [N, W] to vocabulary logits [N, V].
 */
export function mlmPerSample(
  wordFeatures: tf.Tensor3D,
  labels: tf.Tensor2D,
  predict: (rows: tf.Tensor2D) => tf.Tensor,
): { sum: tf.Tensor1D; count: tf.Tensor1D } {
  const [b, l, w] = wordFeatures.shape;
  if (labels.shape[0] !== b || labels.shape[1] !== l) {
    throw new Error(`mlm: labels [${labels.shape}] do not match word features [${wordFeatures.shape}]`);
  }
  const { positions, targets } = selectedMlmPositions(labels);
  const counts = new Float32Array(b);
  const sampleOf = new Int32Array(positions.length);
  for (let i = 0; i < positions.length; i++) {
    sampleOf[i] = Math.floor(positions[i] / l);
    counts[sampleOf[i]] += 1;
  }
  return tf.tidy(() => {
    const count = tf.tensor1d(counts);
    if (positions.length === 0) return { sum: tf.zeros([b]) as tf.Tensor1D, count };
    const rows = tf.gather(wordFeatures.reshape([b * l, w]), tf.tensor1d(positions, 'int32')) as tf.Tensor2D;
    const logits = predict(rows) as tf.Tensor2D;
    const v = logits.shape[1];
    for (const t of targets)
      if (t < 0 || t >= v) throw new Error(`mlm: label id ${t} outside the vocabulary [0, ${v})`);
    const logp = tf.logSoftmax(logits, 1).reshape([-1]);
    const picked = tf.gather(
      logp,
      tf.tensor1d(
        Int32Array.from(targets, (t, i) => i * v + t),
        'int32',
      ),
    );
    const sum = tf.unsortedSegmentSum(tf.neg(picked), tf.tensor1d(sampleOf, 'int32'), b) as tf.Tensor1D;
    return { sum, count };
  });
}

/** Σ per-sample CE sums / Σ counts; 0 when no position was selected (the seed would give NaN). */
export function mlmLossFromSums(sum: tf.Tensor1D, count: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(sum), tf.maximum(tf.sum(count), 1)) as tf.Scalar);
}

export interface FilipOptions {
  /** Tokens kept per side by the own-pair row/column sums (seed HEAD: 16). 0 or ≥ token count keeps all tokens. */
  topK: number;
  /** [B, T] 1 for real text tokens, 0 for padding; when given, padding is excluded (the FILIP paper's masking). */
  textMask?: tf.Tensor2D;
}

/**
 * Top-k selection of each sample's tokens (filip.py::get_weighted_dense_logits, select_topk=True): C_i = X_i Y_iᵀ;
 * keep the k image tokens with the largest row sums and the k text tokens with the largest column sums.
 * With a text mask, padding never wins a text slot unless fewer than k real tokens exist; `textSelectedMask`
 * marks which selected text slots are real tokens.
 */
export function filipSelectTokens(
  x: tf.Tensor3D,
  y: tf.Tensor3D,
  options: FilipOptions,
): {
  imageSelected: tf.Tensor3D;
  textSelected: tf.Tensor3D;
  textSelectedMask?: tf.Tensor2D;
} {
  return tf.tidy(() => {
    const [b, p, d] = x.shape;
    const t = y.shape[1];
    const kImage = options.topK > 0 ? Math.min(options.topK, p) : p;
    const kText = options.topK > 0 ? Math.min(options.topK, t) : t;
    // The selection is read back and re-made as fresh int tensors: indices carry no gradient and TopK (which has
    // no gradient in tfjs) must stay off the taped path from the tokens to the loss.
    const [imageIds, textIds] = tf.tidy(() => {
      const cross = tf.matMul(x, y, false, true); // [B, P, T]
      let textScores = tf.sum(cross, 1) as tf.Tensor2D; // [B, T]
      if (options.textMask) textScores = tf.add(textScores, tf.mul(tf.sub(options.textMask, 1), 1e9));
      const img = tf.topk(tf.sum(cross, 2) as tf.Tensor2D, kImage).indices.dataSync() as Int32Array;
      const txt = tf.topk(textScores, kText).indices.dataSync() as Int32Array;
      return [
        tf.tensor2d(Int32Array.from(img), [b, kImage], 'int32'),
        tf.tensor2d(Int32Array.from(txt), [b, kText], 'int32'),
      ];
    });
    const rowStart = (n: number) => tf.mul(tf.range(0, b, 1, 'int32').reshape([b, 1]), tf.scalar(n, 'int32'));
    const flatImage = tf.add(imageIds, rowStart(p)).reshape([-1]);
    const flatText = tf.add(textIds, rowStart(t)).reshape([-1]);
    const imageSelected = tf.gather(x.reshape([b * p, d]), flatImage).reshape([b, kImage, d]) as tf.Tensor3D;
    const textSelected = tf.gather(y.reshape([b * t, d]), flatText).reshape([b, kText, d]) as tf.Tensor3D;
    const textSelectedMask = options.textMask
      ? (tf.gather(options.textMask.reshape([-1]), flatText).reshape([b, kText]) as tf.Tensor2D)
      : undefined;
    return textSelectedMask ? { imageSelected, textSelected, textSelectedMask } : { imageSelected, textSelected };
  });
}

/**
 * Late interaction of every full token set A_i [Na, d] against every selected set S_j [k, d]:
 * out[i, j] = mean_{a} max_{q} ⟨A_ia, S_jq⟩ (mean weighted by `fullMask`, max restricted by `selectedMask`).
 */
export function lateInteraction(
  full: tf.Tensor3D,
  selected: tf.Tensor3D,
  fullMask?: tf.Tensor2D,
  selectedMask?: tf.Tensor2D,
): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, na, d] = full.shape;
    const [c, k] = selected.shape;
    let sim = tf.matMul(full.reshape([b * na, d]), selected.reshape([c * k, d]), false, true).reshape([b, na, c, k]);
    if (selectedMask) sim = tf.add(sim, tf.mul(tf.sub(selectedMask, 1), 1e4).reshape([1, 1, c, k]));
    const best = maxLastAxis(sim); // [B, Na, C]
    if (!fullMask) return tf.mean(best, 1) as tf.Tensor2D;
    const w = fullMask.reshape([b, na, 1]);
    return tf.div(tf.sum(tf.mul(best, w), 1), tf.sum(w, 1)) as tf.Tensor2D;
  });
}

/**
 * FILIP dense logits (filip.py): x [B, P, d], y [B, T, d] already L2-normalised tokens, s_d the dense scale.
 * image→text ℓ^I_ij = s_d · mean_p max_{q ∈ sel(j)} ⟨x_ip, y_jq⟩; text→image ℓ^T_ji = s_d · mean_q max_{p ∈ sel(i)} ⟨y_jq, x_ip⟩.
 */
export function filipLogits(
  x: tf.Tensor3D,
  y: tf.Tensor3D,
  scale: tf.Scalar,
  options: FilipOptions,
): {
  perImage: tf.Tensor2D;
  perText: tf.Tensor2D;
} {
  return tf.tidy(() => {
    const sel = filipSelectTokens(x, y, options);
    const perImage = tf.mul(
      scale,
      lateInteraction(x, sel.textSelected, undefined, sel.textSelectedMask),
    ) as tf.Tensor2D;
    const perText = tf.mul(scale, lateInteraction(y, sel.imageSelected, options.textMask)) as tf.Tensor2D;
    return { perImage, perText };
  });
}

/** FILIP loss ½ [CE(ℓ^I) + CE(ℓ^T)] with diagonal labels. */
export function filipLoss(x: tf.Tensor3D, y: tf.Tensor3D, scale: tf.Scalar, options: FilipOptions): tf.Scalar {
  return tf.tidy(() => {
    const { perImage, perText } = filipLogits(x, y, scale, options);
    return pairedCrossEntropy(perImage, perText);
  });
}

/**
 * Dense zero-shot scores for evaluation: score[i, c] = mean_p max_q ⟨x_ip, y_cq⟩ over all tokens of both sides
 * (no selection: selection is defined on own pairs only), optionally excluding text padding via `textMask` [C, T].
 */
export function denseZeroShotScores(x: tf.Tensor3D, y: tf.Tensor3D, textMask?: tf.Tensor2D): tf.Tensor2D {
  return lateInteraction(x, y, undefined, textMask);
}
