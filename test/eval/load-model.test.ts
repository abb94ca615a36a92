// Loading weights for evaluation: a clip-bench file's recorded model, tokenizer and normalisation are used (flags
// override them and say so); a foreign file's architecture is inferred and every guess is said.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip, type ClipModel } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { Rng } from '../../src/rng.ts';
import { loadTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { saveClipWeights } from '../../src/weights/clip-weights.ts';
import { exportStateDict } from '../../src/weights/openai-names.ts';
import { writeSafetensors } from '../../src/weights/safetensors.ts';
import { imagenetStats } from '../../src/image/presets.ts';
import type { TokenizerRecord } from '../../src/weights/model-record.ts';
import { loadEvalModel } from '../../src/eval/load-model.ts';

const demoVocab = fileURLToPath(new URL('../../fixtures/demo/vocab.txt.gz', import.meta.url));
let dir = '';
let model: ClipModel;
let tokenizerRecord: TokenizerRecord;

test.before(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'load-model-'));
  const tokenizer = await loadTokenizer({ vocabPath: demoVocab, variant: 'declip', contextLength: 24 });
  // heads that width / 64 would not guess: 4 vision heads of 16, 2 text heads of 32
  model = createClip(
    buildClipConfig('tiny', {
      vision: { heads: 4 },
      text: { vocabSize: tokenizer.vocabSize, contextLength: 24 },
    }),
    new ParamStore(),
    new Rng(1),
  );
  tokenizerRecord = {
    variant: 'declip',
    contextLength: 24,
    vocabSize: tokenizer.vocabSize,
    vocab: demoVocab,
    vocabSha256: tokenizer.vocabFile.sha256,
    vocabBytes: tokenizer.vocabFile.bytes,
  };
});
test.after.always(async () => {
  model.dispose();
  await rm(dir, { recursive: true, force: true });
});

const recorded = async (name: string, tokenizer: TokenizerRecord) => {
  const file = join(dir, name);
  await saveClipWeights(model, file, undefined, { tokenizer, normalisation: { name: 'imagenet', ...imagenetStats } });
  return file;
};

test.serial('a recorded model is loaded as trained: architecture, tokenizer and normalisation', async (t) => {
  const file = await recorded('recorded.safetensors', tokenizerRecord);
  const r = await loadEvalModel({ weights: file });
  t.deepEqual(r.model.config, model.config);
  t.like(r.tokenizer, { variant: 'declip', contextLength: 24, vocabSize: tokenizerRecord.vocabSize });
  t.is(r.tokenizer.vocabFile.sha256, tokenizerRecord.vocabSha256);
  t.deepEqual(r.normalisation, { name: 'imagenet', stats: imagenetStats });
  t.deepEqual(
    r.notes.map((n) => n.kind),
    ['recorded', 'recorded', 'recorded'],
  );
  r.model.dispose();
  // overrides are used and said
  const o = await loadEvalModel({ weights: file, normalize: 'openai', textHeads: 1 });
  t.is(o.model.config.text.heads, 1);
  t.is(o.normalisation.name, 'openai');
  t.deepEqual(
    o.notes.filter((n) => n.kind === 'override').map((n) => n.text),
    [
      "--text-heads 1 overrides the checkpoint's 2 heads",
      "--normalize openai overrides the checkpoint's imagenet normalisation",
    ],
  );
  o.model.dispose();
});

test.serial('the recorded vocabulary must be found and be the same file', async (t) => {
  // moved away: named with its sha256, and how to provide it
  const gone = await recorded('gone.safetensors', { ...tokenizerRecord, vocab: join(dir, 'moved.txt.gz') });
  const e = await t.throwsAsync(loadEvalModel({ weights: gone }));
  t.regex(
    e!.message,
    new RegExp(
      `gone\\.safetensors was trained with the vocabulary .*moved\\.txt\\.gz \\(sha256 ${tokenizerRecord.vocabSha256.slice(0, 12)}\\.\\.\\., \\d+ bytes\\), which is not there: pass --vocab PATH`,
    ),
  );
  // --vocab gives it back
  await copyFile(demoVocab, join(dir, 'found.txt.gz'));
  const found = await loadEvalModel({ weights: gone, vocab: join(dir, 'found.txt.gz') });
  t.false(
    found.notes.some((n) => n.kind === 'override'),
    'the same bytes: no override',
  );
  found.model.dispose();
  // a different file at the recorded path is refused
  const changed = await recorded('changed.safetensors', { ...tokenizerRecord, vocabSha256: 'f'.repeat(64) });
  await t.throwsAsync(loadEvalModel({ weights: changed }), {
    message:
      /changed\.safetensors was trained with the vocabulary .* \(sha256 ffffffffffff\.\.\.\), but .* has sha256 .*: pass --vocab/,
  });
});

test.serial('a foreign file: the architecture is inferred and every guess is said', async (t) => {
  const file = join(dir, 'foreign.safetensors');
  await writeSafetensors(file, exportStateDict(model.store));
  // (the demo vocabulary with <|mask|> is not what a vocabulary size would suggest: the variant is given)
  const r = await loadEvalModel({ weights: file, vocab: demoVocab, variant: 'declip' });
  t.is(r.model.config.vision.heads, 1, 'width / 64');
  const guesses = r.notes.filter((n) => n.kind === 'guess').map((n) => n.text);
  t.is(guesses.length, 2);
  t.regex(
    guesses[0],
    /records no architecture: inferred from the tensor shapes .*GUESSED vision heads 1 \(width 64 \/ 64\), text heads 1 \(width 64 \/ 64\): pass --vision-heads\/--text-heads/,
  );
  t.regex(guesses[1], /records no image normalisation: using OpenAI's statistics/);
  r.model.dispose();
  // the heads given on the command line are used instead of the guess
  const h = await loadEvalModel({ weights: file, vocab: demoVocab, visionHeads: 4, textHeads: 2, variant: 'declip' });
  t.deepEqual(h.model.config, model.config);
  t.deepEqual(
    h.notes.filter((n) => n.kind === 'guess').map((n) => n.text.slice(0, 40)),
    [`${file} records no architecture`.slice(0, 40), `${file} records no image normalisation`.slice(0, 40)],
  );
  h.model.dispose();
});
