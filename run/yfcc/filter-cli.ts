// The yfcc15m-filter command: flags -> FilterOptions, then one part (--part i/N), all parts in worker processes
// (--parts N --parallel P) followed by the merge, or the merge alone (--merge-only).
import { join } from 'node:path';
import { cpus } from 'node:os';
import { createContext } from '../../stages/core/stage.ts';
import { numberFlag as num } from '../../src/yfcc/number-flag.ts';
import { parseColumnMap } from '../../src/yfcc/columns.ts';
import { parseCaptionPolicy } from '../../src/yfcc/caption.ts';
import { parsePart, partName } from '../../src/yfcc/part.ts';
import { formatReport } from '../../src/yfcc/report.ts';
import { CLEAN_VERSION } from '../../src/yfcc/clean-text.ts';
import { parseNamedFields } from '../../stages/yfcc/named-rows.ts';
import { runFilterPart, type FilterOptions } from './filter-part.ts';
import { mergeParts } from './merge-parts.ts';
import { runPartsInProcesses, workerArgs } from './part-workers.ts';
import { parseCommandLine, type CommandSpec } from './cli-help.ts';

export const filterCommand: CommandSpec = {
  name: 'yfcc15m-filter',
  summary: 'YFCC100M metadata -> clean caption table (JSON lines), with a per-stage report',
  usage: [
    'node pipelines/yfcc15m-filter.ts --metadata yfcc100m_dataset.bz2 [--subset yfcc100m_subset_data.tsv.bz2] \\',
    '     --out out/yfcc15m [--caption keep-both|title|description|concat] [--parts 8 --parallel 2]',
    'node pipelines/yfcc15m-filter.ts --metadata train-00000.parquet --metadata-fields dalle-mini --out out/dm',
  ],
  flags: {
    metadata: {
      type: 'string',
      value: 'FILE',
      help: 'the 25-column TSV (plain, .bz2, .gz, or pipe:CMD), or rows with named fields (.parquet, .jsonl[.gz|.bz2])',
    },
    subset: { type: 'string', value: 'FILE', help: "keep only the photos of OpenAI's subset list (line, id, hash)" },
    columns: { type: 'string', value: 'a,b,...', help: 'column names of the TSV in order (default: yfcc100m)' },
    'metadata-fields': {
      type: 'string',
      value: 'SPEC',
      help: 'named-field input: a preset (dalle-mini) and/or yfccColumn=field,...',
    },
    out: { type: 'string', value: 'DIR', help: 'output directory (required)' },
    caption: { type: 'string', value: 'POLICY', help: 'keep-both (default), title, description or concat' },
    'min-words': { type: 'string', value: 'N', help: 'minimum words of a caption (default 3)' },
    'min-chars': { type: 'string', value: 'N', help: 'minimum characters of a caption (default 6)' },
    'no-language': { type: 'boolean', help: 'keep captions in every language' },
    'block-lines': {
      type: 'string',
      value: 'N',
      help: 'lines per round-robin block when parts split a compressed input (default 100000)',
    },
    decompressor: { type: 'string', value: 'system|js', help: 'bzip2 decoder: lbzip2/bzip2 (default) or JavaScript' },
    'dedup-capacity': { type: 'string', value: 'N', help: 'rows the exact-dedup Bloom filters are sized for' },
    'dedup-fp-rate': { type: 'string', value: 'P', help: 'target false-positive rate of the dedup filters' },
    part: { type: 'string', value: 'i/N', help: 'run only part i of N (Slurm array task, Kubernetes index)' },
    parts: { type: 'string', value: 'N', help: 'split the job into N parts (worker processes, then the merge)' },
    parallel: { type: 'string', value: 'P', help: 'worker processes at a time (default: min(N, cores))' },
    'merge-only': { type: 'boolean', help: 'only merge the N finished parts' },
    'expect-rows': { type: 'string', value: 'N', help: 'fail the merge unless exactly N metadata rows were read' },
    force: { type: 'boolean', help: 'redo finished parts' },
    quiet: { type: 'boolean', help: 'no progress display' },
  },
  notes: [
    'Outputs in --out: parts/part-0000i-of-0000N.jsonl (rows kept by part i, input order), its .counters.json',
    '(written last: its presence marks the part finished), yfcc15m.jsonl (all parts merged in input order,',
    'de-duplicated), report.json (counts in and out of every stage, drop reasons).',
    '',
    'Scale: --part i/N runs part i of N over the input (byte ranges of a plain TSV, round-robin blocks of lines of a',
    'compressed one). A finished part is skipped unless --force; exact dedup runs in the merge.',
    '  one machine:  --parts N --parallel P (rerunning after a crash redoes only unfinished parts)',
    '  Slurm:        #SBATCH --array=0-63, each task: ... --part ${SLURM_ARRAY_TASK_ID}/64; then one dependent job',
    '                (sbatch --dependency=afterok:$ARRAY_JOB): ... --out O --parts 64 --merge-only',
    '  Kubernetes:   an Indexed Job (completionMode: Indexed, completions: 64) running ... --part $(JOB_COMPLETION_INDEX)/64',
    '                on a shared volume, then a one-pod Job running --parts 64 --merge-only',
  ],
};

export function filterOptionsFromFlags(v: Record<string, string | boolean | undefined>): FilterOptions {
  const str = (k: string) => v[k] as string | undefined;
  if (!v.out) throw new Error('--out DIR is required');
  const decompressor = str('decompressor');
  if (decompressor && decompressor !== 'system' && decompressor !== 'js')
    throw new Error(`--decompressor: expected system or js, got ${JSON.stringify(decompressor)}`);
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
}

/** Run the command; `script` is the entry point the worker processes run (`--part i/N` appended). */
export async function yfccFilter(argv: string[], script: string): Promise<void> {
  const v = parseCommandLine(filterCommand, argv);
  if (!v) return;
  const options = filterOptionsFromFlags(v);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const ctx = createContext({ signal: controller.signal });
  if (v.part) {
    const part = parsePart(v.part as string);
    const r = await runFilterPart(options, part, ctx);
    process.stderr.write(`yfcc15m-filter: ${partName(part)} ${r}\n`);
    return;
  }
  const parts = num(v.parts as string | undefined, 'parts') ?? 1;
  if (!v['merge-only']) {
    const parallel = num(v.parallel as string | undefined, 'parallel') ?? Math.min(parts, cpus().length);
    if (parts === 1) await runFilterPart(options, { index: 0, count: 1 }, ctx);
    else
      await runPartsInProcesses({
        script,
        argv: workerArgs(argv),
        parts,
        parallel,
        job: 'yfcc15m-filter',
        retryHint: 'rerun to retry only the unfinished parts',
      });
  }
  const report = await mergeParts(options, parts, ctx);
  console.log(formatReport(report));
  console.log(`wrote ${join(options.out, 'yfcc15m.jsonl')} and ${join(options.out, 'report.json')} (${CLEAN_VERSION})`);
}
