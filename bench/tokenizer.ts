// Benchmark: CLIP BPE tokenisation throughput (captions/s), this TypeScript tokenizer vs OpenAI's Python
// simple_tokenizer (reference/clip_tokenizer_reference.py on Debian's /usr/bin/python3 + python3-regex),
// on the same 10,000 captions: the 5,000 Flickr8k captions from ../shared plus 5,000 variants (words shuffled
// and a made-up word appended, so the variants are not BPE-cache hits). Both sides start COLD: a fresh process,
// a freshly built tokenizer with an empty BPE cache, one pass, framing (SOT..EOT, truncation) included; vocab
// load time is reported separately. Also checks that both produce identical ids (sha256 over all id lists).
// Usage: node bench/tokenizer.ts [--vocab PATH] [--captions FILE]
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

const { values } = parseArgs({ options: {
  vocab: { type: 'string' },
  captions: { type: 'string', default: fileURLToPath(new URL('../../shared/data/flickr8k-1k/captions.txt', import.meta.url)) },
  count: { type: 'string', default: '10000' },
} });
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

const captions = makeCorpus(readCaptionLines(values.captions!), count);
const dir = mkdtempSync(join(tmpdir(), 'bench-tokenizer-'));
const file = join(dir, 'captions.txt');
writeFileSync(file, captions.join('\n') + '\n');

// TypeScript, cold.
const t0 = performance.now();
const tokenizer = await loadTokenizer({ vocabPath });
const loadS = (performance.now() - t0) / 1000;
const t1 = performance.now();
const hash = createHash('sha256');
let ids = 0;
const lists: number[][] = [];
for (const c of captions) { const framed = tokenizer.frame(tokenizer.encode(c)); ids += framed.length; lists.push(framed); }
const encodeS = (performance.now() - t1) / 1000;
for (const l of lists) hash.update(JSON.stringify(l) + '\n');
const tsDigest = hash.digest('hex');
// Warm pass (same tokenizer, cache filled) for information.
const t2 = performance.now();
for (const c of captions) tokenizer.frame(tokenizer.encode(c));
const warmS = (performance.now() - t2) / 1000;

// Python reference, cold (fresh process).
const reference = fileURLToPath(new URL('../reference/clip_tokenizer_reference.py', import.meta.url));
const py = spawnSync('/usr/bin/python3', [reference, '--vocab', vocabPath, 'bench', file], { encoding: 'utf8' });
if (py.status !== 0) throw new Error(`python reference failed: ${py.stderr.trim().split('\n').pop()}`);
const pyResult = JSON.parse(py.stdout.trim().split('\n').pop()!);
const pyDigest = spawnSync('/usr/bin/python3', [reference, '--vocab', vocabPath, 'digest', file], { encoding: 'utf8' });
const same = pyDigest.status === 0 && JSON.parse(pyDigest.stdout.trim()).sha256 === tsDigest;

const tsRate = captions.length / encodeS;
console.log(`captions: ${captions.length} (${values.captions} + variants), ids: ${ids}, vocab: ${vocabPath}`);
console.log(`                      load s   encode s   captions/s (cold cache)`);
console.log(`typescript (node ${process.versions.node})  ${loadS.toFixed(3).padStart(6)}   ${encodeS.toFixed(3).padStart(8)}   ${tsRate.toFixed(0).padStart(10)}   (warm pass: ${(captions.length / warmS).toFixed(0)}/s)`);
console.log(`python reference       ${pyResult.load_s.toFixed(3).padStart(6)}   ${pyResult.encode_s.toFixed(3).padStart(8)}   ${pyResult.captions_per_s.toFixed(0).padStart(10)}   (ftfy: ${pyResult.ftfy})`);
console.log(`ratio typescript/python (encode, cold): ${(tsRate / pyResult.captions_per_s).toFixed(2)}x; identical ids: ${same ? 'yes' : 'NO'}`);
