// run/eval/dense-scorer-of.ts: a stand-alone evaluation scores zero-shot as training did. A checkpoint that records
// FILIP is scored token-wise unless --no-dense; one that records FILIP but lacks the token mappings is refused with
// the way out, never silently scored another way.
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { initBackend, shutdownBackend } from '../../../src/backend.ts';
import { loadEvalModel } from '../../../src/eval/load-model.ts';
import { denseScorerOf } from '../../../run/eval/dense-scorer-of.ts';
import type { EvalSetup } from '../../../run/eval-cli.ts';

// a CLIP-trained file: no FILIP token mappings
const weights = fileURLToPath(
  new URL('../../../fixtures/parity/zero-shot/tiny-clip-cifar10.safetensors', import.meta.url),
);

const vocab = fileURLToPath(new URL('../../../fixtures/demo/vocab.txt.gz', import.meta.url));

test.before(async () => {
  await initBackend({ backend: 'cpu', quiet: true });
});
test.after.always(() => shutdownBackend());

test('FILIP is the default only for a checkpoint that records it; --no-dense and other methods use global scoring', async (t) => {
  const { model, weightsFile } = await loadEvalModel({ weights, vocab, normalize: 'openai' });
  try {
    const setup = (values: Record<string, boolean>, supervision?: string) =>
      ({ values, model, weightsFile, quiet: true, ...(supervision ? { supervision } : {}) }) as unknown as EvalSetup;
    t.is(await denseScorerOf(setup({})), undefined, 'foreign file: global');
    t.is(await denseScorerOf(setup({}, 'clip')), undefined, 'CLIP checkpoint: global');
    t.is(await denseScorerOf(setup({ dense: false }, 'filip')), undefined, '--no-dense');
    await t.throwsAsync(denseScorerOf(setup({}, 'filip')), {
      message: /records FILIP training but holds no FILIP token mappings .*--no-dense scores it with the global/,
    });
    await t.throwsAsync(denseScorerOf(setup({ dense: true }, 'clip')), {
      message: /^--dense: .*no FILIP token mappings/,
    });
  } finally {
    model.dispose();
  }
});
