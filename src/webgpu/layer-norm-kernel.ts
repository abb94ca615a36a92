// Fused layer norm on webgpu (the project's ClipBenchLayerNorm / ClipBenchLayerNormGrad kernels, src/kernels/
// layer-norm.ts): composed from tfjs ops a layer norm is ~10 dispatches forward and ~20 backward; here it is one
// forward (y, mean, rstd: one workgroup per row, tree reductions in workgroup memory) and three backward (dx per row;
// dgamma/dbeta as per-chunk column sums, then a fixed-order sum of the chunks, so the result is deterministic).
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { LAYER_NORM, LAYER_NORM_GRAD } from '../kernels/layer-norm.ts';
import {
  allocate,
  asWebgpu,
  dispatch,
  packUniforms,
  WORKGROUP,
  workgroupsFor,
  type WebgpuBackend,
} from './dispatch.ts';

const REDUCE = (name: string) => `
  ${name}[li] = acc;
  workgroupBarrier();
  for (var k = ${WORKGROUP / 2}u; k > 0u; k = k >> 1u) {
    if (li < k) { ${name}[li] = ${name}[li] + ${name}[li + k]; }
    workgroupBarrier();
  }`;

const FORWARD = `
struct U { rows: u32, d: u32, eps: f32 };
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
var<workgroup> part: array<f32, ${WORKGROUP}>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let row = wid.x + wid.y * nwg.x;
  let live = row < u.rows;
  let base = row * u.d;
  var acc = 0.0;
  if (live) { for (var i = li; i < u.d; i = i + ${WORKGROUP}u) { acc = acc + x[base + i]; } }
  ${REDUCE('part')}
  let mu = part[0] / f32(u.d);
  workgroupBarrier();
  acc = 0.0;
  if (live) { for (var i = li; i < u.d; i = i + ${WORKGROUP}u) { let c = x[base + i] - mu; acc = acc + c * c; } }
  ${REDUCE('part')}
  let rs = 1.0 / sqrt(part[0] / f32(u.d) + u.eps);
  if (live) {
    if (li == 0u) { mean[row] = mu; rstd[row] = rs; }
    for (var i = li; i < u.d; i = i + ${WORKGROUP}u) { y[base + i] = (x[base + i] - mu) * rs * gamma[i] + beta[i]; }
  }
}`;

const BACKWARD_DX = `
struct U { rows: u32, d: u32 };
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
var<workgroup> sums: array<f32, ${WORKGROUP}>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let row = wid.x + wid.y * nwg.x;
  let live = row < u.rows;
  let base = row * u.d;
  var mu = 0.0;
  var rs = 0.0;
  if (live) { mu = mean[row]; rs = rstd[row]; }
  var acc = 0.0;
  if (live) { for (var i = li; i < u.d; i = i + ${WORKGROUP}u) { acc = acc + dy[base + i] * gamma[i]; } }
  ${REDUCE('sums')}
  let mg = sums[0] / f32(u.d);
  workgroupBarrier();
  acc = 0.0;
  if (live) {
    for (var i = li; i < u.d; i = i + ${WORKGROUP}u) { acc = acc + dy[base + i] * gamma[i] * (x[base + i] - mu) * rs; }
  }
  ${REDUCE('sums')}
  let mgx = sums[0] / f32(u.d);
  if (live) {
    for (var i = li; i < u.d; i = i + ${WORKGROUP}u) {
      let xh = (x[base + i] - mu) * rs;
      dx[base + i] = rs * (dy[base + i] * gamma[i] - mg - xh * mgx);
    }
  }
}`;

/** Rows per chunk of the column sums. */
const CHUNK = 128;

const BACKWARD_PARTIAL = `
struct U { rows: u32, d: u32, chunks: u32 };
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
@group(0) @binding(5) var<uniform> u: U;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * ${WORKGROUP}u;
  if (t >= u.chunks * u.d) { return; }
  let chunk = t / u.d;
  let c = t - chunk * u.d;
  var g = 0.0;
  var b = 0.0;
  let end = min(u.rows, (chunk + 1u) * ${CHUNK}u);
  for (var r = chunk * ${CHUNK}u; r < end; r = r + 1u) {
    let v = dy[r * u.d + c];
    g = g + v * (x[r * u.d + c] - mean[r]) * rstd[r];
    b = b + v;
  }
  partial[t] = g;
  partial[u.chunks * u.d + t] = b;
}`;

const BACKWARD_COLUMNS = `
struct U { d: u32, chunks: u32 };
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= u.d) { return; }
  var g = 0.0;
  var b = 0.0;
  for (var k = 0u; k < u.chunks; k = k + 1u) {
    g = g + partial[k * u.d + c];
    b = b + partial[(u.chunks + k) * u.d + c];
  }
  dgamma[c] = g;
  dbeta[c] = b;
}`;

function rowsAndWidth(x: TensorInfo, gamma: TensorInfo): { rows: number; d: number } {
  const d = x.shape[x.shape.length - 1]!;
  if (x.dtype !== 'float32') throw new Error(`layerNorm: x must be float32, got ${x.dtype}`);
  if (gamma.shape.length !== 1 || gamma.shape[0] !== d)
    throw new Error(`layerNorm: gamma shape [${gamma.shape}] does not match the last axis ${d} of [${x.shape}]`);
  return { rows: tf.util.sizeFromShape(x.shape) / d, d };
}

/** One workgroup per row, folded into 2-D past the per-dimension limit. */
function rowGroups(backend: WebgpuBackend, rows: number): [number, number, number] {
  const max = backend.device.limits.maxComputeWorkgroupsPerDimension;
  if (rows <= max) return [Math.max(rows, 1), 1, 1];
  const y = Math.ceil(rows / max);
  return [Math.ceil(rows / y), y, 1];
}

const forward: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = asWebgpu(b);
  const { x, gamma, beta } = inputs as Record<string, TensorInfo>;
  const { rows, d } = rowsAndWidth(x!, gamma!);
  const rowShape = x!.shape.slice(0, -1);
  const y = allocate(backend, x!.shape.slice(), 'float32');
  const mean = allocate(backend, rowShape, 'float32');
  const rstd = allocate(backend, rowShape, 'float32');
  if (rows === 0) return [y, mean, rstd];
  const u = packUniforms([
    [rows, 'u'],
    [d, 'u'],
    [(attrs as { epsilon: number }).epsilon, 'f'],
  ]);
  dispatch(backend, 'clip-bench-layer-norm', FORWARD, [x!, gamma!, beta!, y, mean, rstd], u, rowGroups(backend, rows));
  return [y, mean, rstd];
};

const backward: KernelFunc = ({ inputs, backend: b }) => {
  const backend = asWebgpu(b);
  const { dy, x, mean, rstd, gamma } = inputs as Record<string, TensorInfo>;
  const { rows, d } = rowsAndWidth(x!, gamma!);
  const dx = allocate(backend, x!.shape.slice(), 'float32');
  const dgamma = allocate(backend, [d], 'float32');
  const dbeta = allocate(backend, [d], 'float32');
  const chunks = Math.max(1, Math.ceil(rows / CHUNK));
  const partial = allocate(backend, [2, chunks, d], 'float32');
  const u2 = packUniforms([
    [rows, 'u'],
    [d, 'u'],
  ]);
  if (rows > 0) {
    dispatch(
      backend,
      'clip-bench-layer-norm-dx',
      BACKWARD_DX,
      [dy!, x!, mean!, rstd!, gamma!, dx],
      u2,
      rowGroups(backend, rows),
    );
    const u3 = packUniforms([
      [rows, 'u'],
      [d, 'u'],
      [chunks, 'u'],
    ]);
    dispatch(
      backend,
      'clip-bench-layer-norm-partial',
      BACKWARD_PARTIAL,
      [dy!, x!, mean!, rstd!, partial],
      u3,
      workgroupsFor(chunks * d, backend.device.limits.maxComputeWorkgroupsPerDimension),
    );
  }
  const uc = packUniforms([
    [d, 'u'],
    [rows > 0 ? chunks : 0, 'u'],
  ]);
  dispatch(backend, 'clip-bench-layer-norm-columns', BACKWARD_COLUMNS, [partial, dgamma, dbeta], uc, [
    Math.ceil(d / WORKGROUP),
    1,
    1,
  ]);
  backend.disposeData(partial.dataId);
  return [dx, dgamma, dbeta];
};

export function layerNormWebgpuKernels(): KernelConfig[] {
  return [
    { kernelName: LAYER_NORM, backendName: 'webgpu', kernelFunc: forward },
    { kernelName: LAYER_NORM_GRAD, backendName: 'webgpu', kernelFunc: backward },
  ];
}
