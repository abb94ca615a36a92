import test from 'ava';
import { classificationMetrics, topK, argmaxRows } from '../../src/eval/classification-metrics.ts';
import { retrievalMetrics } from '../../src/eval/retrieval-metrics.ts';
import { lbfgs } from '../../src/eval/lbfgs.ts';
import { fitLogisticRegression, logisticObjective, accuracy, sweepL2 } from '../../src/eval/logistic-regression.ts';
import { Rng } from '../../src/rng.ts';

test('classification metrics on a hand-computed case', (t) => {
  // 4 samples, 6 classes. Rows: correct at top-1; correct at rank 3; wrong (label not in top 5); correct at top-1.
  const scores = [
    0.9,
    0.1,
    0.0,
    0.0,
    0.0,
    0.0, // label 0 -> top1
    0.5,
    0.4,
    0.3,
    0.2,
    0.1,
    0.0, // label 2 -> rank 3 (top5 yes)
    0.5,
    0.4,
    0.3,
    0.2,
    0.1,
    0.0, // label 5 -> rank 6 (top5 no)
    0.0,
    0.0,
    0.0,
    0.0,
    0.0,
    1.0, // label 5 -> top1
  ];
  const m = classificationMetrics(scores, [0, 2, 5, 5], 6);
  t.is(m.acc1, 0.5);
  t.is(m.acc5, 0.75);
  // per-class recall: class0 1/1, class2 0/1, class5 1/2 -> mean over present classes = (1 + 0 + 0.5) / 3
  t.is(m.mean_per_class_recall, 0.5);
  t.true(Number.isNaN(classificationMetrics([1, 0, 0, 1], [0, 1], 2).acc5), 'acc5 is NaN with fewer than 5 classes');
});

test('top-k and argmax break ties towards the lower index', (t) => {
  t.deepEqual(topK([1, 3, 3, 2], 0, 4, 3), [1, 2, 3]);
  t.deepEqual([...argmaxRows([0.5, 0.5, 0.1, 0.2, 0.9, 0.9], 2, 3)], [0, 1]);
  t.throws(() => classificationMetrics([1, 2], [3], 2), { message: /outside/ });
});

test('retrieval recall@k on a hand-computed case', (t) => {
  // 2 images, 4 captions: captions 0,1 -> image 0; captions 2,3 -> image 1.
  const sim = [
    0.9,
    0.1,
    0.8,
    0.2, // image 0: best texts 0 (own), 2, 3, 1
    0.7,
    0.6,
    0.5,
    0.4, // image 1: best texts 0, 1 (other image's), 2 (own) at rank 3
  ];
  const m = retrievalMetrics(sim, 2, [0, 0, 1, 1], [1, 2, 5]);
  t.is(m['text_retrieval_recall@1'], 0.5); // image 0 hit, image 1 miss
  t.is(m['text_retrieval_recall@2'], 0.5);
  t.is(m['text_retrieval_recall@5'], 1);
  // text queries: t0 -> best image 0 (hit); t1 -> image 1 (0.6 > 0.1, miss); t2 -> image 0 (0.8 > 0.5, miss); t3 ->
  // image 1 (0.4 > 0.2, hit)
  t.is(m['image_retrieval_recall@1'], 0.5);
  t.is(m['image_retrieval_recall@2'], 1);
  t.is(m['mean_recall@1'], 0.5);
  t.is(m['mean_recall@2'], 0.75);
});

test('L-BFGS minimises the Rosenbrock function', (t) => {
  const r = lbfgs(
    (x, g) => {
      const [a, b] = [x[0], x[1]];
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    },
    new Float64Array([-1.2, 1]),
    { maxIterations: 500, gradientTolerance: 1e-8, functionTolerance: 0 },
  );
  t.true(Math.abs(r.x[0] - 1) < 1e-4 && Math.abs(r.x[1] - 1) < 1e-4, `ended at ${[...r.x]}`);
});

function blobs(n: number, seed: number) {
  const rng = new Rng(seed),
    dim = 5,
    classes = 3;
  const centres = [
    [2, 0, 0, 0, 0],
    [0, 2, 0, 0, 0],
    [0, 0, 2, 0, 0],
  ];
  const data = new Float32Array(n * dim),
    labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let k = 0; k < dim; k++) data[i * dim + k] = centres[c][k] + rng.normal(0, 0.7);
  }
  return { x: { data, n, dim }, labels, classes };
}

test('logistic regression: gradient matches finite differences and the probe separates blobs', (t) => {
  const { x, labels, classes } = blobs(300, 1);
  const fg = logisticObjective(x, labels, classes, 0.01);
  const rng = new Rng(5);
  const theta = Float64Array.from({ length: x.dim * classes + classes }, () => rng.normal(0, 0.3));
  const grad = new Float64Array(theta.length),
    scratch = new Float64Array(theta.length);
  fg(theta, grad);
  for (const j of [0, 4, 7, 14, theta.length - 1]) {
    const h = 1e-5,
      saved = theta[j];
    theta[j] = saved + h;
    const fp = fg(theta, scratch);
    theta[j] = saved - h;
    const fm = fg(theta, scratch);
    theta[j] = saved;
    t.true(Math.abs((fp - fm) / (2 * h) - grad[j]) < 1e-6, `d/dtheta[${j}]`);
  }
  const model = fitLogisticRegression(x, labels, classes, 1e-3);
  t.true(accuracy(model, x, labels) > 0.9);
  const test = blobs(300, 2);
  t.true(accuracy(model, test.x, test.labels) > 0.85);
  const strong = fitLogisticRegression(x, labels, classes, 100);
  const norm = (w: Float64Array) => Math.sqrt(w.reduce((s, v) => s + v * v, 0));
  t.true(norm(strong.weights) < norm(model.weights) / 10, 'a large L2 penalty shrinks the weights');
  const sweep = sweepL2(x, labels, test.x, test.labels, classes, { maxIterations: 200 });
  t.true(sweep.tried.length >= 9);
  t.true(accuracy(sweep.best, test.x, test.labels) >= Math.max(...sweep.tried.map((r) => r.valAcc1)) - 1e-12);
});
