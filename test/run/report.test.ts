import test from 'ava';
import sharp from 'sharp';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReport, readMetrics } from '../../pipelines/report.ts';
import { niceTicks, lineChartSvg } from '../../src/report/line-chart-svg.ts';

test('report: PNG plots of losses, lr, temperature, eval accuracy and a one-page HTML summary', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'report-'));
  const lines: object[] = [
    {
      type: 'run',
      name: 'demo',
      supervision: 'defilip',
      model: 'tiny',
      backend: 'wasm',
      threads: 2,
      batchSize: 64,
      microBatchSize: 32,
      parameters: 500000,
    },
  ];
  for (let s = 1; s <= 40; s++) {
    lines.push({
      type: 'step',
      step: s,
      loss: 5 - s * 0.05,
      parts: { mv: 4 - s * 0.04, filip: 3.5 - s * 0.01 },
      lr: 1e-3 * Math.min(1, s / 10),
      logitScales: { logit_scale: 20 + s / 4, logit_scale_dense: 20 },
      samplesPerSec: 50,
      dataWaitMs: 3,
      time: '',
    });
    if (s % 20 === 0)
      lines.push({
        type: 'eval',
        step: s,
        results: { 'demo-color/acc1': 0.2 + s / 100, 'demo-color/acc5': 0.7, 'demo-color/chance': 0.125 },
      });
  }
  // a resumed run may re-log a step: the last record of a step wins
  lines.push({
    type: 'step',
    step: 40,
    loss: 2.5,
    parts: { mv: 2, filip: 3 },
    lr: 1e-3,
    logitScales: { logit_scale: 30, logit_scale_dense: 20 },
    samplesPerSec: 50,
    dataWaitMs: 3,
    time: '',
  });
  lines.push({ type: 'end', wallMs: 12345 });
  await writeFile(join(dir, 'metrics.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const m = await readMetrics(dir);
  t.is(m.steps.length, 40);
  t.is(m.steps.at(-1)!.loss, 2.5);
  const r = await writeReport(dir);
  t.deepEqual(
    r.plots.map((p) => p.split('/').at(-1)),
    ['losses.png', 'lr.png', 'temperature.png', 'eval.png'],
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
  t.regex(html, /12\.3 s/);
  await rm(dir, { recursive: true, force: true });
});

test('report on a directory without metrics is a one-line error', async (t) => {
  await t.throwsAsync(writeReport('/nonexistent-run'), {
    message: /report: \/nonexistent-run\/metrics\.jsonl not found/,
  });
});

test('chart helpers: nice ticks cover the range; an empty series renders "no data"', (t) => {
  t.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  t.deepEqual(niceTicks(3, 47), [10, 20, 30, 40]);
  t.regex(lineChartSvg([], { title: 'x', xLabel: 'a', yLabel: 'b' }), /no data/);
  t.regex(
    lineChartSvg(
      [
        {
          name: 's',
          points: [
            [1, 2],
            [2, 3],
          ],
        },
      ],
      { title: 't<1>', xLabel: 'a', yLabel: 'b' },
    ),
    /<polyline .*points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/,
  );
});
