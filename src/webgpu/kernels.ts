// The project's kernels for tfjs-backend-webgpu 4.22: fixes for its silent wrong results, and the deterministic mode.
//
//   Cast         int32/bool -> float32 is a no-op in 4.22 (the int buffer is relabelled float32); a Transpose after it
//                (also the one inside reductions over outer axes) then generates invalid WGSL and returns garbage.
//                Here the conversion really converts.
//   AddN         one program binds every input: with more inputs than the device's storage buffers per shader stage
//                (8 by default) the pipeline is invalid and the sum is garbage (the gradient norm adds up one partial
//                sum per parameter). Here inputs are added in chunks that fit.
//   UnsortedSegmentSum   (the gradient of every embedding gather) accumulates with float atomics: the order of the
//                additions, hence the last bits, change run to run. In deterministic mode each output element sums
//                its rows in ascending row order (one chain per segment).
//   BatchMatMul, _FusedMatMul   tfjs picks a split-K program (float atomics again) for long inner dimensions with few
//                output tiles; in deterministic mode the same shapes use the small-output-tile program instead.
// And, for speed, the fused layer norm and QuickGELU (src/webgpu/layer-norm-kernel.ts, quick-gelu-kernel.ts).
// Every binding over the device's maxStorageBufferBindingSize is refused with a clear error (src/webgpu/backend.ts),
// because 4.22 binds it anyway and reads zeros past the limit.
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { allocate, asWebgpu, dispatch, INDEX_WGSL, packUniforms, WORKGROUP, workgroupsFor } from './dispatch.ts';
import type { WebgpuBackend } from './dispatch.ts';
import { layerNormWebgpuKernels } from './layer-norm-kernel.ts';
import { quickGeluWebgpuKernels } from './quick-gelu-kernel.ts';

/** Deterministic kernels (no float atomics) unless CLIP_BENCH_DETERMINISTIC=0. */
export function deterministicMode(): boolean {
  const v = process.env.CLIP_BENCH_DETERMINISTIC;
  return v === undefined || v === '' || v === '1' || v === 'true';
}

function groups(backend: WebgpuBackend, n: number): [number, number, number] {
  return workgroupsFor(n, backend.device.limits.maxComputeWorkgroupsPerDimension);
}

// ---- Cast ---------------------------------------------------------------------------------------------------------

const CAST_TO_FLOAT = `
struct U { n: u32 };
@group(0) @binding(0) var<storage, read> x: array<i32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
${INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i < u.n) { y[i] = f32(x[i]); }
}`;

function castKernel(stock: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs.x as TensorInfo;
    const dtype = (args.attrs as NamedAttrMap).dtype as string;
    const backend = asWebgpu(args.backend);
    // small tensors whose values are still on the host run on the CPU in tfjs, where the stock cast converts
    if (dtype !== 'float32' || (x.dtype !== 'int32' && x.dtype !== 'bool') || backend.shouldExecuteOnCPU([x]))
      return stock(args);
    const n = tf.util.sizeFromShape(x.shape);
    const out = allocate(backend, x.shape, 'float32');
    if (n > 0)
      dispatch(backend, 'clip-bench-cast-float', CAST_TO_FLOAT, [x, out], packUniforms([[n, 'u']]), groups(backend, n));
    return out;
  };
}

// ---- AddN ---------------------------------------------------------------------------------------------------------

function addNKernel(stock: KernelFunc): KernelFunc {
  return (args) => {
    const backend = asWebgpu(args.backend);
    let inputs = args.inputs as unknown as TensorInfo[];
    // output + inputs are storage buffers of one stage
    const chunk = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
    const made: TensorInfo[] = [];
    while (inputs.length > chunk) {
      const next: TensorInfo[] = [];
      for (let i = 0; i < inputs.length; i += chunk) {
        const part = inputs.slice(i, i + chunk);
        if (part.length === 1) next.push(part[0]!);
        else {
          const sum = stock({ ...args, inputs: part as unknown as tf.NamedTensorInfoMap }) as TensorInfo;
          made.push(sum);
          next.push(sum);
        }
      }
      inputs = next;
    }
    const out = stock({ ...args, inputs: inputs as unknown as tf.NamedTensorInfoMap }) as TensorInfo;
    for (const t of made) backend.disposeData(t.dataId);
    return out;
  };
}

// ---- UnsortedSegmentSum, deterministic ------------------------------------------------------------------------------

const SEGMENT_FIRST = `
struct U { n: u32, segments: u32 };
@group(0) @binding(0) var<storage, read> ids: array<i32>;
@group(0) @binding(1) var<storage, read_write> first: array<atomic<i32>>;
@group(0) @binding(2) var<uniform> u: U;
${INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let s = ids[i];
  if (s >= 0 && u32(s) < u.segments) { atomicMin(&first[s], i32(i)); }
}`;

const SEGMENT_NEXT = `
struct U { n: u32 };
@group(0) @binding(0) var<storage, read> ids: array<i32>;
@group(0) @binding(1) var<storage, read_write> next: array<i32>;
@group(0) @binding(2) var<uniform> u: U;
${INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= u.n) { return; }
  let s = ids[i];
  var j = i + 1u;
  loop {
    if (j >= u.n || ids[j] == s) { break; }
    j = j + 1u;
  }
  next[i] = i32(j);
}`;

const SEGMENT_SUM = `
struct U { total: u32, width: u32, n: u32 };
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> first: array<i32>;
@group(0) @binding(2) var<storage, read> next: array<i32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> u: U;
${INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = flatIndex(gid, nwg);
  if (o >= u.total) { return; }
  let s = o / u.width;
  let c = o - s * u.width;
  var i = first[s];
  var acc = 0.0;
  loop {
    if (u32(i) >= u.n) { break; }
    acc = acc + x[u32(i) * u.width + c];
    i = next[u32(i)];
  }
  y[o] = acc;
}`;

const FILL_I32 = `
struct U { n: u32, value: i32 };
@group(0) @binding(0) var<storage, read_write> y: array<i32>;
@group(0) @binding(1) var<uniform> u: U;
${INDEX_WGSL}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i < u.n) { y[i] = u.value; }
}`;

function segmentSumKernel(stock: KernelFunc): KernelFunc {
  return (args) => {
    if (!deterministicMode()) return stock(args);
    const backend = asWebgpu(args.backend);
    const x = args.inputs.x as TensorInfo;
    const ids = args.inputs.segmentIds as TensorInfo;
    const segments = (args.attrs as NamedAttrMap).numSegments as number;
    if (x.dtype !== 'float32' || ids.shape.length !== 1) return stock(args);
    const n = ids.shape[0]!;
    const width = n === 0 ? 0 : tf.util.sizeFromShape(x.shape) / n;
    const outShape = [segments, ...x.shape.slice(1)];
    const out = allocate(backend, outShape, 'float32');
    const total = segments * width;
    if (total === 0) return out;
    const first = allocate(backend, [segments], 'int32');
    const next = allocate(backend, [Math.max(n, 1)], 'int32');
    const fill = packUniforms([
      [segments, 'u'],
      [n, 'u'],
    ]);
    dispatch(backend, 'clip-bench-fill-i32', FILL_I32, [first], fill, groups(backend, segments));
    if (n > 0) {
      const un = packUniforms([
        [n, 'u'],
        [segments, 'u'],
      ]);
      dispatch(backend, 'clip-bench-segment-first', SEGMENT_FIRST, [ids, first], un, groups(backend, n));
      dispatch(
        backend,
        'clip-bench-segment-next',
        SEGMENT_NEXT,
        [ids, next],
        packUniforms([[n, 'u']]),
        groups(backend, n),
      );
    }
    const us = packUniforms([
      [total, 'u'],
      [width, 'u'],
      [n, 'u'],
    ]);
    dispatch(backend, 'clip-bench-segment-sum', SEGMENT_SUM, [x, first, next, out], us, groups(backend, total));
    backend.disposeData(first.dataId);
    backend.disposeData(next.dataId);
    return out;
  };
}

// ---- MatMul: no split-K in deterministic mode ----------------------------------------------------------------------

/** MatMulProgramType values of tfjs-backend-webgpu 4.22. */
const REDUCE = 0,
  SMALL_OUTPUT = 2,
  PACKED = 3;

function matMulKernel(stock: KernelFunc): KernelFunc {
  return (args) => {
    if (!deterministicMode() || tf.env().getNumber('WEBGPU_MATMUL_PROGRAM_TYPE') >= 0) return stock(args);
    const a = args.inputs.a as TensorInfo,
      b = args.inputs.b as TensorInfo;
    const attrs = args.attrs as NamedAttrMap;
    const ta = attrs.transposeA === true,
      tb = attrs.transposeB === true;
    const ra = a.shape.length,
      rb = b.shape.length;
    const outerA = ta ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const outerB = tb ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    const inner = tb ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const batch = Math.max(tf.util.sizeFromShape(a.shape.slice(0, -2)), tf.util.sizeFromShape(b.shape.slice(0, -2)));
    // the 4.22 heuristic, split-K excluded (it is chosen only for batch 1 with an inner dimension of 2000 or more)
    if (!(batch === 1 && inner >= 2000)) return stock(args);
    const threshold =
      tf.env().getNumber('WEBGPU_THRESHOLD_TO_INCREASE_WORKGROUPS_FOR_MATMUL') > 0
        ? tf.env().getNumber('WEBGPU_THRESHOLD_TO_INCREASE_WORKGROUPS_FOR_MATMUL')
        : ((args.backend as { thresholdToIncreaseWorkgroups?: number }).thresholdToIncreaseWorkgroups ?? 8);
    const tiles = batch * Math.ceil(outerA / 32) * Math.ceil(outerB / 32);
    const few = tiles <= threshold || (outerA <= 8 && tiles <= threshold * 2);
    const type = !few ? PACKED : batch * outerA * outerB <= 128 ? REDUCE : SMALL_OUTPUT;
    tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', type);
    try {
      return stock(args);
    } finally {
      tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', -1);
    }
  };
}

// ---- registration ---------------------------------------------------------------------------------------------------

let registered = false;

/** Replace the stock webgpu kernels above (after @tensorflow/tfjs-backend-webgpu registered its own). Idempotent. */
export function registerWebgpuKernels(): void {
  if (registered) return;
  const wrap = (name: string, make: (stock: KernelFunc) => KernelFunc) => {
    const stock = tf.getKernel(name, 'webgpu');
    if (!stock)
      throw new Error(`webgpu kernel ${name} is not registered: import @tensorflow/tfjs-backend-webgpu first`);
    const config: KernelConfig = { ...stock, kernelFunc: make(stock.kernelFunc) };
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel(config);
  };
  wrap('Cast', castKernel);
  wrap('AddN', addNKernel);
  wrap('UnsortedSegmentSum', segmentSumKernel);
  wrap('BatchMatMul', matMulKernel);
  wrap('_FusedMatMul', matMulKernel);
  // the project's fused kernels (src/kernels/layer-norm.ts and quick-gelu.ts register the gradients);
  // CLIP_BENCH_WEBGPU_FUSED=0 leaves
  // them out (the op composition runs instead), for comparisons
  if (process.env.CLIP_BENCH_WEBGPU_FUSED !== '0') {
    for (const k of [...layerNormWebgpuKernels(), ...quickGeluWebgpuKernels()]) tf.registerKernel(k);
  }
  registered = true;
}
