// Fused QuickGELU on webgpu: y = x·σ(1.702x) in one dispatch (tfjs: three, each a full pass over the 4x-wide MLP
// activations), and its gradient dx = dy·(σ + 1.702·x·σ·(1 − σ)) in one (tfjs: about six).
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { QUICK_GELU, QUICK_GELU_GRAD } from '../kernels/quick-gelu.ts';
import { allocate, asWebgpu, dispatch, INDEX_WGSL, packUniforms, WORKGROUP, workgroupsFor } from './dispatch.ts';

const FORWARD = `
struct U { n: u32 };
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
${INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let v = x[i];
  y[i] = v * (1.0 / (1.0 + exp(-(v * 1.702))));
}`;

const BACKWARD = `
struct U { n: u32 };
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
${INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let v = x[i];
  let s = 1.0 / (1.0 + exp(-(v * 1.702)));
  dx[i] = dy[i] * (s + 1.702 * v * s * (1.0 - s));
}`;

function elementwise(key: string, code: string, inputs: TensorInfo[], backend: unknown): TensorInfo {
  const b = asWebgpu(backend);
  const x = inputs[inputs.length - 1]!;
  if (x.dtype !== 'float32') throw new Error(`quickGelu: x must be float32, got ${x.dtype}`);
  const n = tf.util.sizeFromShape(x.shape);
  const out = allocate(b, x.shape.slice(), 'float32');
  if (n > 0)
    dispatch(
      b,
      key,
      code,
      [...inputs, out],
      packUniforms([[n, 'u']]),
      workgroupsFor(n, b.device.limits.maxComputeWorkgroupsPerDimension),
    );
  return out;
}

const forward: KernelFunc = ({ inputs, backend }) =>
  elementwise('clip-bench-quick-gelu', FORWARD, [inputs.x as TensorInfo], backend);

const backward: KernelFunc = ({ inputs, backend }) =>
  elementwise('clip-bench-quick-gelu-grad', BACKWARD, [inputs.dy as TensorInfo, inputs.x as TensorInfo], backend);

export function quickGeluWebgpuKernels(): KernelConfig[] {
  return [
    { kernelName: QUICK_GELU, backendName: 'webgpu', kernelFunc: forward },
    { kernelName: QUICK_GELU_GRAD, backendName: 'webgpu', kernelFunc: backward },
  ];
}
