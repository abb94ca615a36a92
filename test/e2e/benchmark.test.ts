// The benchmark command end to end on a 2 x 2 grid (test/helpers/tiny-grid.ts): a clean run writes the table and
// the cells; a run killed with SIGKILL at several moments and rerun completes only what was missing and writes the
// same results.csv; two --cell slices in separate processes plus one --aggregate-only write the same results.csv.
import test from 'ava';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPipeline, type ChildRun } from '../helpers/run-pipeline-child.ts';

const script = 'pipelines/benchmark.ts';
const grid = 'test/helpers/tiny-grid.ts';
const keys = ['clean_base_clip_s0', 'clean_base_slip_s0', 'noisy_base_clip_s0', 'noisy_base_slip_s0'];
const dirs: string[] = [];
let clean: { out: string; run: ChildRun; csv: string };

async function tempOut(name: string) {
  const d = await mkdtemp(join(tmpdir(), `bench-${name}-`));
  dirs.push(d);
  return d;
}

test.before(async () => {
  const out = await tempOut('clean');
  const run = await startPipeline(script, [grid, '--out', out]);
  clean = {
    out,
    run,
    csv: existsSync(join(out, 'results.csv')) ? await readFile(join(out, 'results.csv'), 'utf8') : '',
  };
});

test.after.always(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('a clean run trains every cell and writes the CSV, the Markdown and HTML tables and the run directories', async (t) => {
  t.is(clean.run.code, 0, clean.run.stderr);
  const lines = clean.csv.trim().split('\n');
  t.is(lines.length, 1 + keys.length * 2, 'header + one row per cell x step (0 and the last)');
  const header = lines[0].split(',');
  for (const c of [
    'cell',
    'data',
    'model',
    'supervision',
    'seed',
    'step',
    'dataset',
    'task',
    'pretrained',
    'model_fullname',
    'acc1',
  ])
    t.true(header.includes(c), `column ${c}`);
  const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
  t.deepEqual([...new Set(rows.map((r) => r.cell))], keys);
  t.deepEqual(
    rows.map((r) => r.step),
    ['0', '3', '0', '3', '0', '3', '0', '3'],
  );
  for (const r of rows) t.true(Number(r.acc1) >= 0 && Number(r.acc1) <= 1);
  const md = await readFile(join(clean.out, 'results.md'), 'utf8');
  t.regex(md, /\| clip \| [\d.]+ \| [\d.]+ \|/);
  t.regex(md, /Δ data — demo-color top-1/);
  t.regex(
    await readFile(join(clean.out, 'index.html'), 'utf8'),
    /<img src="plots\/bars-zeroshot-classification-demo-color\.svg"/,
  );
  for (const k of keys) {
    const cell = join(clean.out, 'cells', k);
    for (const f of ['cell.json', 'metrics.jsonl', 'report/index.html', 'results/step-0/records.json'])
      t.true(existsSync(join(cell, f)), `${k}/${f}`);
    t.true(
      existsSync(
        join(
          cell,
          `results/step-3/demo-color_${k.split('_')[0]}_${k.split('_')[2]}_s0@3_base_en_zeroshot_classification.json`,
        ),
      ),
    );
  }
  // a second run finds everything finished
  const again = await startPipeline(script, [grid, '--out', clean.out, '--list']);
  t.is(again.code, 0, again.stderr);
  t.is((again.stderr.match(/ done$/gm) ?? []).length, keys.length, again.stderr);
});

test('SIGKILL at several moments, rerun: only what was missing is done; the CSV equals the clean run', async (t) => {
  const out = await tempOut('killed');
  const killWhen = (re: RegExp) => (chunk: string, child: import('node:child_process').ChildProcess) => {
    if (re.test(chunk) && child.exitCode === null) child.kill('SIGKILL');
  };
  // 1: as the first cell is finished (the next cell's step-0 evaluation or set-up is under way)
  const r1 = await startPipeline(script, [grid, '--out', out], killWhen(/1\/4 clean_base_clip_s0: done/));
  t.is(r1.signal, 'SIGKILL', r1.stderr);
  const firstDone = statSync(join(out, 'cells', keys[0], 'cell.json')).mtimeMs;
  // 2: in the middle of training the second cell (after its step-2 checkpoint)
  const r2 = await startPipeline(script, [grid, '--out', out], killWhen(/step 2\/3/));
  t.is(r2.signal, 'SIGKILL', r2.stderr);
  t.regex(r2.stderr, /1\/4 clean_base_clip_s0: already finished, skipped/);
  // 3: --parallel 2 (two slice processes), the parent killed at a random moment: its slices stop by themselves
  const delay = Math.round(Math.random() * 5000);
  t.log(`third kill ${delay} ms after the slices started`);
  let armed = false;
  let seen = '';
  const r3 = await startPipeline(script, [grid, '--out', out, '--parallel', '2'], (chunk, child) => {
    seen += chunk;
    if (armed || (seen.match(/\(slice \d\/2, pid \d+\)/g) ?? []).length < 2) return;
    armed = true;
    setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), delay).unref();
  });
  const slicePids = [...r3.stderr.matchAll(/\(slice \d\/2, pid (\d+)\)/g)].map((m) => Number(m[1]));
  if (r3.signal === 'SIGKILL') {
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let waited = 0; slicePids.some(alive) && waited < 90_000; waited += 250)
      await new Promise((r) => setTimeout(r, 250));
    t.false(slicePids.some(alive), `slices ${slicePids} stopped after their parent was killed`);
  } else t.is(r3.code, 0, r3.stderr);
  // 4: to the end, again with two slice processes and the aggregate
  const r4 = await startPipeline(script, [grid, '--out', out, '--parallel', '2']);
  t.is(r4.code, 0, r4.stderr);
  t.regex(r4.stderr, /clean_base_clip_s0: already finished, skipped/);
  t.regex(
    r2.stderr + r3.stderr + r4.stderr,
    /\[clean_base_slip_s0\] resuming from step \d/,
    'the second cell resumed from its checkpoint',
  );
  t.is(statSync(join(out, 'cells', keys[0], 'cell.json')).mtimeMs, firstDone, 'a finished cell is not redone');
  t.is(await readFile(join(out, 'results.csv'), 'utf8'), clean.csv);
});

test('--cell i/N slices in separate processes and one --aggregate-only write the same CSV as one run', async (t) => {
  const out = await tempOut('slices');
  const [a, b] = await Promise.all([
    startPipeline(script, [grid, '--out', out, '--cell', '0/2']),
    startPipeline(script, [grid, '--out', out, '--cell', '1/2']),
  ]);
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  t.regex(a.stderr, /2 of 4 cells \(slice 0\/2, pid \d+\)/);
  t.regex(a.stderr, /--aggregate-only/);
  t.false(existsSync(join(out, 'results.csv')), 'a slice does not aggregate');
  const agg = await startPipeline(script, [grid, '--out', out, '--aggregate-only']);
  t.is(agg.code, 0, agg.stderr);
  t.is(await readFile(join(out, 'results.csv'), 'utf8'), clean.csv);
});

test('a bad grid or flag is one line naming the field, exit code 2', async (t) => {
  const bad = await startPipeline(script, [grid, '--only', 'supervision=siglip2']);
  t.is(bad.code, 2);
  t.regex(
    bad.stderr,
    /^pipelines\/benchmark\.ts: .*--only supervision=siglip2: no such supervision in grid tiny \(known: clip, slip\)\n$/,
  );
  const axis = await startPipeline(script, [grid, '--supervision.name', 'clip']);
  t.is(axis.code, 2);
  t.regex(axis.stderr, /set by the grid's axes/);
  const incomplete = await startPipeline(script, [grid, '--out', await tempOut('empty'), '--aggregate-only']);
  t.is(incomplete.code, 3, incomplete.stderr);
  t.regex(incomplete.stderr, /INCOMPLETE: 4 of 4 cells not finished/);
});
