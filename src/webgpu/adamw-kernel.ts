// AdamW on the GPU in one dispatch per parameter: reads p and g, updates the moments m and v in place, writes the new
// parameter; a gate (float32 [1], 1 = apply) computed on the device by the trainer leaves everything untouched when 0,
// so the step's verdict never has to come back to the host before the update is recorded.
// The arithmetic is the sequence of src/train/adamw.ts (PyTorch's single-tensor AdamW), in float32.
import * as tf from '@tensorflow/tfjs';
import { asWebgpu, allocate, dispatch, INDEX_WGSL, packUniforms, WORKGROUP, workgroupsFor } from './dispatch.ts';

const CODE = `
struct U { n: u32, decay: f32, b1: f32, c1: f32, b2: f32, c2: f32, eps: f32, stepSize: f32, sqrtBc2: f32 };
@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> gate: array<f32>;
@group(0) @binding(6) var<uniform> u: U;
${INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let w = p[i];
  if (gate[0] != 1.0) { out[i] = w; return; }
  let gi = g[i];
  let value = w * u.decay;
  let mi = m[i] * u.b1 + gi * u.c1;
  let vi = v[i] * u.b2 + (gi * gi) * u.c2;
  m[i] = mi;
  v[i] = vi;
  let denom = sqrt(vi) / u.sqrtBc2 + u.eps;
  out[i] = value - (mi / denom) * u.stepSize;
}`;

export interface AdamWScalars {
  decay: number;
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  eps: number;
  stepSize: number;
  sqrtBiasCorrection2: number;
}

/** New parameter tensor (caller assigns it); m and v (owned by the optimiser, never shared) change in place. */
export function adamwUpdate(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  gate: tf.Tensor,
  s: AdamWScalars,
): tf.Tensor {
  const backend = asWebgpu(tf.backend());
  for (const t of [m, v])
    if (backend.tensorMap.get(t.dataId).refCount !== 1)
      throw new Error('adamwUpdate: the moments must not share storage with another tensor');
  const out = allocate(backend, p.shape, 'float32');
  const uniforms = packUniforms([
    [p.size, 'u'],
    [s.decay, 'f'],
    [s.beta1, 'f'],
    [s.oneMinusBeta1, 'f'],
    [s.beta2, 'f'],
    [s.oneMinusBeta2, 'f'],
    [s.eps, 'f'],
    [s.stepSize, 'f'],
    [s.sqrtBiasCorrection2, 'f'],
  ]);
  dispatch(
    backend,
    'clip-bench-adamw',
    CODE,
    [p, g, m, v, out, gate],
    uniforms,
    workgroupsFor(p.size, backend.device.limits.maxComputeWorkgroupsPerDimension),
  );
  return tf.engine().makeTensorFromTensorInfo(out);
}
