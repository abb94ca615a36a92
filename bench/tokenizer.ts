// Benchmark: CLIP BPE tokenisation throughput (captions/s), this TypeScript tokenizer vs OpenAI's Python
// simple_tokenizer (reference/clip_tokenizer_reference.py on Debian's /usr/bin/python3 + python3-regex),
// on the same 10,000 captions: the 5,000 Flickr8k captions from ../shared plus 5,000 variants (words shuffled
// and a made-up word appended, so the variants are not BPE-cache hits). Both sides start COLD: a fresh process,
// a freshly built tokenizer with an empty BPE cache, one pass, framing (SOT..EOT, truncation) included; vocab
// load time is reported separately. Also checks that both produce identical ids (sha256 over all id lists).
// Usage: node bench/tokenizer.ts [--vocab PATH] [--captions FILE] [--count 10000] [--rounds 3]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deriveRng } from '../src/rng.ts';
import { loadTokenizer } from '../src/tokenizer/clip-tokenizer.ts';
import { defaultVocabLocation } from '../src/tokenizer/vocab-file.ts';
import { readCaptionLines } from '../src/text/caption-file.ts';

const { values } = parseArgs({
  options: {
    vocab: { type: 'string' },
    captions: {
      type: 'string',
      default: fileURLToPath(new URL('../../shared/data/flickr8k-1k/captions.txt', import.meta.url)),
    },
    count: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    side: { type: 'string' },
    file: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const vocabPath = values.vocab ?? defaultVocabLocation();
const count = Number(values.count);

function makeCorpus(base: string[], n: number): string[] {
  const out = base.slice(0, n);
  const rng = deriveRng('bench-tokenizer');
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; out.length < n; i++) {
    const words = rng.shuffle(base[i % base.length].split(' '));
    let made = '';
    for (let k = 0, len = 5 + rng.int(6); k < len; k++) made += letters[rng.int(26)];
    out.push(`${words.join(' ')} ${made}`);
  }
  return out;
}

// --side ts FILE: one cold TypeScript run in this (fresh) process, printed as JSON (the parent spawns it).
if (values.side === 'ts') {
  const lines = readCaptionLines(values.file!);
  const t0 = performance.now();
  const tokenizer = await loadTokenizer({ vocabPath });
  const loadS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  let ids = 0;
  for (const c of lines) ids += tokenizer.frame(tokenizer.encode(c)).length;
  const encodeS = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  for (const c of lines) tokenizer.frame(tokenizer.encode(c));
  const warmS = (performance.now() - t2) / 1000;
  const hash = createHash('sha256');
  for (const c of lines) hash.update(JSON.stringify(tokenizer.frame(tokenizer.encode(c))) + '\n');
  console.log(
    JSON.stringify({
      captions: lines.length,
      ids,
      load_s: loadS,
      encode_s: encodeS,
      captions_per_s: lines.length / encodeS,
      warm_captions_per_s: lines.length / warmS,
      sha256: hash.digest('hex'),
    }),
  );
  process.exit(0);
}

const captions = makeCorpus(readCaptionLines(values.captions!), count);
const dir = mkdtempSync(join(tmpdir(), 'bench-tokenizer-'));
const file = join(dir, 'captions.txt');
writeFileSync(file, captions.join('\n') + '\n');

const reference = fileURLToPath(new URL('../reference/clip_tokenizer_reference.py', import.meta.url));
const self = fileURLToPath(import.meta.url);
function runJson(cmd: string, args: string[]): any {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ts: any[] = [],
  py: any[] = [];
for (let r = 0; r < rounds; r++) {
  // alternate, each run a fresh process with a cold BPE cache
  ts.push(runJson(process.execPath, [self, '--side', 'ts', '--file', file, '--vocab', vocabPath]));
  py.push(runJson('/usr/bin/python3', [reference, '--vocab', vocabPath, 'bench', file]));
}
const pyDigest = runJson('/usr/bin/python3', [reference, '--vocab', vocabPath, 'digest', file]);
const same = pyDigest.sha256 === ts[0].sha256;

const tsRate = median(ts.map((x) => x.captions_per_s));
const pyRate = median(py.map((x) => x.captions_per_s));
const f = (x: number, w: number, d = 3) => x.toFixed(d).padStart(w);
console.log(
  `captions: ${captions.length} (${values.captions} + shuffled variants with a made-up word), ids/run: ${ts[0].ids}`,
);
console.log(
  `vocab: ${vocabPath}; ${rounds} alternating runs per side, each a fresh process with a cold BPE cache; medians`,
);
const pythonVersion = spawnSync('/usr/bin/python3', ['-c', 'import platform; print(platform.python_version())'], {
  encoding: 'utf8',
}).stdout.trim();
console.log(`                           load s   encode s   captions/s`);
console.log(
  `typescript (node ${process.versions.node})   ${f(median(ts.map((x) => x.load_s)), 6)}   ` +
    `${f(median(ts.map((x) => x.encode_s)), 8)}   ${f(tsRate, 10, 0)}   (warm 2nd pass: ` +
    `${median(ts.map((x) => x.warm_captions_per_s)).toFixed(0)}/s)`,
);
console.log(
  `python reference (no ftfy)  ${f(median(py.map((x) => x.load_s)), 6)}   ` +
    `${f(median(py.map((x) => x.encode_s)), 8)}   ${f(pyRate, 10, 0)}   (python ${pythonVersion}, ftfy: ${py[0].ftfy})`,
);
console.log(
  `ratio typescript/python (encode captions/s, cold): ${(tsRate / pyRate).toFixed(2)}x; identical ids: ` +
    `${same ? 'yes' : 'NO'}`,
);
