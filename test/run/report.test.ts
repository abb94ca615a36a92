import test from 'ava';
import sharp from 'sharp';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRunReport } from '../../run/report/write-run-report.ts';
import { writeComparison, runLabels } from '../../run/report/compare-runs.ts';
import { readMetrics, evalKeyKind } from '../../run/report/read-metrics.ts';
import { niceTicks, lineChartSvg } from '../../src/report/line-chart-svg.ts';
import { barChartSvg } from '../../src/report/bar-chart-svg.ts';

const iso = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

/** A run's metrics.jsonl: `sessions` lists [firstStep, lastStep, ended] per process (a resumed run has several). */
function metricsLines(sessions: Array<[number, number, boolean]>, lossAt = (s: number) => 5 - s * 0.05): object[] {
  const lines: object[] = [];
  let t = 0;
  for (const [from, to, ended] of sessions) {
    const start = t;
    lines.push({
      type: 'run',
      time: iso(t),
      startStep: from - 1,
      name: 'demo',
      supervision: 'defilip',
      model: 'tiny',
      backend: 'wasm',
      threads: 2,
      batchSize: 64,
      microBatchSize: 32,
      parameters: 500000,
    });
    for (let s = from; s <= to; s++) {
      t += 1;
      lines.push({
        type: 'step',
        step: s,
        time: iso(t),
        loss: lossAt(s),
        parts: { mv: 4 - s * 0.04, filip: 3.5 - s * 0.01 },
        lr: 1e-3 * Math.min(1, s / 10),
        logitScales: { logit_scale: 20 + s / 4, logit_scale_dense: 20 },
        samplesPerSec: 50,
        dataWaitMs: 3,
      });
      if (s % 20 === 0)
        lines.push({
          type: 'eval',
          step: s,
          time: iso(t),
          results: {
            'demo-color/acc1': 0.2 + s / 100,
            'demo-color/acc5': 0.7,
            'demo-color/chance': 0.125,
            'flickr/image_retrieval_recall@1': 0.1 + s / 200,
            'flickr/text_retrieval_recall@1': 0.12 + s / 200,
            'demo-color-lp/lp_acc1': 0.5 + s / 100,
          },
        });
    }
    if (ended) lines.push({ type: 'end', time: iso(t), wallMs: (t - start) * 1000 + 500 });
  }
  return lines;
}

async function runDir(root: string, name: string, lines: object[]): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'metrics.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return dir;
}

test('report: PNG plots of losses, lr, temperature, evaluations and a one-page HTML summary', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'report-'));
  const lines = metricsLines([[1, 40, true]]);
  // a resumed run may re-log a step: the last record of a step wins
  lines.push({
    type: 'step',
    step: 40,
    time: iso(50),
    loss: 2.5,
    parts: { mv: 2, filip: 3 },
    lr: 1e-3,
    logitScales: { logit_scale: 30, logit_scale_dense: 20 },
    samplesPerSec: 50,
    dataWaitMs: 3,
  });
  const dir = await runDir(root, 'run', lines);
  const m = await readMetrics(dir);
  t.is(m.steps.length, 40);
  t.is(m.steps.at(-1)!.loss, 2.5);
  const r = await writeRunReport(dir);
  t.deepEqual(
    r.plots.map((p) => p.split('/').at(-1)),
    ['losses.png', 'lr.png', 'temperature.png', 'eval.png', 'retrieval.png', 'linear-probe.png'],
  );
  for (const p of r.plots) {
    const meta = await sharp(p).metadata();
    t.is(meta.format, 'png');
    t.is(meta.width, 640);
    const { channels } = await sharp(p).stats();
    t.true(channels[0].min < 100, `${p} has dark pixels (lines, text)`);
  }
  const html = await readFile(r.html, 'utf8');
  t.regex(html, /<img src="losses\.png"/);
  t.regex(html, /final loss<\/td><td>2\.5000/);
  t.regex(html, /demo-color\/acc1<\/td><td>60\.00%/);
  t.regex(html, /40\.5 s/);
  await rm(root, { recursive: true, force: true });
});

test('the wall time of a resumed run adds up every session, the killed ones too', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'report-'));
  // session 1 killed after step 12 (no end record), session 2 resumed from step 10 and ended
  const lines = metricsLines([
    [1, 12, false],
    [11, 30, true],
  ]);
  const dir = await runDir(root, 'resumed', lines);
  const m = await readMetrics(dir);
  t.is(m.sessions.length, 2);
  t.deepEqual(
    m.sessions.map((s) => [s.startStep, s.ended]),
    [
      [0, false],
      [10, true],
    ],
  );
  t.is(m.sessions[0].wallMs, 12_000, 'a killed session counts up to its last record');
  t.is(m.sessions[1].wallMs, 20_500, 'an ended session counts its own measure');
  t.is(m.totalWallMs, 32_500);
  t.is(m.steps.length, 30);
  const html = await readFile((await writeRunReport(dir)).html, 'utf8');
  t.regex(html, /32\.5 s in 2 sessions \(from step 0: 12\.0 s, killed; from step 10: 20\.5 s\)/);
  await rm(root, { recursive: true, force: true });
});

test('a partial last line (a kill mid-write) is ignored; damage elsewhere is an error naming the line', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'report-'));
  const dir = await runDir(root, 'r', metricsLines([[1, 3, false]]));
  await writeFile(join(dir, 'metrics.jsonl'), (await readFile(join(dir, 'metrics.jsonl'), 'utf8')) + '{"type":"st');
  t.is((await readMetrics(dir)).steps.length, 3);
  await writeFile(join(dir, 'metrics.jsonl'), '{"type":"run"}\nnot json\n{"type":"step","step":1}\n');
  await t.throwsAsync(readMetrics(dir), { message: /metrics\.jsonl line 2 is not JSON/ });
  await rm(root, { recursive: true, force: true });
});

test('several runs compared: one curve per run per plot, retrieval and linear probe, results, wall times', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'compare-'));
  const a = await runDir(root, 'clip', metricsLines([[1, 40, true]]));
  const b = await runDir(
    root,
    'declip',
    metricsLines(
      [
        [1, 20, false],
        [15, 40, true],
      ],
      (s) => 6 - s * 0.1,
    ),
  );
  await mkdir(join(b, 'results', 'step-40'), { recursive: true });
  await writeFile(
    join(b, 'results', 'step-40', 'demo-color_x_tiny_en_zeroshot_classification.json'),
    JSON.stringify({
      dataset: 'demo-color',
      model: 'tiny',
      pretrained: 'x',
      task: 'zeroshot_classification',
      metrics: { acc1: 0.5, acc5: NaN },
      language: 'en',
    }).replace('null', 'NaN'),
  );
  const out = join(root, 'cmp');
  const r = await writeComparison([a, b], out);
  const names = r.plots.map((p) => p.split('/').at(-1));
  t.deepEqual(names.slice(0, 3), ['loss.svg', 'lr.svg', 'temperature.svg']);
  t.true(names.includes('eval-demo-color_acc1.svg'));
  t.true(names.includes('eval-flickr_image_retrieval_recall_1.svg'), names.join(' '));
  t.true(names.includes('eval-demo-color-lp_lp_acc1.svg'));
  const loss = await readFile(join(out, 'loss.svg'), 'utf8');
  t.is((loss.match(/<polyline /g) ?? []).length, 2, 'one curve per run');
  // the legend lies below the plot area: its entries are lower than the x axis
  const axisY = Number(/<line x1="70" x2="620" y1="([\d.]+)" y2="\1" stroke="#333"\/>/.exec(loss)![1]);
  const legendYs = [...loss.matchAll(/<text x="[\d.]+" y="([\d.]+)" font-size="11">(clip|declip)<\/text>/g)].map((m) =>
    Number(m[1]),
  );
  t.is(legendYs.length, 2);
  t.true(
    legendYs.every((y) => y > axisY),
    `legend ${legendYs} under the axis at ${axisY}`,
  );
  const html = await readFile(r.html, 'utf8');
  t.regex(html, /<td>declip<\/td><td>defilip \/ tiny<\/td><td>40<\/td>/);
  t.regex(html, /\(2 sessions\)/);
  t.regex(
    html,
    /<td>demo-color<\/td><td>zeroshot_classification<\/td><td>x<\/td><td class="num">50\.00<\/td><td class="num">nan<\/td>/,
  );
  t.deepEqual(runLabels(['/x/a/run', '/y/b/run', '/z/c']), ['a/run', 'b/run', 'z/c']);
  await rm(root, { recursive: true, force: true });
});

test('report on a directory without metrics is a one-line error', async (t) => {
  await t.throwsAsync(writeRunReport('/nonexistent-run'), {
    message: /report: \/nonexistent-run\/metrics\.jsonl not found/,
  });
});

test('chart helpers: nice ticks, "no data", polyline points, dashes; bars with error bars and a chance line', (t) => {
  t.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  t.deepEqual(niceTicks(3, 47), [10, 20, 30, 40]);
  t.regex(lineChartSvg([], { title: 'x', xLabel: 'a', yLabel: 'b' }), /no data/);
  const line = lineChartSvg(
    [
      {
        name: 's',
        points: [
          [1, 2],
          [2, 3],
        ],
      },
      {
        name: 'd',
        points: [
          [1, 1],
          [2, 2],
        ],
        dash: '7 4',
        color: '#123456',
      },
    ],
    { title: 't<1>', xLabel: 'a', yLabel: 'b' },
  );
  t.regex(line, /<polyline .*points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/);
  t.regex(line, /stroke="#123456" stroke-width="1.6" stroke-dasharray="7 4"/);
  t.regex(line, /t&lt;1&gt;/);
  const bars = barChartSvg(
    [
      {
        label: 'vit',
        bars: [
          { series: 'clip', value: 50, error: 5 },
          { series: 'slip', value: 60 },
        ],
      },
      {
        label: 'rn',
        bars: [
          { series: 'clip', value: 40, error: 2 },
          { series: 'slip', value: NaN },
        ],
      },
    ],
    { title: 'acc', yLabel: '%', yRange: [0, 100], reference: { y: 12.5, label: 'chance 12.5%' } },
  );
  t.is((bars.match(/<rect [^>]*><title>/g) ?? []).length, 3, 'NaN draws no bar');
  t.is((bars.match(/<path d="M/g) ?? []).length, 2, 'an error bar where there is a std');
  t.regex(bars, /chance 12\.5%/);
  t.is(evalKeyKind('a/lp_acc1'), 'linear-probe');
  t.is(evalKeyKind('flickr/text_retrieval_recall@5'), 'retrieval');
  t.is(evalKeyKind('cifar10/acc1'), 'accuracy');
  t.is(evalKeyKind('cifar10/chance'), 'chance');
});
