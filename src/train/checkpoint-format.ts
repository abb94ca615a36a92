// Checkpoints: one directory per saved step, published atomically (written under a temp name, every file fsync'ed,
// renamed, parent fsync'ed), so a crash at any instant leaves only complete checkpoints; the last K are kept.
//
//   <run>/checkpoints/step-000001200/
//     model.safetensors      every ParamStore entry under its OpenAI state-dict name, in PyTorch layout (linear
//                            weights [out,in], conv OIHW), including BN running statistics (buffers) — loadable as
//                            a PyTorch state dict; its metadata records the model (src/weights/model-record.ts): the
//                            exact architecture, the tokenizer and the image normalisation, which every command that
//                            loads the checkpoint uses
//     optimizer.safetensors  AdamW moments: exp_avg.<name>, exp_avg_sq.<name> (the big part of the state, kept in the
//                            raw layout: ~5x faster than msgpack, zero-copy reads)
//     state.msgpack          everything else (msgpackr with moreTypes, which keeps typed arrays intact): step,
//                            schedule, lr scale after rollbacks, optimiser step/config, RNG state, supervision state
//                            (NN queue), guard history, data cursor {epoch, samplesConsumed, shard order}
//     checksums.json         sha256 of each file above: loading verifies them, so a file changed or cut short after
//                            it was written is reported by name (CheckpointCorruptError) instead of loading wrong state
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Packr } from 'msgpackr';
import type { ParamStore } from '../nn/params.ts';
import type { AdamWConfig, AdamWState } from './adamw.ts';
import type { ScheduleConfig } from './schedule.ts';
import type { RngState } from '../rng.ts';
import {
  serializeSafetensors,
  parseSafetensors,
  toFloat32,
  type SafeTensor,
  type TensorToWrite,
} from '../weights/safetensors.ts';
import { exportStateDict, importStateDict } from '../weights/openai-names.ts';
import { describeConfig, modelRecordMetadata, readModelRecord, type ModelRecord } from '../weights/model-record.ts';
import type { ClipConfig } from '../models/presets.ts';
import { publishDirAtomic, removeDirAtomic, writeAndSync } from './atomic-write.ts';

const packr = new Packr({ moreTypes: true });

/** A checkpoint file that cannot be trusted: unreadable, or not what was written (checksum mismatch). */
export class CheckpointCorruptError extends Error {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`checkpoint file ${file}: ${problem}`);
    this.name = 'CheckpointCorruptError';
    this.file = file;
  }
}

const CHECKSUMS = 'checksums.json';
const sha256 = (chunks: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
};

export interface DataCursor {
  /** The reader's cursor (read-shards.ts ReaderCursor) after the last sample of the last trained batch. */
  epoch: number;
  samplesConsumed: number;
  pass?: number;
  shard?: number;
  samplesInShard?: number;
  /** The expanded shard list, in the declared order (the reader derives its per-epoch order from the seed). */
  shards: string[];
  seed: number;
}

export interface TrainState {
  format: 'clip-bench/checkpoint';
  version: 1;
  pipeline: string;
  step: number;
  lrScale: number;
  rollbacks: number;
  optimizer: { step: number; config: AdamWConfig };
  schedule: ScheduleConfig;
  rng: RngState;
  supervision: Record<string, unknown>;
  guard: number[];
  data: DataCursor;
  samplesSeen: number;
  /** The last step whose evaluation the run recorded (absent in checkpoints of older versions). */
  evaluatedStep?: number;
  elapsedMs: number;
  savedAt: string;
  model: { preset: string; supervision: string };
}

export interface LoadedCheckpoint {
  dir: string;
  state: TrainState;
  /** model.safetensors: OpenAI names, PyTorch layout (apply with applyWeights / importStateDict). */
  weights: Map<string, SafeTensor>;
  /** What model.safetensors records of the model (empty for checkpoints written before it did). */
  record: Partial<ModelRecord>;
  moments: AdamWState;
}

const STEP_DIR = /^step-(\d{9})$/;
export const checkpointDirName = (step: number) => `step-${String(step).padStart(9, '0')}`;

export interface SaveInput {
  store: ParamStore;
  /** The model's architecture, tokenizer and normalisation, written into model.safetensors' metadata. */
  record: ModelRecord;
  moments: AdamWState;
  state: Omit<TrainState, 'format' | 'version' | 'savedAt'>;
}

/**
 * Write a checkpoint for state.step under `root` atomically; then keep only the newest `keep`. Returns its directory.
 */
export async function saveCheckpoint(root: string, input: SaveInput, keep: number): Promise<string> {
  const dir = join(root, checkpointDirName(input.state.step));
  const weights = exportStateDict(input.store); // the models area's OpenAI-name / PyTorch-layout export
  const moments = new Map<string, TensorToWrite>();
  for (const e of input.store.trainableEntries()) {
    const m = input.moments.m[e.name];
    const v = input.moments.v[e.name];
    if (!m || !v) continue;
    moments.set(`exp_avg.${e.name}`, { shape: e.variable.shape.slice(), data: m });
    moments.set(`exp_avg_sq.${e.name}`, { shape: e.variable.shape.slice(), data: v });
  }
  const state: TrainState = {
    format: 'clip-bench/checkpoint',
    version: 1,
    savedAt: new Date().toISOString(),
    ...input.state,
  };
  await publishDirAtomic(dir, async (tmp) => {
    const checksums: Record<string, string> = {};
    const write = async (name: string, bytes: Uint8Array) => {
      checksums[name] = sha256([bytes]);
      await writeAndSync(join(tmp, name), [bytes]);
    };
    await write(
      'model.safetensors',
      serializeSafetensors(weights, {
        format: 'pt',
        step: String(state.step),
        pipeline: state.pipeline,
        ...modelRecordMetadata(input.record),
      }),
    );
    await write(
      'optimizer.safetensors',
      serializeSafetensors(moments, { optimizer: 'adamw', step: String(input.moments.step) }),
    );
    await write('state.msgpack', packr.pack(state));
    await writeAndSync(join(tmp, CHECKSUMS), [new TextEncoder().encode(JSON.stringify(checksums, null, 1) + '\n')]);
  });
  await pruneCheckpoints(root, keep);
  return dir;
}

/** Complete checkpoints under root, oldest first. */
export async function listCheckpoints(root: string): Promise<Array<{ step: number; dir: string }>> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .flatMap((n) => {
      const m = STEP_DIR.exec(n);
      return m ? [{ step: Number(m[1]), dir: join(root, n) }] : [];
    })
    .sort((a, b) => a.step - b.step);
}

export async function latestCheckpoint(root: string): Promise<string | undefined> {
  const all = await listCheckpoints(root);
  return all.at(-1)?.dir;
}

/** Keep the newest `keep` checkpoints; also remove temp directories left by a crash mid-write. */
export async function pruneCheckpoints(root: string, keep: number): Promise<void> {
  const all = await listCheckpoints(root);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) await removeDirAtomic(c.dir);
  for (const n of await readdir(root)) {
    if (n.startsWith('.tmp-step-') || n.startsWith('.old-step-')) {
      const pid = Number(/-(\d+)-\d+$/.exec(n)?.[1]);
      if (pid !== process.pid) await rm(join(root, n), { recursive: true, force: true });
    }
  }
}

/** Remove checkpoints newer than `step` (after a rollback they belong to an abandoned trajectory). */
export async function removeCheckpointsAfter(root: string, step: number): Promise<void> {
  for (const c of await listCheckpoints(root)) if (c.step > step) await removeDirAtomic(c.dir);
}

/**
 * Read and verify a checkpoint directory. A file that is missing, unreadable or differs from its recorded checksum is a
 * CheckpointCorruptError naming the file (checkpoints written before checksums existed are read without the check).
 */
export async function loadCheckpoint(dirOrFile: string): Promise<LoadedCheckpoint> {
  const dir = resolve(dirOrFile);
  if (!(await stat(dir).catch(() => null))?.isDirectory())
    throw new Error(`checkpoint ${dirOrFile}: not a checkpoint directory`);
  const checksums = await readFile(join(dir, CHECKSUMS), 'utf8').then(
    (text) => {
      try {
        return JSON.parse(text) as Record<string, string>;
      } catch (err) {
        throw new CheckpointCorruptError(join(dir, CHECKSUMS), `not JSON (${(err as Error).message})`);
      }
    },
    () => undefined,
  );
  const read = async (name: string): Promise<Uint8Array> => {
    const file = join(dir, name);
    const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new CheckpointCorruptError(file, err.code === 'ENOENT' ? 'missing' : err.message);
    });
    if (checksums && checksums[name] !== sha256([bytes]))
      throw new CheckpointCorruptError(
        file,
        checksums[name] === undefined
          ? `not listed in ${CHECKSUMS}`
          : `corrupt (its sha256 differs from ${CHECKSUMS}: changed or cut short after it was written)`,
      );
    return bytes;
  };
  const stateFile = join(dir, 'state.msgpack');
  let state: TrainState;
  try {
    state = packr.unpack(await read('state.msgpack')) as TrainState;
  } catch (err) {
    if (err instanceof CheckpointCorruptError) throw err;
    throw new CheckpointCorruptError(stateFile, `cannot be decoded (${(err as Error).message})`);
  }
  if (state?.format !== 'clip-bench/checkpoint')
    throw new CheckpointCorruptError(stateFile, 'is not the state of a clip-bench checkpoint');
  if (state.version !== 1) throw new Error(`checkpoint ${dir}: unsupported version ${state.version}`);
  const model = parseSafetensors(await read('model.safetensors'), `${dir}/model.safetensors`);
  const opt = parseSafetensors(await read('optimizer.safetensors'), `${dir}/optimizer.safetensors`);
  const moments: AdamWState = { step: state.optimizer.step, m: {}, v: {} };
  for (const [name, t] of opt.tensors) {
    if (name.startsWith('exp_avg_sq.')) moments.v[name.slice(11)] = toFloat32(t);
    else if (name.startsWith('exp_avg.')) moments.m[name.slice(8)] = toFloat32(t);
  }
  const weights = model.tensors;
  return { dir, state, weights, moments, record: readModelRecord(model.metadata, `${dir}/model.safetensors`) };
}

/**
 * Load a checkpoint's weights into a model: the architecture it records must be the model's (heads included, which
 * shapes alone would not catch), every entry must be present and shapes must match.
 */
export function applyWeights(model: { store: ParamStore; config: ClipConfig }, ck: LoadedCheckpoint): void {
  const recorded = ck.record.config;
  if (recorded && JSON.stringify(recorded) !== JSON.stringify(model.config))
    throw new Error(
      `checkpoint ${ck.dir} holds a different model (${describeConfig(recorded)}) than this run builds (${describeConfig(model.config)})`,
    );
  const store = model.store;
  const r = importStateDict(store, ck.weights);
  if (r.unused.length)
    throw new Error(
      `checkpoint ${ck.dir}: model.safetensors has ${r.unused.length} tensor(s) this model lacks, e.g. ` +
        `"${r.unused[0]}"`,
    );
}
