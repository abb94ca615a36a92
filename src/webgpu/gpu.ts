// The process's WebGPU device, through Dawn's Node binding (the `webgpu` package: prebuilt dawn.node, Vulkan on Linux,
// Metal on macOS, D3D12 on Windows), and the tfjs `webgpu` backend made on it.
//
// Facts this file is built around (checked with webgpu 0.6.2, tfjs-backend-webgpu 4.22.0, Node 24):
// - tfjs's webgpu backend registers itself only when `navigator.gpu` exists when it is imported; on Node 24
//   `globalThis.navigator` is a getter-only object, so `gpu` is defined on it with Object.defineProperty.
// - One GPU object per process, held until exit: dropping it while tfjs holds the device aborted the process after GC,
//   and a second `create()` crashed. Everything Dawn hands out (GPU, adapter, device) is kept in module state.
// - Dawn frees native objects (bind groups, staging buffers) only when the event loop turns: the training step turns it
//   once per step (its one awaited read), see src/train/trainer.ts.
// - The adapter may be software (Mesa's lavapipe/llvmpipe, SwiftShader): correct but slower than wasm. It is used only
//   when asked for; `auto` takes hardware adapters only.
import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** What the log line and benchmarks report about the adapter. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU rasteriser (lavapipe/llvmpipe, SwiftShader, WARP) or Dawn's fallback adapter. */
  software: boolean;
  /** The limits this project depends on (as granted to the device). */
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxStorageBuffersPerShaderStage: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
  };
  features: string[];
  /** How the adapter was picked (rank-local selection, name filter), for the log line. */
  selection: string;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: object;
}

interface GpuState {
  gpu: GPU;
  adapter: GPUAdapter | null;
  device: GPUDevice | null;
  summary: AdapterSummary | null;
  selection: string;
  /** The tfjs backend built on `device` (one per process). */
  backend: tf.KernelBackend | null;
}

let state: GpuState | null = null;
let loadFailure: string | null = null;

/** Keeps Dawn's objects reachable until the process exits (module state alone is enough, this says it out loud). */
const HOLD = Symbol.for('clip-bench.webgpu');

/**
 * Whether this machine may have a hardware GPU that Vulkan/Metal/D3D12 can drive, without loading Dawn: on Linux a
 * DRM render node or an NVIDIA device node; elsewhere always (Dawn decides). Auto selection skips WebGPU without one.
 */
export function mayHaveHardwareGpu(): boolean {
  if (process.platform !== 'linux') return true;
  if (existsSync('/dev/nvidiactl') || existsSync('/dev/nvidia0')) return true;
  try {
    return readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** The local rank under mpirun/srun (OpenMPI, MPICH, Slurm), or null outside a launcher. */
export function localRank(): { rank: number; size: number } | null {
  const env = process.env;
  const rank = env.OMPI_COMM_WORLD_LOCAL_RANK ?? env.MPI_LOCALRANKID ?? env.SLURM_LOCALID;
  if (rank === undefined) return null;
  const size = env.OMPI_COMM_WORLD_LOCAL_SIZE ?? env.MPI_LOCALNRANKS ?? env.SLURM_NTASKS_PER_NODE ?? '1';
  const r = Number(rank),
    s = Number(size);
  return Number.isInteger(r) && r >= 0 ? { rank: r, size: Number.isInteger(s) && s > 0 ? s : 1 } : null;
}

/** PCI addresses (domain:bus:device.function) of display-class devices, sorted: the GPUs a node's ranks share out. */
function gpuPciAddresses(): string[] {
  try {
    const root = '/sys/bus/pci/devices';
    return readdirSync(root)
      .filter((d) => {
        try {
          return readFileSync(`${root}/${d}/class`, 'utf8').trim().startsWith('0x03');
        } catch {
          return false;
        }
      })
      .sort();
  } catch {
    return [];
  }
}

/**
 * Under a launcher with several ranks on a node, give each local rank its own GPU before Vulkan starts: Mesa's
 * device-select layer (shipped with mesa-vulkan-drivers, an implicit Vulkan layer that also filters NVIDIA's driver)
 * takes `DRI_PRIME=pci-DDDD_BB_DD_F`. An explicit DRI_PRIME / MESA_VK_DEVICE_SELECT is left alone.
 */
function selectRankLocalGpu(): string {
  const local = localRank();
  if (!local || local.size <= 1) return 'first adapter';
  if (process.env.DRI_PRIME || process.env.MESA_VK_DEVICE_SELECT) return 'DRI_PRIME/MESA_VK_DEVICE_SELECT as set';
  const gpus = gpuPciAddresses();
  if (gpus.length <= 1) return `local rank ${local.rank}/${local.size}: ${gpus.length} GPU on this node, shared`;
  const pci = gpus[local.rank % gpus.length]!;
  process.env.DRI_PRIME = `pci-${pci.replace(/[:.]/g, '_')}`;
  return `local rank ${local.rank}/${local.size}: GPU ${local.rank % gpus.length} of ${gpus.length} (PCI ${pci})`;
}

/** Load Dawn once and make `navigator.gpu`; returns a one-line reason when that is impossible here. */
async function loadGpu(): Promise<GpuState | string> {
  if (state) return state;
  if (loadFailure) return loadFailure;
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    loadFailure = `the webgpu package (Dawn) failed to load: ${firstLine((e as Error).message)}`;
    return loadFailure;
  }
  const selection = selectRankLocalGpu();
  Object.assign(globalThis, dawn.globals);
  const flags: string[] = [];
  const name = process.env.CLIP_BENCH_WEBGPU_ADAPTER;
  if (name) flags.push(`adapter=${name}`);
  let gpu: GPU;
  try {
    gpu = dawn.create(flags);
  } catch (e) {
    loadFailure = `Dawn could not start: ${firstLine((e as Error).message)}`;
    return loadFailure;
  }
  Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true, enumerable: true });
  state = {
    gpu,
    adapter: null,
    device: null,
    summary: null,
    selection: name ? `${selection}, name filter '${name}'` : selection,
    backend: null,
  };
  (globalThis as Record<symbol, unknown>)[HOLD] = state;
  return state;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|microsoft basic render/i;

function summarise(adapter: GPUAdapter, device: GPUDevice, selection: string): AdapterSummary {
  const info = adapter.info;
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const l = device.limits;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software:
      fallback ||
      info.architecture === 'software' ||
      SOFTWARE.test(`${info.device} ${info.description} ${info.vendor}`),
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
    features: [...device.features].map(String).sort(),
    selection,
  };
}

/** Features the project's kernels can use when the adapter has them. */
const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'];

/**
 * The adapter and device, created once per process (later calls return the same). Resolves to a one-line reason
 * (no Dawn, no Vulkan driver, no adapter) when there is none.
 */
export async function acquireDevice(): Promise<{ device: GPUDevice; summary: AdapterSummary } | string> {
  const s = await loadGpu();
  if (typeof s === 'string') return s;
  if (s.device && s.summary) return { device: s.device, summary: s.summary };
  let adapter: GPUAdapter | null;
  try {
    adapter = await s.gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return `no WebGPU adapter: ${firstLine((e as Error).message)}`;
  }
  if (!adapter) return 'no WebGPU adapter (no Vulkan driver? install libvulkan1 and a driver)';
  const a = adapter.limits;
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: a.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
        maxBufferSize: a.maxBufferSize,
        maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
        maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
      },
    });
  } catch (e) {
    return `the WebGPU adapter refused a device: ${firstLine((e as Error).message)}`;
  }
  s.adapter = adapter;
  s.device = device;
  s.summary = summarise(adapter, device, s.selection);
  return { device, summary: s.summary };
}

/** The device made by acquireDevice, or null. */
export function webgpuDevice(): GPUDevice | null {
  return state?.device ?? null;
}

/** The adapter summary, or null before acquireDevice succeeded. */
export function adapterSummary(): AdapterSummary | null {
  return state?.summary ?? null;
}

/** One log line: vendor, architecture, device, the limits that matter. */
export function describeAdapter(s: AdapterSummary): string {
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  const name = [s.vendor, s.architecture, s.device].filter((x) => x).join(' / ') || 'unnamed adapter';
  const f16 = s.features.includes('shader-f16') ? ', shader-f16' : '';
  return `${name}${s.software ? ' (software)' : ''}; max binding ${mib(s.limits.maxStorageBufferBindingSize)}, max buffer ${mib(s.limits.maxBufferSize)}, ${s.limits.maxStorageBuffersPerShaderStage} storage buffers per stage${f16}; ${s.selection}`;
}

/**
 * Register tfjs's `webgpu` backend on this process's device (replacing the factory tfjs registers, which would make a
 * second device with the default limits). `makeBackend` builds the WebGPUBackend (src/webgpu/backend.ts patches it).
 */
export async function registerWebgpuBackend(
  makeBackend: (device: GPUDevice, info: GPUAdapterInfo) => tf.KernelBackend,
): Promise<void> {
  const s = state;
  if (!s?.device || !s.adapter) throw new Error('registerWebgpuBackend: acquireDevice() first');
  if (s.backend) return;
  // importing the package registers its kernels (and, because navigator.gpu now exists, its own factory)
  await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  const device = s.device,
    info = s.adapter.info;
  s.backend = makeBackend(device, info);
  const backend = s.backend;
  tf.registerBackend('webgpu', () => backend, 3);
}

function firstLine(s: string | undefined): string {
  return (s ?? 'unknown error').split('\n')[0]!.slice(0, 200);
}
