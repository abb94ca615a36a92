// The yfcc15m-filter command: flags -> FilterOptions, then one part (--part i/N), all parts in worker processes
// (--parts N --parallel P) followed by the merge, or the merge alone (--merge-only).
import { join } from 'node:path';
import { createContext } from '../../stages/core/stage.ts';
import { numberFlag as num } from '../../src/yfcc/number-flag.ts';
import { parseColumnMap } from '../../src/yfcc/columns.ts';
import { parseCaptionPolicy } from '../../src/yfcc/caption.ts';
import { partName } from '../../src/yfcc/part.ts';
import { formatReport } from '../../src/yfcc/report.ts';
import { CLEAN_VERSION } from '../../src/yfcc/clean-yfcc-text.ts';
import { parseNamedFields } from '../../stages/yfcc/named-rows.ts';
import { filterRecipe, partDecision, runFilterPart, type FilterOptions } from './filter-part.ts';
import { mergeParts } from './merge-parts.ts';
import { partsFromFlags, runPartsInProcesses, watchCoordinator, workerArgs } from './part-workers.ts';
import { removeStaleTempFiles } from './stale-temp-files.ts';
import { UsageError, type CommandInput, type CommandSpec, type ParsedCommandLine } from '../command.ts';

export const filterCommand = {
  about:
    'YFCC100M metadata -> a clean caption table (JSON lines), with the counts in and out of every stage: photos only, ' +
    'cleaned titles and descriptions, camera titles and EXIF descriptions rejected, minimum length, English only, ' +
    'exact duplicates removed.',
  usage: [
    '--metadata yfcc100m_dataset.bz2 [--subset yfcc100m_subset_data.tsv.bz2] --out DIR [--caption POLICY] [--parts 8 --parallel 2]',
    '--metadata train-00000.parquet --metadata-fields dalle-mini --out DIR',
    '--metadata M --out DIR --part i/N         (one part: a Slurm array task, a Kubernetes index)',
    '--out DIR --parts N --merge-only',
  ],
  options: {
    metadata: {
      type: 'string',
      arg: 'FILE',
      help: 'the 25-column TSV (plain, .bz2, .gz, or pipe:CMD), or rows with named fields (.parquet, .jsonl[.gz|.bz2])',
    },
    subset: { type: 'string', arg: 'FILE', help: "keep only the photos of OpenAI's subset list (line, id, hash)" },
    columns: { type: 'string', arg: 'a,b,...', help: 'column names of the TSV in order (default: yfcc100m)' },
    'metadata-fields': {
      type: 'string',
      arg: 'SPEC',
      help: 'named-field input: a preset (dalle-mini) and/or yfccColumn=field,...',
    },
    out: { type: 'string', arg: 'DIR', help: 'output directory (required)' },
    caption: { type: 'string', arg: 'POLICY', help: 'keep-both (default), title, description or concat' },
    'min-words': { type: 'string', arg: 'N', help: 'minimum words of a caption (default 3)' },
    'min-chars': { type: 'string', arg: 'N', help: 'minimum characters of a caption (default 6)' },
    'no-language': { type: 'boolean', help: 'keep captions in every language' },
    'block-lines': {
      type: 'string',
      arg: 'N',
      help: 'lines per round-robin block when parts split a compressed input (default 100000)',
    },
    decompressor: { type: 'string', arg: 'system|js', help: 'bzip2 decoder: lbzip2/bzip2 (default) or JavaScript' },
    'dedup-capacity': { type: 'string', arg: 'N', help: 'rows the exact-dedup Bloom filters are sized for' },
    'dedup-fp-rate': { type: 'string', arg: 'P', help: 'target false-positive rate of the dedup filters' },
    part: { type: 'string', arg: 'i/N', help: 'run only part i of N (Slurm array task, Kubernetes index)' },
    parts: { type: 'string', arg: 'N', help: 'split the job into N parts (worker processes, then the merge)' },
    parallel: { type: 'string', arg: 'P', help: 'worker processes at a time (default: min(N, cores))' },
    'merge-only': { type: 'boolean', help: 'only merge the N finished parts' },
    'expect-rows': { type: 'string', arg: 'N', help: 'fail the merge unless exactly N metadata rows were read' },
    force: { type: 'boolean', help: 'redo finished parts' },
    quiet: { type: 'boolean', help: 'no progress display' },
  },
  notes: [
    'Outputs in --out: parts/part-0000i-of-0000N.jsonl (rows kept by part i, input order), its .counters.json',
    '(written last: its presence marks the part finished), yfcc15m.jsonl (all parts merged in input order,',
    'de-duplicated), report.json (counts in and out of every stage, drop reasons).',
    '',
    'A finished part records what made it: the input (size and a hash of its first and last 4 MiB), every setting',
    'that changes its rows, the cleaning and language-identifier versions. A rerun reuses it only when all match;',
    'otherwise it refuses with one line naming the difference (use another --out, or --force to redo every part).',
    '',
    'Scale: --part i/N runs part i of N over the input (byte ranges of a plain TSV, round-robin blocks of lines of a',
    'compressed one). A finished part is skipped unless --force; exact dedup runs in the merge. Killing the',
    'coordinator (even kill -9) stops its workers, which remove their temporary files.',
    '  one machine:  --parts N --parallel P (rerunning after a crash redoes only unfinished parts)',
    '  Slurm:        #SBATCH --array=0-63, each task: ... --part ${SLURM_ARRAY_TASK_ID}/64; then one dependent job',
    '                  (sbatch --dependency=afterok:$ARRAY_JOB): ... --out O --parts 64 --merge-only',
    '  Kubernetes:   an Indexed Job (completionMode: Indexed, completions: 64) running ... --part $(JOB_COMPLETION_INDEX)/64',
    '                  on a shared volume, then a one-pod Job running --parts 64 --merge-only',
  ].join('\n'),
} satisfies CommandSpec;

type Values = ParsedCommandLine['values'];

/** The command line -> FilterOptions; a bad value is a UsageError (exit code 2). */
export function filterOptionsFromFlags(v: Values): FilterOptions {
  const str = (k: string) => v[k] as string | undefined;
  if (!v.out) throw new UsageError('--out DIR is required');
  const decompressor = str('decompressor');
  if (decompressor && decompressor !== 'system' && decompressor !== 'js')
    throw new UsageError(`--decompressor: expected system or js, got ${JSON.stringify(decompressor)}`);
  try {
    return {
      metadata: str('metadata'),
      subset: str('subset'),
      out: v.out as string,
      columns: str('columns') ? parseColumnMap(str('columns')!) : undefined,
      metadataFields: str('metadata-fields') ? parseNamedFields(str('metadata-fields')!) : undefined,
      caption: str('caption') ? parseCaptionPolicy(str('caption')!) : undefined,
      minWords: num(str('min-words'), 'min-words'),
      minChars: num(str('min-chars'), 'min-chars'),
      language: !v['no-language'],
      blockLines: num(str('block-lines'), 'block-lines'),
      decompressor: decompressor as 'system' | 'js' | undefined,
      dedupCapacity: num(str('dedup-capacity'), 'dedup-capacity'),
      dedupFalsePositiveRate: num(str('dedup-fp-rate'), 'dedup-fp-rate'),
      expectRows: num(str('expect-rows'), 'expect-rows'),
      force: v.force === true,
      quiet: v.quiet === true,
    };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Run the command (under run/command.ts's runCommand); `script` is the entry point the worker processes run, with
 * the same flags and `--part i/N`.
 */
export async function yfccFilter({ args: { values: v }, signal }: CommandInput<ParsedCommandLine>, script: string) {
  const options = filterOptionsFromFlags(v);
  const { part, parts, parallel } = partsFromFlags(v);
  const coordinatorGone = new AbortController();
  if (part) watchCoordinator(coordinatorGone);
  const ctx = createContext({ signal: AbortSignal.any([signal, coordinatorGone.signal]) });
  if (part) {
    const r = await runFilterPart(options, part, ctx);
    process.stderr.write(`yfcc15m-filter: ${partName(part)} ${r}\n`);
    return;
  }
  if (!v['merge-only']) {
    if (parts === 1) await runFilterPart(options, { index: 0, count: 1 }, ctx);
    else {
      await removeStaleTempFiles(join(options.out, 'parts'));
      // Refuse before starting any worker when a finished part was made from other inputs or settings.
      for (let index = 0; index < parts; index++) {
        const p = { index, count: parts };
        await partDecision(options, p, await filterRecipe(options, p));
      }
      await runPartsInProcesses({
        script,
        argv: workerArgs(process.argv.slice(2)),
        parts,
        parallel,
        job: 'yfcc15m-filter',
        retryHint: 'rerun to retry only the unfinished parts',
        signal,
      });
    }
  }
  const report = await mergeParts(options, parts, ctx);
  console.log(formatReport(report));
  console.log(`wrote ${join(options.out, 'yfcc15m.jsonl')} and ${join(options.out, 'report.json')} (${CLEAN_VERSION})`);
}
