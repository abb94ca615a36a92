// Benchmark: rows/s of parse + clean + filter on synthetic YFCC100M-format rows, and the projected
// wall time for the 100M-row metadata on this machine.
//   node bench/yfcc-clean.ts [--rows 200000] [--python /usr/bin/python3]
// Measures (1) each pure step on in-memory lines, (2) the full filter part (stages, file in, JSONL out)
// single-process, (3) bzip2 decoding speed: system `bzip2 -dc` vs unbzip2-stream, and (4) the same
// parse+clean+camera+min-length work in Python (reference/yfcc_clean_bench.py) for the ratio.
import { writeFileSync, statSync, mkdtempSync, rmSync, createReadStream } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import unbzip2 from 'unbzip2-stream';
import { Rng, deriveRng } from '../src/rng.ts';
import { YFCC100M_COLUMNS, parseYfccLine } from '../src/yfcc/columns.ts';
import { cleanYfccText } from '../src/yfcc/clean-yfcc-text.ts';
import { isCameraTitle, isExifDescription } from '../src/yfcc/camera-patterns.ts';
import { captionCandidates, passesMinLength } from '../src/yfcc/caption.ts';
import { isEnglish, loadLanguageIdentifier } from '../src/yfcc/language.ts';
import { runFilterPart } from '../run/yfcc/filter-part.ts';
import { mergeParts } from '../run/yfcc/merge-parts.ts';
import { systemBzip2 } from '../stages/yfcc/read-lines.ts';
import { createContext } from '../stages/core/stage.ts';

const { values } = parseArgs({ options: { rows: { type: 'string' }, python: { type: 'string' } } });
const N = Number(values.rows ?? 200_000);
const PY = values.python ?? '/usr/bin/python3';

// ---- synthetic rows (deterministic) ----
const EN =
  'the old harbour at sunset with my family on a quiet morning walk along river bridge mountain lake city street market children playing beach snow trees garden church castle festival friends dog cat train station'.split(
    ' ',
  );
const DE =
  'der alte Hafen bei Sonnenuntergang mit meiner Familie am ruhigen Morgen Spaziergang entlang des Flusses'.split(' ');
const FR = 'le vieux port au coucher du soleil avec ma famille un matin calme promenade le long de la rivière'.split(
  ' ',
);
const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
function phrase(rng: Rng, words: string[], n: number): string {
  return Array.from({ length: n }, () => words[rng.int(words.length)]).join(' ');
}
function syntheticRow(i: number, rng: Rng): string {
  const r = rng.random();
  let title = '',
    desc = '';
  if (r < 0.25) title = ['IMG_', 'DSC0', 'P10', 'DSCN'][rng.int(4)] + String(rng.int(99999)).padStart(5, '0');
  else if (r < 0.35)
    title = `2016${String(rng.int(12) + 1).padStart(2, '0')}15_${String(rng.int(999999)).padStart(6, '0')}`;
  else if (r < 0.5) title = '';
  else if (r < 0.6) title = phrase(rng, rng.bernoulli(0.5) ? DE : FR, 4 + rng.int(6));
  else title = phrase(rng, EN, 2 + rng.int(7));
  const d = rng.random();
  if (d < 0.4) desc = '';
  else if (d < 0.5)
    desc = `Canon EOS 5D f/${(1.4 + rng.int(10)).toFixed(1)} 1/${rng.int(1000) + 1}s ISO ${100 * (1 + rng.int(16))} ${rng.int(200) + 10}mm`;
  else if (d < 0.65)
    desc = `<a href="http://www.flickr.com/photos/x/${i}">${phrase(rng, EN, 3)}</a> &amp; ${phrase(rng, EN, 6)}`;
  else desc = phrase(rng, EN, 5 + rng.int(20)) + (rng.bernoulli(0.2) ? ' see http://example.com/' + i : '');
  const cols = YFCC100M_COLUMNS.map((c) => {
    switch (c) {
      case 'lineNumber':
        return String(i);
      case 'photoId':
        return String(1_000_000 + i);
      case 'photoHash':
        return ((i * 2654435761) % 2 ** 32).toString(16).padStart(8, '0') + 'deadbeefdeadbeefdeadbeef';
      case 'title':
        return enc(title);
      case 'description':
        return enc(desc);
      case 'userTags':
        return 'sea,holiday,' + EN[rng.int(EN.length)];
      case 'captureDevice':
        return enc('Canon EOS 5D');
      case 'downloadUrl':
        return `http://farm${rng.int(9)}.staticflickr.com/${rng.int(9999)}/${1_000_000 + i}_abcdef.jpg`;
      case 'marker':
        return rng.bernoulli(0.05) ? '1' : '0';
      default:
        return c === 'pageUrl' ? `http://www.flickr.com/photos/u/${i}/` : 'x';
    }
  });
  return cols.join('\t');
}

const dir = mkdtempSync(join(tmpdir(), 'yfcc-bench-'));
try {
  const rng = deriveRng(2026, 'yfcc-bench');
  const lines = Array.from({ length: N }, (_, i) => syntheticRow(i, rng));
  const tsv = join(dir, 'synthetic.tsv');
  writeFileSync(tsv, lines.join('\n') + '\n');
  const bytes = statSync(tsv).size;
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (other jobs on this machine slow every number below)`,
  );
  console.log(
    `synthetic YFCC100M rows: ${N}, ${(bytes / 1e6).toFixed(1)} MB (${(bytes / N).toFixed(0)} B/row); machine: ${cpus().length} cores, Node ${process.version}`,
  );

  // ---- (1) pure steps ----
  // Wall time and this process's CPU time: on a shared machine the CPU time is the better estimate of
  // the wall time on an idle one (JS is single-threaded; GC helper threads make it a slight overestimate).
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const time = (fn: () => number) => {
    const t0 = performance.now(),
      c0 = cpuNow();
    const n = fn();
    return { n, s: (performance.now() - t0) / 1000, cpu: cpuNow() - c0 };
  };
  const parsed = lines.map((l, i) => parseYfccLine(l, i)).flatMap((r) => (r.ok ? [r.row] : []));
  const tParse = time(() => {
    let k = 0;
    for (let i = 0; i < lines.length; i++) if (parseYfccLine(lines[i], i).ok) k++;
    return k;
  });
  const cleaned: Array<[string, string]> = [];
  const tClean = time(() => {
    for (const r of parsed) cleaned.push([cleanYfccText(r.fields.title), cleanYfccText(r.fields.description)]);
    return cleaned.length;
  });
  const survivors: string[] = [];
  const tScreen = time(() => {
    for (const [ti, de] of cleaned) {
      const c = captionCandidates(
        'keep-both',
        ti && !isCameraTitle(ti) ? ti : '',
        de && !isExifDescription(de) ? de : '',
      );
      for (const x of c) if (passesMinLength(x.text, 3, 6)) survivors.push(x.text);
    }
    return survivors.length;
  });
  const identifier = await loadLanguageIdentifier();
  const tLang = time(() => {
    let k = 0;
    for (const s of survivors) if (isEnglish(identifier.identify(s))) k++;
    return k;
  });
  const fmt = (n: number) => Math.round(n).toLocaleString('en').padStart(9);
  const row = (name: string, t: { s: number; cpu: number }, base: number, unit: string) =>
    console.log(
      `${name.padEnd(38)} ${t.s.toFixed(2).padStart(6)} s ${t.cpu.toFixed(2).padStart(6)} s  ${fmt(base / t.s)} ${fmt(base / t.cpu)}  ${unit}/s`,
    );
  console.log('\nstep (pure functions, in memory)         wall    CPU     per wall  per CPU');
  row('parse 25-column TSV', tParse, N, 'rows');
  row('clean title+description (v1)', tClean, N, 'rows');
  row('camera/EXIF/caption/min-length', tScreen, N, 'rows');
  row(`script check + eld on ${survivors.length} candidates`, tLang, survivors.length, 'candidates');

  // ---- (2) full filter part: file -> stages -> JSONL ----
  const out = join(dir, 'out');
  const ctx = createContext();
  const t0 = performance.now(),
    c0 = cpuNow();
  await runFilterPart({ metadata: tsv, out, quiet: true }, { index: 0, count: 1 }, ctx);
  const tPart = (performance.now() - t0) / 1000,
    cPart = cpuNow() - c0;
  const t1 = performance.now(),
    c1 = cpuNow();
  const report = await mergeParts({ out, quiet: true, dedupCapacity: 20_000_000 }, 1);
  const tMerge = (performance.now() - t1) / 1000,
    cMerge = cpuNow() - c1;
  const kept = report.stages.find((s) => s.stage === 'dedup')!.out;
  const merged = report.stages.find((s) => s.stage === 'dedup')!.in;
  console.log(
    `\nfull filter part (file -> read+parse+clean+filters+language -> JSONL): wall ${tPart.toFixed(2)} s (${fmt(N / tPart).trim()} rows/s), CPU ${cPart.toFixed(2)} s (${fmt(N / cPart).trim()} rows/s); kept ${kept} (${((100 * kept) / N).toFixed(1)}%)`,
  );
  console.log(
    `merge + exact dedup (Bloom 2 x ${((20e6 * 28.76) / 8 / 2 ** 20).toFixed(0)} MiB) of ${merged} rows: wall ${tMerge.toFixed(2)} s, CPU ${cMerge.toFixed(2)} s`,
  );

  // ---- (3) bzip2 decoding ----
  if (!systemBzip2())
    throw new Error('bench: needs bzip2 on PATH to compress the synthetic file (apt-get install bzip2)');
  execFileSync('bzip2', ['-k', '-1', tsv]);
  const bz = tsv + '.bz2';
  const drainMs = (stream: NodeJS.ReadableStream) =>
    new Promise<number>((resolve, reject) => {
      const t = performance.now();
      stream.on('data', () => {});
      stream.on('end', () => resolve(performance.now() - t));
      stream.on('error', reject);
    });
  const sysMs = systemBzip2()
    ? await drainMs(spawn('bzip2', ['-dc', bz], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout)
    : NaN;
  const lbzMs =
    systemBzip2() === 'lbzip2'
      ? await drainMs(spawn('lbzip2', ['-dc', bz], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout)
      : NaN;
  const jsMs = await drainMs(createReadStream(bz).pipe(unbzip2()));
  const mbps = (ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(1);
  console.log(
    `\nbzip2 decode of ${(bytes / 1e6).toFixed(1)} MB (output): bzip2 -dc ${mbps(sysMs)} MB/s, lbzip2 -dc ${Number.isNaN(lbzMs) ? 'not installed' : mbps(lbzMs) + ' MB/s'}, unbzip2-stream (JS) ${mbps(jsMs)} MB/s`,
  );

  // ---- (4) Python reference of parse+clean+camera+min-length ----
  const script = fileURLToPath(new URL('../reference/yfcc_clean_bench.py', import.meta.url));
  try {
    const res = JSON.parse(execFileSync(PY, [script, tsv], { encoding: 'utf8' }));
    const pyRate = res.rows / res.cpu_seconds;
    const tsRate = N / (tParse.cpu + tClean.cpu + tScreen.cpu);
    const tsWall = N / (tParse.s + tClean.s + tScreen.s),
      pyWall = res.rows / res.seconds;
    console.log(`\nparse+clean+camera/EXIF+min-length, same rows:      TypeScript      Python 3 (${PY})   ratio TS/Py`);
    console.log(
      `  per CPU second                                ${fmt(tsRate)} rows/s ${fmt(pyRate)} rows/s   ${(tsRate / pyRate).toFixed(2)}`,
    );
    console.log(
      `  per wall second (loaded machine)              ${fmt(tsWall)} rows/s ${fmt(pyWall)} rows/s   ${(tsWall / pyWall).toFixed(2)}`,
    );
    if (res.survivors !== survivors.length)
      console.log(
        `note: Python kept ${res.survivors} candidates vs TypeScript ${survivors.length} (regex dialect differences)`,
      );
  } catch (err) {
    console.log(`\nPython reference not run: ${(err as Error).message.split('\n')[0]}`);
  }

  // ---- projection ----
  const h = (seconds: number) => (seconds / 3600).toFixed(2);
  const scale = 100e6 / N;
  const decodeS = (1e8 * bytes) / N / (bytes / (Math.min(sysMs, lbzMs || Infinity) / 1000));
  const cores = cpus().length;
  console.log(`\nprojected time for 100M rows with this row mix (filter part, then merge+dedup), ${cores} cores:`);
  console.log(
    `  from wall time (this loaded machine): one process ${h(tPart * scale)} h + merge ${h(tMerge * scale)} h`,
  );
  console.log(
    `  from CPU time (an idle machine):      one process ${h(cPart * scale)} h + merge ${h(cMerge * scale)} h;` +
      ` --parts ${cores} --parallel ${cores}: ~${h((cPart * scale) / cores)} h + merge ${h(cMerge * scale)} h`,
  );
  console.log(
    `  bzip2 decoding of the ~${((1e8 * bytes) / N / 1e9).toFixed(0)} GB TSV: ${h(decodeS)} h, in a child process, overlapped with parsing (every part decodes the whole stream)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
