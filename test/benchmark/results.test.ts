// The table from finished cells: results.csv in clip_benchmark build's shape, mean ± std over seeds, deltas against
// each axis's baseline with the seed-noise mark, average ranks, chance and step-0 rows, Markdown/HTML/plots.
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandGrid } from '../../run/benchmark/expand-grid.ts';
import { aggregate } from '../../run/benchmark/aggregate.ts';
import { resultsCsv, pythonFloat } from '../../run/benchmark/results-csv.ts';
import { summarize, formatMeanStd, mainValue } from '../../run/benchmark/summarize.ts';
import { paperTables, deltaTables } from '../../run/benchmark/results-tables.ts';
import type { CellRecord } from '../../run/benchmark/run-cell.ts';
import type { BenchmarkResult } from '../../src/eval/results.ts';

test('floats as Python writes them (what clip_benchmark build puts in its CSV)', (t) => {
  const cases: Array<[number, string]> = [
    [0.5, '0.5'],
    [1, '1.0'],
    [100, '100.0'],
    [1e-5, '1e-05'],
    [0.0001, '0.0001'],
    [0.00012345, '0.00012345'],
    [1e16, '1e+16'],
    [1.5e17, '1.5e+17'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-0.25, '-0.25'],
    [9999999999999998, '9999999999999998.0'],
    [NaN, 'nan'],
    [-0, '-0.0'],
  ];
  for (const [v, want] of cases) t.is(pythonFloat(v), want, String(v));
});

const record = (over: Partial<BenchmarkResult> & { metrics: Record<string, number> }): BenchmarkResult => ({
  dataset: 'demo-color',
  model: 'vit',
  pretrained: 'p',
  task: 'zeroshot_classification',
  language: 'en',
  ...over,
});

test('results.csv: one row per record, the record fields and every metric as columns, model_fullname, quoting', (t) => {
  const csv = resultsCsv([
    record({
      metrics: { acc1: 0.5, acc5: 1 },
      cell: 'c',
      data: 'clean',
      supervision: 'clip',
      seed: 0,
      step: 0,
      samples_seen: 0,
      classes: 8,
    }),
    record({
      task: 'zeroshot_retrieval',
      dataset: 'flickr, 1k',
      metrics: { 'image_retrieval_recall@1': 0.25 },
      cell: 'c',
      data: 'clean',
      supervision: 'clip',
      seed: 0,
      step: 10,
      samples_seen: 640,
      skipped_images: { count: 1 },
    }),
  ]);
  const [header, row1, row2] = csv.trimEnd().split('\n');
  t.is(
    header,
    'cell,data,model,supervision,seed,step,samples_seen,dataset,task,language,pretrained,model_fullname,classes,skipped_images,acc1,acc5,image_retrieval_recall@1',
  );
  t.is(row1, 'c,clean,vit,clip,0,0,0,demo-color,zeroshot_classification,en,p,vit p,8,,0.5,1,');
  t.is(row2, 'c,clean,vit,clip,0,10,640,"flickr, 1k",zeroshot_retrieval,en,p,vit p,,"{""count"":1}",,,0.25');
});

/** A grid of 2 data x 1 model x 2 methods x 2 seeds whose cells are finished with the given final accuracies. */
async function finishedGrid(acc: (data: string, sup: string, seed: number) => number) {
  const out = await mkdtemp(join(tmpdir(), 'bench-results-'));
  const g = expandGrid(
    {
      name: 'syn',
      base: { model: { preset: 'tiny' }, optim: { batchSize: 8, steps: 4, totalSteps: 4, warmupSteps: 1 } },
      axes: {
        data: { clean: 'c.tar', noisy: 'n.tar' },
        supervision: { clip: { name: 'clip' }, slip: { name: 'slip' } },
        seeds: [0, 1],
      },
      suite: {
        tasks: [
          { task: 'zeroshot_classification', dataset: 'demo-color', data: 'h.tar', prompts: 'p.json' },
          { task: 'zeroshot_retrieval', dataset: 'flickr', data: 'f.csv' },
        ],
      },
    },
    out,
  );
  for (const cell of g.cells) {
    const { data, supervision, seed } = cell.axes;
    const dir = cell.declaration.logging.out;
    const results = [0, 4].flatMap((step) => {
      const a = step === 0 ? 0.11 : acc(data, supervision, seed);
      const fields = {
        cell: cell.key,
        data,
        supervision,
        seed,
        step,
        samples_seen: step * 8,
        model: 'base',
        pretrained: `${cell.key}@${step}`,
      };
      return [
        record({ ...fields, metrics: { acc1: a, acc5: 0.9 }, classes: 8 }),
        record({
          ...fields,
          task: 'zeroshot_retrieval',
          dataset: 'flickr',
          metrics: { 'mean_recall@1': a / 2, 'image_retrieval_recall@1': a / 2 },
        }),
      ];
    });
    const r: CellRecord = {
      key: cell.key,
      axes: cell.axes,
      steps: 4,
      batchSize: 8,
      samplesSeen: 32,
      trainMs: 1000,
      evalMs: 200,
      results,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:10:00.000Z',
    };
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'cell.json'), JSON.stringify(r));
    const steps = [1, 2, 3, 4].map((s) => ({
      type: 'step',
      step: s,
      loss: 3 - s / 4 - seed / 10,
      parts: {},
      lr: 1e-3,
      logitScales: {},
    }));
    const evals = [
      {
        type: 'eval',
        step: 4,
        results: { 'demo-color/acc1': acc(data, supervision, seed), 'demo-color/chance': 0.125 },
      },
    ];
    await writeFile(
      join(dir, 'metrics.jsonl'),
      [{ type: 'run', time: new Date().toISOString() }, ...steps, ...evals].map((l) => JSON.stringify(l)).join('\n') +
        '\n',
    );
  }
  return { g, out };
}

test('summary: mean ± std, DataComp average, chance, step 0; deltas with the seed-noise mark; ranks', async (t) => {
  // slip beats clip clearly on clean data (tight seeds), barely on noisy data (spread seeds)
  const table: Record<string, number[]> = {
    'clean clip': [0.6, 0.62],
    'clean slip': [0.8, 0.81],
    'noisy clip': [0.4, 0.5],
    'noisy slip': [0.43, 0.55],
  };
  const { g, out } = await finishedGrid((data, sup, seed) => table[`${data} ${sup}`][seed]);
  const a = await aggregate(g);
  const s = a.summary;
  t.deepEqual(s.missing, []);
  t.deepEqual(
    s.columns.map((c) => c.label),
    ['demo-color top-1', 'flickr mean recall@1'],
  );
  t.deepEqual(s.allColumns.at(-1)!.id, 'average');
  t.is(
    formatMeanStd(
      s.combinations.find((c) => c.data === 'clean' && c.supervision === 'slip')!.final[
        'zeroshot_classification:demo-color'
      ],
    ),
    '80.5 ± 0.7',
  );
  t.is(s.chance['zeroshot_classification:demo-color'], 0.125);
  const byDelta = (axis: string, data: string, sup: string, col = 'zeroshot_classification:demo-color') =>
    s.deltas.find(
      (d) => d.axis === axis && d.combination.data === data && d.combination.supervision === sup && d.column === col,
    )!;
  const cleanSlip = byDelta('supervision', 'clean', 'slip');
  t.true(Math.abs(cleanSlip.diff - 0.195) < 1e-12);
  t.false(cleanSlip.withinNoise, `p ${cleanSlip.p}`);
  const noisySlip = byDelta('supervision', 'noisy', 'slip');
  t.true(noisySlip.withinNoise, `p ${noisySlip.p}`);
  t.true(byDelta('data', 'noisy', 'clip').diff < 0);
  t.deepEqual(s.ranks['zeroshot_classification:demo-color'], { clip: 2, slip: 1 });

  const [colour, retrieval, average] = paperTables(s);
  t.regex(colour.title, /^demo-color top-1 \(%\) at the end of training, mean ± std over seeds$/);
  t.deepEqual(colour.header, ['method', 'clean', 'noisy', 'avg rank']);
  t.deepEqual(colour.rows, [
    ['clip', '61.0 ± 1.4', '45.0 ± 7.1', '2.00'],
    ['slip', '80.5 ± 0.7', '49.0 ± 8.5', '1.00'],
  ]);
  t.deepEqual(colour.footer, [
    ['untrained (step 0)', '11.0 ± 0.0', '11.0 ± 0.0', ''],
    ['chance', '12.5', '12.5', ''],
  ]);
  t.deepEqual(retrieval.rows[1], ['slip', '40.3 ± 0.4', '24.5 ± 4.2', '1.00']);
  t.deepEqual(retrieval.footer![1], ['chance', '-', '-', '']);
  t.regex(average.title, /^Average over the tasks/);
  t.deepEqual(average.rows[1].slice(0, 2), ['slip', '60.4 ± 0.5']);
  const [supDemo] = deltaTables(s);
  t.regex(supDemo.title, /Δ method — demo-color top-1 \(points\): each method minus clip on the same tower and data/);
  t.deepEqual(supDemo.rows, [['slip', '+19.5', '+4.0 ≈']]);

  // the files
  const csv = await readFile(a.csv, 'utf8');
  t.is(csv.trim().split('\n').length, 1 + 8 * 2 * 2, 'cells x steps x tasks');
  const md = await readFile(a.md, 'utf8');
  t.regex(md, /\| slip \| 80\.5 ± 0\.7 \| 49\.0 ± 8\.5 \| 1\.00 \|/);
  t.regex(md, /Welch's two-sided t-test/);
  t.regex(md, /8 cells: 9\.6 s of training and evaluation summed over the cells; 10 min 0 s on the clock/);
  t.regex(
    md,
    /!\[demo-color top-1 \(%\) after training, mean ± std over seeds\]\(plots\/bars-zeroshot-classification-demo-color\.svg\)/,
  );
  const html = await readFile(a.html, 'utf8');
  t.regex(html, /<td class="num">\+4\.0 <span class="noise">≈<\/span><\/td>/);
  t.regex(html, /href="cells\/clean_base_clip_s0\/report\/index\.html"/);
  for (const f of ['bars-average.svg', 'loss-clean-base.svg', 'eval-noisy-base.svg'])
    t.true(existsSync(join(out, 'plots', f)), f);
  // published elsewhere (docs/): the same table, without links to the cells' run reports
  const pub = await aggregate(g, join(out, 'pub'));
  t.is(await readFile(pub.csv, 'utf8'), csv);
  t.notRegex(await readFile(pub.html, 'utf8'), /href="cells\//);
  t.true(existsSync(join(out, 'pub', 'plots', 'bars-average.svg')));
  const loss = await readFile(join(out, 'plots', 'loss-clean-base.svg'), 'utf8');
  t.is((loss.match(/<polyline /g) ?? []).length, 2, 'one curve per method (seeds averaged)');
  await rm(out, { recursive: true, force: true });
});

test('an incomplete grid: finished cells tabled, missing ones named; one seed leaves a difference untested', async (t) => {
  const { g, out } = await finishedGrid((_d, sup) => (sup === 'clip' ? 0.5 : 0.6));
  await rm(join(out, 'cells', 'noisy_base_slip_s1'), { recursive: true });
  await rm(join(out, 'cells', 'noisy_base_clip_s1'), { recursive: true });
  const a = await aggregate(g);
  t.deepEqual(a.summary.missing, ['noisy_base_clip_s1', 'noisy_base_slip_s1']);
  t.regex(
    await readFile(a.md, 'utf8'),
    /6 of 8 cells finished — INCOMPLETE, missing: noisy_base_clip_s1, noisy_base_slip_s1/,
  );
  const [supDemo] = deltaTables(a.summary);
  t.deepEqual(supDemo.rows, [['slip', '+10.0', '+10.0 ?']]);
  t.is(mainValue(record({ task: 'zeroshot_retrieval', metrics: { 'mean_recall@1': 0.3 } })), 0.3);
  t.is(mainValue(record({ dataset: 'caltech101', metrics: { acc1: 0.3, mean_per_class_recall: 0.2 } })), 0.2);
  await rm(out, { recursive: true, force: true });
});
