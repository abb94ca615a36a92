// pipelines/tokenize.ts end to end: stdin lines -> JSON id arrays (SOT..EOT, unpadded), variants, --context, errors.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sharedData } from '../helpers/shared-data.ts';

const script = fileURLToPath(new URL('../../pipelines/tokenize.ts', import.meta.url));
const vocab = sharedData('data/clip/bpe_simple_vocab_16e6.txt.gz');
const runPipeline = (args: string[], input: string) =>
  spawnSync(process.execPath, [script, '--vocab', vocab, ...args], { input, encoding: 'utf8', timeout: 30_000 });

test('one JSON array per input line, openai and declip ids, truncation to --context', (t) => {
  const r = runPipeline([], 'a photo of a cat\nHello, world!\n\n');
  t.is(r.status, 0, r.stderr);
  t.deepEqual(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    [
      [49406, 320, 1125, 539, 320, 2368, 49407],
      [49406, 3306, 267, 1002, 256, 49407],
      [49406, 49407],
    ],
  );
  const d = runPipeline(['--variant', 'declip', '--context', '5'], 'a photo of a <|mask|>\n');
  t.is(d.status, 0, d.stderr);
  t.deepEqual(JSON.parse(d.stdout), [49407, 320, 1125, 539, 49408]);
});

test('errors are one line with a non-zero exit', (t) => {
  const e = runPipeline(['--context', '5', '--truncation', 'error'], 'a photo of a cat\n');
  t.is(e.status, 1);
  t.is(
    e.stderr,
    'pipelines/tokenize.ts: line 1: text is 7 tokens, longer than the context length 5 ("a photo of a cat"...)\n',
  );
  const v = runPipeline(['--variant', 'bert'], 'x\n');
  t.is(v.status, 2, 'a bad flag value is a usage error');
  t.regex(v.stderr, /^pipelines\/tokenize\.ts: --variant must be openai or declip, got "bert"\n$/);
});
