// The yfcc15m-shards command: flags -> ShardsOptions, then one part (--part i/N), all parts in worker processes
// (--parts N --parallel P), or the whole job in this process; then sizes.json and report.json (--finalize alone
// only does that).
import { join } from 'node:path';
import { createContext } from '../../stages/core/stage.ts';
import { numberFlag as num } from '../../src/yfcc/number-flag.ts';
import { parseFieldMap } from '../../src/yfcc/shard-input.ts';
import { buildReport, formatReport } from '../../src/yfcc/report.ts';
import {
  checkFinishedSlices,
  runShardsPart,
  shardsSettings,
  SHARDS_STAGES,
  type ShardsOptions,
} from './shards-part.ts';
import { finalizeShards, formatShardsSummary } from './finalize-shards.ts';
import {
  INCOMPLETE_EXIT_CODE,
  partsFromFlags,
  runPartsInProcesses,
  watchCoordinator,
  workerArgs,
} from './part-workers.ts';
import { UsageError, type CommandInput, type CommandSpec, type ParsedCommandLine } from '../command.ts';

export const shardsCommand = {
  about:
    'A caption table + images -> webdataset shards, img2dataset-style: one shard per slice of the table, images ' +
    'read from a local copy or downloaded, validated, optionally near-duplicates removed; per-shard stats and parquet.',
  usage: [
    '--input yfcc15m.jsonl --out DIR [--concurrency 32 --timeout-ms 10000 --retries 2 --rate-limit 50] [--min-side 200]',
    "--input yfcc15m.jsonl --out DIR --local-template '/data/mmc/data/images/{hash:0:3}/{hash:3:6}/{hash}.jpg'",
    '--input T --out DIR --part i/N          (one part: a Slurm array task, a Kubernetes index)',
    '--out DIR --finalize',
  ],
  options: {
    input: {
      type: 'string',
      arg: 'FILE',
      help: 'the clean table (JSONL), DeCLIP V2 lines, or any JSONL/.parquet with named fields',
    },
    out: { type: 'string', arg: 'DIR', help: 'output directory (required)' },
    format: { type: 'string', arg: 'PRESET', help: 'field map of the input: table (default), declip, dalle-mini' },
    fields: { type: 'string', arg: 'role=field,...', help: 'override fields of the preset (id, hash, url, caption)' },
    'rows-per-shard': { type: 'string', arg: 'N', help: 'input rows per slice, i.e. per shard (default 10000)' },
    'local-template': {
      type: 'string',
      arg: 'PATH',
      help: 'read images from a local copy ({hash:a:b}, {id}); no download',
    },
    concurrency: { type: 'string', arg: 'N', help: 'images fetched at a time (default 16)' },
    'timeout-ms': { type: 'string', arg: 'MS', help: 'per-attempt download timeout (default 10000)' },
    retries: { type: 'string', arg: 'N', help: 'retries on network errors, timeouts, 5xx and 429 (default 2)' },
    'backoff-ms': { type: 'string', arg: 'MS', help: 'first retry delay, doubling (default 500)' },
    'rate-limit': { type: 'string', arg: 'R', help: 'requests per second over all downloads (default unlimited)' },
    'max-bytes': { type: 'string', arg: 'N', help: 'largest image accepted (default 32 MiB)' },
    'min-side': { type: 'string', arg: 'PX', help: 'smallest image side kept' },
    'max-aspect': { type: 'string', arg: 'R', help: 'largest aspect ratio kept' },
    'near-dup': { type: 'string', arg: 'BITS', help: 'drop images within BITS dHash bits of an earlier one' },
    part: { type: 'string', arg: 'i/N', help: 'run only part i of N (slices s with s mod N = i)' },
    parts: { type: 'string', arg: 'N', help: 'split the job into N worker processes, then finalize' },
    parallel: { type: 'string', arg: 'P', help: 'worker processes at a time (default: min(N, cores))' },
    finalize: { type: 'boolean', help: 'only write sizes.json and report.json from the finished slices' },
    force: { type: 'boolean', help: 'redo finished slices' },
    quiet: { type: 'boolean', help: 'no progress display' },
  },
  notes: [
    'Outputs in --out: NNNNN.tar ({key}.jpg, .json with all kept metadata and scores, .txt caption), NNNNN.parquet',
    '(every row of the slice with status and error_message), NNNNN_stats.json (img2dataset keys; written last),',
    'sizes.json ({"NNNNN.tar": samples}), report.json.',
    '',
    'A slice is final when none of its failures may go away on a rerun (network errors, timeouts, 5xx and 429 may)',
    'and not every download failed. A rerun skips final slices made from the same rows and settings, refuses ones',
    'made from others (use another --out, or --force), and redoes the others, taking their earlier successes from',
    'their shard. Slices that are not final are listed in report.json, left out of sizes.json, and make the command',
    'exit with code 4 (done, but rerun to retry them).',
    '',
    'Slices and parts: row r belongs to slice floor(r / rows-per-shard) = shard NNNNN; --part i/N processes slices',
    's with s mod N = i. Killing the coordinator (even kill -9) stops its workers, which remove their unfinished files.',
    '  one machine:  --parts N --parallel P',
    '  Slurm:        #SBATCH --array=0-99, each task: ... --part ${SLURM_ARRAY_TASK_ID}/100; then (afterok) --finalize',
    '  Kubernetes:   an Indexed Job running ... --part $(JOB_COMPLETION_INDEX)/100, then a one-pod Job with --finalize',
    'Near-duplicate removal compares images within one process (a part), not globally; sha256 and dHash are in',
    "every sample's .json for a later global pass.",
  ].join('\n'),
} satisfies CommandSpec;

/** The command line -> ShardsOptions; a bad value is a UsageError (exit code 2). */
export function shardsOptionsFromFlags(v: ParsedCommandLine['values']): ShardsOptions {
  const str = (k: string) => v[k] as string | undefined;
  if (!v.out) throw new UsageError('--out DIR is required');
  try {
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
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Run the command (under run/command.ts's runCommand); `script` is the entry point the worker processes run, with the
 * same flags and `--part i/N`. Resolves with INCOMPLETE_EXIT_CODE when the work is done but some slices are not
 * final (a rerun retries them).
 */
export async function yfccShards(
  { args: { values: v }, signal }: CommandInput<ParsedCommandLine>,
  script: string,
): Promise<number | undefined> {
  const options = shardsOptionsFromFlags(v);
  const { part, parts, parallel } = partsFromFlags(v);
  const coordinatorGone = new AbortController();
  if (part) watchCoordinator(coordinatorGone);
  const ctx = createContext({ signal: AbortSignal.any([signal, coordinatorGone.signal]) });
  const printRun = (label: string) => {
    if (!options.quiet)
      process.stderr.write(`${label}\n${formatReport(buildReport(ctx.counters.toJSON(), SHARDS_STAGES))}\n`);
  };
  const incomplete = (slices: number) => {
    process.stderr.write(
      `yfcc15m-shards: ${slices} slice(s) not complete (failures a rerun may fix, or every download failed; see their _stats.json): rerun to retry them\n`,
    );
    return INCOMPLETE_EXIT_CODE;
  };
  if (part) {
    const r = await runShardsPart(options, part, ctx);
    printRun(`yfcc15m-shards: part ${part.index}/${part.count}: ${r.slices} slices, ${r.samples} samples written`);
    return r.incomplete.length ? incomplete(r.incomplete.length) : undefined;
  }
  if (!v.finalize) {
    if (parts === 1) {
      const r = await runShardsPart(options, { index: 0, count: 1 }, ctx);
      printRun(`yfcc15m-shards: ${r.slices} slices, ${r.samples} samples written`);
    } else {
      if (!options.force) await checkFinishedSlices(options.out, shardsSettings(options));
      await runPartsInProcesses({
        script,
        argv: workerArgs(process.argv.slice(2)),
        parts,
        parallel,
        job: 'yfcc15m-shards',
        retryHint: 'rerun to redo only unfinished shards',
        signal,
      });
    }
  }
  const summary = await finalizeShards(options.out);
  console.log(formatShardsSummary(summary));
  console.log(`wrote ${join(options.out, 'sizes.json')} and ${join(options.out, 'report.json')}`);
  return summary.incomplete.length ? incomplete(summary.incomplete.length) : undefined;
}
