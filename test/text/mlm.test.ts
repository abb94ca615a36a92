// MLM corruption: selection rate 15% of non-special tokens, 80/10/10 split, specials and padding never chosen,
// labels -100 where not selected, reproducible per seed. Statistics over ~600k eligible tokens.
import test from 'ava';
import { deriveRng } from '../../src/rng.ts';
import { IGNORE_INDEX, maskTokens } from '../../src/text/mlm.ts';

const vocab = { sot: 49407, eot: 49408, mask: 49406, vocabSize: 49409 }; // declip ids
const ctx = 77;

function framed(seed: number, content: number): Int32Array {
  const rng = deriveRng('framed', seed);
  const ids = new Int32Array(ctx);
  ids[0] = vocab.sot;
  for (let i = 1; i <= content; i++) ids[i] = rng.int(49406);
  ids[content + 1] = vocab.eot;
  return ids;
}

test('15% of eligible tokens selected; 80% mask / 10% random / 10% kept (large sample)', (t) => {
  let eligible = 0,
    selected = 0,
    masked = 0,
    randomised = 0,
    kept = 0,
    randomSum = 0;
  let randomMax = 0,
    randomMin = Infinity;
  for (let s = 0; s < 12000; s++) {
    const content = 10 + (s % 60);
    const ids = framed(s, content);
    const { ids: out, labels } = maskTokens(ids, vocab, deriveRng(1, s, 'mlm'));
    eligible += content;
    for (let i = 0; i < ctx; i++) {
      if (labels[i] === IGNORE_INDEX) {
        t.is(out[i], ids[i]);
        continue;
      }
      t.true(i >= 1 && i <= content, 'only content positions are selected');
      t.is(labels[i], ids[i]);
      selected++;
      if (out[i] === vocab.mask) masked++;
      else if (out[i] === ids[i]) kept++;
      else {
        randomised++;
        randomSum += out[i];
        randomMax = Math.max(randomMax, out[i]);
        randomMin = Math.min(randomMin, out[i]);
      }
    }
  }
  const rate = selected / eligible; // ~474k eligible: std 0.0005
  t.true(Math.abs(rate - 0.15) < 0.003, `selection rate ${rate}`);
  t.true(Math.abs(masked / selected - 0.8) < 0.006, `mask ${masked / selected}`);
  t.true(Math.abs(randomised / selected - 0.1) < 0.005, `random ${randomised / selected}`);
  t.true(Math.abs(kept / selected - 0.1) < 0.005, `kept ${kept / selected}`);
  t.true(randomMin >= 0 && randomMax < vocab.vocabSize);
  t.true(Math.abs(randomSum / randomised / vocab.vocabSize - 0.5) < 0.02, 'random ids uniform over the vocabulary');
});

test('SOT, EOT, MASK and padding are never selected; input is not modified', (t) => {
  const ids = new Int32Array(ctx);
  ids.set([vocab.sot, vocab.mask, 5, vocab.mask, vocab.eot]); // padding zeros follow
  const copy = Int32Array.from(ids);
  for (let s = 0; s < 2000; s++) {
    const { labels } = maskTokens(ids, vocab, deriveRng(2, s), { probability: 1 });
    t.deepEqual(Array.from(labels.slice(0, 5)), [IGNORE_INDEX, IGNORE_INDEX, 5, IGNORE_INDEX, IGNORE_INDEX]);
    t.true(labels.slice(5).every((l) => l === IGNORE_INDEX));
  }
  t.deepEqual(ids, copy);
});

test('reproducible with a seed; different seeds differ; openai tokenizer (no mask) is an error', (t) => {
  const ids = framed(1, 40);
  const a = maskTokens(ids, vocab, deriveRng(9, 'k'));
  const b = maskTokens(ids, vocab, deriveRng(9, 'k'));
  t.deepEqual(a, b);
  const c = maskTokens(ids, vocab, deriveRng(10, 'k'));
  t.notDeepEqual(a.labels, c.labels);
  t.throws(() => maskTokens(ids, { sot: 49406, eot: 49407, mask: undefined, vocabSize: 49408 }, deriveRng(1)), {
    message: /variant "declip"/,
  });
});
