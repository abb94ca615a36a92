// Multinomial logistic regression on frozen features, fitted with L-BFGS, with an L2 sweep chosen on a
// validation split (the linear-probe protocol of the CLIP paper). Objective for weight decay lambda:
//   mean_i CE(softmax(W x_i + b), y_i) + lambda/2 * ||W||^2     (the bias is not penalised)
import { lbfgs } from './lbfgs.ts';
import { argmaxRows } from './classification-metrics.ts';

export interface Features {
  data: Float32Array;
  n: number;
  dim: number;
}
export interface LogisticModel {
  weights: Float64Array /* [dim, classes] */;
  bias: Float64Array;
  dim: number;
  classes: number;
  lambda: number;
}

/** The regularised objective over theta = [W (dim x classes, row-major), b]; writes its gradient into grad. */
export function logisticObjective(
  x: Features,
  labels: ArrayLike<number>,
  classes: number,
  lambda: number,
): (theta: Float64Array, grad: Float64Array) => number {
  const { n, dim } = x;
  if (labels.length !== n) throw new Error(`logistic regression: ${labels.length} labels for ${n} samples`);
  const logits = new Float64Array(classes);
  return (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    const bOff = dim * classes;
    for (let i = 0; i < n; i++) {
      const row = i * dim;
      for (let c = 0; c < classes; c++) logits[c] = theta[bOff + c];
      for (let k = 0; k < dim; k++) {
        const v = x.data[row + k];
        if (v === 0) continue;
        const w = k * classes;
        for (let c = 0; c < classes; c++) logits[c] += v * theta[w + c];
      }
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, logits[c]);
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        logits[c] = Math.exp(logits[c] - max);
        sum += logits[c];
      }
      const y = labels[i];
      loss += -Math.log(logits[y] / sum);
      for (let c = 0; c < classes; c++) logits[c] = logits[c] / sum - (c === y ? 1 : 0); // dLoss/dlogit
      for (let k = 0; k < dim; k++) {
        const v = x.data[row + k];
        if (v === 0) continue;
        const w = k * classes;
        for (let c = 0; c < classes; c++) grad[w + c] += v * logits[c];
      }
      for (let c = 0; c < classes; c++) grad[bOff + c] += logits[c];
    }
    let penalty = 0;
    for (let j = 0; j < bOff; j++) {
      grad[j] = grad[j] / n + lambda * theta[j];
      penalty += theta[j] * theta[j];
    }
    for (let c = 0; c < classes; c++) grad[bOff + c] /= n;
    return loss / n + 0.5 * lambda * penalty;
  };
}

export function fitLogisticRegression(
  x: Features,
  labels: ArrayLike<number>,
  classes: number,
  lambda: number,
  options: { maxIterations?: number; init?: LogisticModel } = {},
): LogisticModel {
  const { dim } = x;
  const x0 = new Float64Array(dim * classes + classes);
  if (options.init) {
    x0.set(options.init.weights);
    x0.set(options.init.bias, dim * classes);
  }
  const fg = logisticObjective(x, labels, classes, lambda);
  const result = lbfgs(fg, x0, { maxIterations: options.maxIterations ?? 1000, gradientTolerance: 1e-6 });
  return { weights: result.x.slice(0, dim * classes), bias: result.x.slice(dim * classes), dim, classes, lambda };
}

export function predictScores(model: LogisticModel, x: Features): Float64Array {
  const { dim, classes } = model;
  if (x.dim !== dim) throw new Error(`predictScores: features have dim ${x.dim}, model expects ${dim}`);
  const out = new Float64Array(x.n * classes);
  for (let i = 0; i < x.n; i++) {
    for (let c = 0; c < classes; c++) out[i * classes + c] = model.bias[c];
    for (let k = 0; k < dim; k++) {
      const v = x.data[i * dim + k];
      for (let c = 0; c < classes; c++) out[i * classes + c] += v * model.weights[k * classes + c];
    }
  }
  return out;
}

export function accuracy(model: LogisticModel, x: Features, labels: ArrayLike<number>): number {
  const pred = argmaxRows(predictScores(model, x), x.n, model.classes);
  let hits = 0;
  for (let i = 0; i < x.n; i++) if (pred[i] === labels[i]) hits++;
  return hits / x.n;
}

export interface SweepResult {
  best: LogisticModel;
  tried: Array<{ lambda: number; valAcc1: number }>;
}

/**
 * Choose lambda on the validation split: a coarse log grid over [1e-6, 1e2], then two rounds of refinement
 * around the best value (the CLIP paper's parametric search, simplified). Ties prefer the larger lambda.
 */
export function sweepL2(
  train: Features,
  trainLabels: ArrayLike<number>,
  val: Features,
  valLabels: ArrayLike<number>,
  classes: number,
  options: { maxIterations?: number } = {},
): SweepResult {
  const tried: Array<{ lambda: number; valAcc1: number }> = [];
  const evaluate = (lambda: number): { lambda: number; valAcc1: number; model: LogisticModel } => {
    const model = fitLogisticRegression(train, trainLabels, classes, lambda, options);
    const valAcc1 = accuracy(model, val, valLabels);
    tried.push({ lambda, valAcc1 });
    return { lambda, valAcc1, model };
  };
  let candidates = [-6, -5, -4, -3, -2, -1, 0, 1, 2].map((e) => 10 ** e);
  let best = candidates.map(evaluate).reduce((a, b) => (b.valAcc1 >= a.valAcc1 ? b : a));
  let spread = 1; // decades
  for (let round = 0; round < 2; round++) {
    spread /= 2;
    candidates = [best.lambda * 10 ** -spread, best.lambda * 10 ** spread];
    for (const c of candidates) {
      const r = evaluate(c);
      if (r.valAcc1 > best.valAcc1 || (r.valAcc1 === best.valAcc1 && r.lambda > best.lambda)) best = r;
    }
  }
  return { best: best.model, tried };
}
