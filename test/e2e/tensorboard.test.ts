// Every run directory holds TensorBoard event files with the same scalars as metrics.jsonl, read with the reader that
// reads the file TensorFlow 2 wrote (test/tensorboard/event-file.test.ts): a tiny run with zero-shot evaluations, then
// the same run resumed from an older checkpoint, which rewinds both metrics.jsonl and the event files.
import test from 'ava';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPipeline, tinyArgs } from '../helpers/run-pipeline-child.ts';
import { readTensorboardDir } from '../helpers/tensorboard-dir.ts';

const heldout = fileURLToPath(new URL('../../fixtures/demo/heldout-000000.tar', import.meta.url));
const prompts = fileURLToPath(new URL('../../fixtures/demo/zero-shot.json', import.meta.url));
const evalArgs = ['--eval.shards', heldout, '--eval.prompts', prompts, '--eval.dataset', 'demo-color'];

type Json = Record<string, unknown>;

/** Every number of a step record (but its step) and of an eval record's results, with its step. */
function jsonlNumbers(records: Json[]): Array<{ step: number; path: string; value: number }> {
  const out: Array<{ step: number; path: string; value: number }> = [];
  const walk = (step: number, path: string, v: unknown) => {
    if (typeof v === 'number') out.push({ step, path, value: v });
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) walk(step, path ? `${path}.${k}` : k, x);
  };
  for (const r of records) {
    if (r.type === 'step') for (const [k, v] of Object.entries(r)) if (k !== 'step') walk(r.step as number, k, v);
    if (r.type === 'eval') walk(r.step as number, 'results', r.results);
  }
  return out;
}

async function compare(t: any, out: string) {
  const records = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Json);
  const tb = readTensorboardDir(out);
  t.is(tb.files.length, 1, `one event file in ${out}: ${tb.files}`);
  t.is(tb.events[0][0].fileVersion, 'brain.Event:2');
  t.true(tb.points.every((p) => p.pluginName === 'scalars'));
  // the same numbers at the same steps (as float32, the precision of TensorBoard scalars)
  const key = (step: number, value: number) => `${step}:${Math.fround(value)}`;
  const ours = jsonlNumbers(records);
  t.deepEqual(tb.points.map((p) => key(p.step, p.value)).sort(), ours.map((n) => key(n.step, n.value)).sort());
  // under the names the sink documents, with each record's time
  const at = (tag: string, step: number) => tb.points.find((p) => p.tag === tag && p.step === step);
  for (const r of records) {
    if (r.type === 'step') {
      const step = r.step as number;
      t.is(at('loss/total', step)?.value, Math.fround(r.loss as number));
      t.is(at('train/lr', step)?.value, Math.fround(r.lr as number));
      t.is(at('speed/samples_per_sec', step)?.value, Math.fround(r.samplesPerSec as number));
      for (const [k, v] of Object.entries(r.parts as Record<string, number>))
        t.is(at(`loss/${k}`, step)?.value, Math.fround(v));
      for (const [k, v] of Object.entries(r.logitScales as Record<string, number>))
        t.is(at(`logit_scale/${k}`, step)?.value, Math.fround(v));
      t.is(at('loss/total', step)?.wallTime, Date.parse(r.time as string) / 1000);
    }
    if (r.type === 'eval')
      for (const [k, v] of Object.entries(r.results as Record<string, number>))
        t.is(at(`eval/${k}`, r.step as number)?.value, Math.fround(v));
  }
  return records;
}

test('the run directory has event files with the same scalars as metrics.jsonl, also after a resume', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'pipe-tensorboard-'));
  const args = (steps: number, extra: string[] = []) =>
    tinyArgs('clip', out, [
      '--steps',
      String(steps),
      '--checkpoint.every',
      '2',
      '--eval-every',
      '2',
      ...evalArgs,
      ...extra,
    ]);
  const first = await startPipeline('pipelines/clip-yfcc15m.ts', args(4));
  t.is(first.code, 0, first.stderr);
  const records = await compare(t, out);
  t.deepEqual(
    records.filter((r) => r.type === 'eval').map((r) => r.step),
    [2, 4],
  );
  // resume from the step-2 checkpoint: steps 3 and 4 are trained again, so the run's records after step 2 are replaced
  const checkpoints = (await readdir(join(out, 'checkpoints'))).filter((n) => n.startsWith('step-')).sort();
  await rm(join(out, 'checkpoints', checkpoints.at(-1)!), { recursive: true });
  const resumed = await startPipeline('pipelines/clip-yfcc15m.ts', args(5, ['--resume', 'latest']));
  t.is(resumed.code, 0, resumed.stderr);
  const after = await compare(t, out);
  t.deepEqual(
    after.filter((r) => r.type === 'step').map((r) => r.step),
    [1, 2, 3, 4, 5],
  );
  await rm(out, { recursive: true, force: true });
});
