// Running the project's own WGSL on tfjs's webgpu backend: the pieces of tfjs-backend-webgpu 4.22's WebGPUBackend a
// kernel needs (typed here), and `dispatch`, which records one compute dispatch into the backend's command stream the
// way the backend records its own programs (same encoder and compute pass, same deferred-submit batching, and the
// bound tensors marked in use so their buffers are not recycled before the GPU ran it).
//
// Unlike tfjs's program model (one output, all inputs read-only), a dispatch binds any tensors read-only or read-write:
// the fused optimiser updates its moments in place and layer norm writes three outputs in one pass.
import * as tf from '@tensorflow/tfjs';
import type { DataType, TensorInfo } from '@tensorflow/tfjs';

interface TensorData {
  resource: GPUBuffer | null;
  values: unknown;
  dtype: DataType;
  shape: number[];
  refCount: number;
}

/** The parts of tfjs-backend-webgpu's WebGPUBackend (4.22.0) used by the project's kernels. */
export interface WebgpuBackend {
  device: GPUDevice;
  queue: GPUQueue;
  tensorMap: { get(dataId: object): TensorData; has(dataId: object): boolean };
  commandQueueOwnedIds: WeakSet<object>;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  dispatchCountInPass: number;
  uniformPendingDisposal: GPUBuffer[];
  bufferManager: {
    acquireBuffer(size: number, usage: number): GPUBuffer;
    numBytesUsed: number;
    numBytesAllocated: number;
    getNumUsedBuffers(): number;
    getNumFreeBuffers(): number;
  };
  uploadToGPU(dataId: object): void;
  makeTensorInfo(shape: number[], dtype: DataType, values?: unknown): TensorInfo;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  shouldExecuteOnCPU(inputs: TensorInfo[], sizeThreshold?: number): boolean;
  runWebGPUProgram(
    program: unknown,
    inputs: TensorInfo[],
    outputDtype: DataType,
    uniforms?: Array<{ type: string; data: number[] }>,
    output?: TensorInfo,
  ): TensorInfo;
}

export function asWebgpu(backend: unknown): WebgpuBackend {
  return backend as WebgpuBackend;
}

/** Threads per workgroup of the project's 1-D kernels. */
export const WORKGROUP = 256;

/**
 * WGSL prelude for 1-D kernels: `index(gid, nwg)` turns the (possibly 2-D, when one dimension would exceed the
 * 65535-workgroup limit) dispatch into a flat element index.
 */
export const INDEX_WGSL = `
fn flatIndex(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * ${WORKGROUP}u;
}`;

/** Workgroup counts covering n elements with WORKGROUP threads each, folded into 2-D beyond the per-dimension limit. */
export function workgroupsFor(n: number, maxPerDimension = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / WORKGROUP));
  if (groups <= maxPerDimension) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDimension);
  return [Math.ceil(groups / y), y, 1];
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function pipelineFor(device: GPUDevice, key: string, code: string): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, (cache = new Map()));
  let p = cache.get(key);
  if (!p) {
    p = device.createComputePipeline({
      layout: 'auto',
      label: key,
      compute: { module: device.createShaderModule({ code, label: key }), entryPoint: 'main' },
    });
    cache.set(key, p);
  }
  return p;
}

/** A GPU buffer for tensor t (uploaded if its values were still on the host). */
export function bufferOf(backend: WebgpuBackend, t: TensorInfo): GPUBuffer {
  backend.uploadToGPU(t.dataId);
  const r = backend.tensorMap.get(t.dataId).resource;
  if (!r) throw new Error('webgpu kernel: tensor has no GPU buffer');
  return r;
}

/** An output tensor of the given shape with its GPU buffer allocated (contents undefined). */
export function allocate(backend: WebgpuBackend, shape: number[], dtype: DataType = 'float32'): TensorInfo {
  const t = backend.makeTensorInfo(shape, dtype);
  if (tf.util.sizeFromShape(shape) > 0) backend.uploadToGPU(t.dataId);
  return t;
}

/**
 * Record one dispatch of `code` (entry point `main`) with `bindings` bound at @binding(0..n-1) in order and, when
 * `uniforms` is given, a uniform buffer at @binding(n). Every declared binding must be used by the shader.
 */
export function dispatch(
  backend: WebgpuBackend,
  key: string,
  code: string,
  bindings: TensorInfo[],
  uniforms: ArrayBuffer | null,
  workgroups: [number, number, number],
): void {
  const pipeline = pipelineFor(backend.device, key, code);
  const entries: GPUBindGroupEntry[] = bindings.map((t, i) => ({
    binding: i,
    resource: { buffer: bufferOf(backend, t) },
  }));
  if (uniforms) {
    const size = Math.max(16, Math.ceil(uniforms.byteLength / 16) * 16);
    const buffer = backend.bufferManager.acquireBuffer(size, GPUBufferUsage.COPY_DST | GPUBufferUsage.UNIFORM);
    backend.queue.writeBuffer(buffer, 0, uniforms, 0, uniforms.byteLength);
    backend.uniformPendingDisposal.push(buffer);
    entries.push({ binding: bindings.length, resource: { buffer, offset: 0, size } });
  }
  for (const t of bindings) backend.commandQueueOwnedIds.add(t.dataId);
  const bindGroup = backend.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  backend.ensureCommandEncoderReady();
  if (!backend.computePassEncoder) backend.computePassEncoder = backend.commandEncoder!.beginComputePass({});
  backend.computePassEncoder.setPipeline(pipeline);
  backend.computePassEncoder.setBindGroup(0, bindGroup);
  backend.computePassEncoder.dispatchWorkgroups(workgroups[0], workgroups[1], workgroups[2]);
  backend.dispatchCountInPass++;
  if (tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
}

/** Pack uniform values (u32 for integers marked 'u', f32 otherwise) into 4-byte slots, in order. */
export function packUniforms(values: Array<[number, 'u' | 'f']>): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((values.length * 4) / 16) * 16));
  const u = new Uint32Array(buf),
    f = new Float32Array(buf);
  values.forEach(([v, kind], i) => {
    if (kind === 'u') u[i] = v;
    else f[i] = v;
  });
  return buf;
}
