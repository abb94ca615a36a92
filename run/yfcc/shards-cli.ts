// The yfcc15m-shards command: flags -> ShardsOptions, then one part (--part i/N), all parts in worker processes
// (--parts N --parallel P), or the whole job in this process; then sizes.json and report.json (--finalize alone
// only does that).
import { join } from 'node:path';
import { cpus } from 'node:os';
import { createContext } from '../../stages/core/stage.ts';
import { numberFlag as num } from '../../src/yfcc/number-flag.ts';
import { parseFieldMap } from '../../src/yfcc/shard-input.ts';
import { parsePart } from '../../src/yfcc/part.ts';
import { buildReport, formatReport } from '../../src/yfcc/report.ts';
import { runShardsPart, SHARDS_STAGES, type ShardsOptions } from './shards-part.ts';
import { finalizeShards, formatShardsSummary } from './finalize-shards.ts';
import { runPartsInProcesses, workerArgs } from './part-workers.ts';
import { parseCommandLine, type CommandSpec } from './cli-help.ts';

export const shardsCommand: CommandSpec = {
  name: 'yfcc15m-shards',
  summary: 'clean caption table + images -> webdataset shards, img2dataset-style',
  usage: [
    'node pipelines/yfcc15m-shards.ts --input out/yfcc15m/yfcc15m.jsonl --out shards/ \\',
    "     [--local-template '/data/mmc/data/images/{hash:0:3}/{hash:3:6}/{hash}.jpg']   # a local copy, or download:",
    '     [--concurrency 32 --timeout-ms 10000 --retries 2 --rate-limit 50] [--min-side 200 --max-aspect 3] [--near-dup 4]',
  ],
  flags: {
    input: {
      type: 'string',
      value: 'FILE',
      help: 'the clean table (JSONL), DeCLIP V2 lines, or any JSONL/.parquet with named fields',
    },
    out: { type: 'string', value: 'DIR', help: 'output directory (required)' },
    format: { type: 'string', value: 'PRESET', help: 'field map of the input: table (default), declip, dalle-mini' },
    fields: { type: 'string', value: 'role=field,...', help: 'override fields of the preset (id, hash, url, caption)' },
    'rows-per-shard': { type: 'string', value: 'N', help: 'input rows per slice, i.e. per shard (default 10000)' },
    'local-template': {
      type: 'string',
      value: 'PATH',
      help: 'read images from a local copy ({hash:a:b}, {id}); no download',
    },
    concurrency: { type: 'string', value: 'N', help: 'images fetched at a time (default 16)' },
    'timeout-ms': { type: 'string', value: 'MS', help: 'per-attempt download timeout (default 10000)' },
    retries: { type: 'string', value: 'N', help: 'retries on network errors, timeouts, 5xx and 429 (default 2)' },
    'backoff-ms': { type: 'string', value: 'MS', help: 'first retry delay, doubling (default 500)' },
    'rate-limit': { type: 'string', value: 'R', help: 'requests per second over all downloads (default unlimited)' },
    'max-bytes': { type: 'string', value: 'N', help: 'largest image accepted (default 32 MiB)' },
    'min-side': { type: 'string', value: 'PX', help: 'smallest image side kept' },
    'max-aspect': { type: 'string', value: 'R', help: 'largest aspect ratio kept' },
    'near-dup': { type: 'string', value: 'BITS', help: 'drop images within BITS dHash bits of an earlier one' },
    part: { type: 'string', value: 'i/N', help: 'run only part i of N (slices s with s mod N = i)' },
    parts: { type: 'string', value: 'N', help: 'split the job into N worker processes, then finalize' },
    parallel: { type: 'string', value: 'P', help: 'worker processes at a time (default: min(N, cores))' },
    finalize: { type: 'boolean', help: 'only write sizes.json and report.json from the finished slices' },
    force: { type: 'boolean', help: 'redo finished slices' },
    quiet: { type: 'boolean', help: 'no progress display' },
  },
  notes: [
    'Outputs in --out: NNNNN.tar ({key}.jpg, .json with all kept metadata and scores, .txt caption), NNNNN.parquet',
    '(every row of the slice with status and error_message), NNNNN_stats.json (img2dataset keys; written last),',
    'sizes.json ({"NNNNN.tar": samples}), report.json.',
    '',
    'Slices and parts: row r belongs to slice floor(r / rows-per-shard) = shard NNNNN; --part i/N processes slices',
    's with s mod N = i. A rerun skips finished slices.',
    '  one machine:  --parts N --parallel P',
    '  Slurm:        #SBATCH --array=0-99, each task: ... --part ${SLURM_ARRAY_TASK_ID}/100; then (afterok) --finalize',
    '  Kubernetes:   an Indexed Job running ... --part $(JOB_COMPLETION_INDEX)/100, then a one-pod Job with --finalize',
    'Near-duplicate removal compares images within one process (a part), not globally; sha256 and dHash are in',
    "every sample's .json for a later global pass.",
  ],
};

export function shardsOptionsFromFlags(v: Record<string, string | boolean | undefined>): ShardsOptions {
  const str = (k: string) => v[k] as string | undefined;
  if (!v.out) throw new Error('--out DIR is required');
  return {
    input: str('input'),
    out: v.out as string,
    fields: parseFieldMap(str('format') ?? 'table', str('fields')),
    rowsPerShard: num(str('rows-per-shard'), 'rows-per-shard'),
    fetch: {
      localTemplate: str('local-template'),
      concurrency: num(str('concurrency'), 'concurrency'),
      timeoutMs: num(str('timeout-ms'), 'timeout-ms'),
      retries: num(str('retries'), 'retries'),
      backoffMs: num(str('backoff-ms'), 'backoff-ms'),
      rateLimit: num(str('rate-limit'), 'rate-limit'),
      maxBytes: num(str('max-bytes'), 'max-bytes'),
    },
    validate: { minSide: num(str('min-side'), 'min-side'), maxAspect: num(str('max-aspect'), 'max-aspect') },
    nearDup: num(str('near-dup'), 'near-dup'),
    force: v.force === true,
    quiet: v.quiet === true,
  };
}

/** Run the command; `script` is the entry point the worker processes run (`--part i/N` appended). */
export async function yfccShards(argv: string[], script: string): Promise<void> {
  const v = parseCommandLine(shardsCommand, argv);
  if (!v) return;
  const options = shardsOptionsFromFlags(v);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const ctx = createContext({ signal: controller.signal });
  const printRun = (label: string) => {
    if (!options.quiet)
      process.stderr.write(`${label}\n${formatReport(buildReport(ctx.counters.toJSON(), SHARDS_STAGES))}\n`);
  };
  if (v.part) {
    const r = await runShardsPart(options, parsePart(v.part as string), ctx);
    printRun(`yfcc15m-shards: part ${v.part}: ${r.slices} slices, ${r.samples} samples written`);
    return;
  }
  if (!v.finalize) {
    const parts = num(v.parts as string | undefined, 'parts') ?? 1;
    if (parts === 1) {
      const r = await runShardsPart(options, { index: 0, count: 1 }, ctx);
      printRun(`yfcc15m-shards: ${r.slices} slices, ${r.samples} samples written`);
    } else
      await runPartsInProcesses({
        script,
        argv: workerArgs(argv),
        parts,
        parallel: num(v.parallel as string | undefined, 'parallel') ?? Math.min(parts, cpus().length),
        job: 'yfcc15m-shards',
        retryHint: 'rerun to redo only unfinished shards',
      });
  }
  const summary = await finalizeShards(options.out);
  console.log(formatShardsSummary(summary));
  console.log(`wrote ${join(options.out, 'sizes.json')} and ${join(options.out, 'report.json')}`);
}
