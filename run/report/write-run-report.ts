// The report of one training run: reads RUN_DIR/metrics.jsonl (and any CLIP_benchmark results under
// RUN_DIR/results/) and writes RUN_DIR/report/{losses,lr,temperature,eval,retrieval,linear-probe}.png (SVG charts
// rendered by sharp; a chart without data is left out) and RUN_DIR/report/index.html: run facts, final numbers, the
// evaluation results, the plots. The wall time is the whole run's, over every session of a resumed run.
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { lineChartSvg, type Series } from '../../src/report/line-chart-svg.ts';
import { readMetrics, smooth, evalKeyKind, type RunMetrics } from './read-metrics.ts';
import { readRunResults } from './run-results.ts';
import { htmlPage, escapeHtml, resultsTableHtml, formatDuration } from './html.ts';

async function png(svg: string, path: string): Promise<void> {
  await sharp(Buffer.from(svg)).png().toFile(path);
}

/** Evaluation curves of one kind (accuracy, retrieval, linear probe) as percent series, one per key. */
export function evalSeries(m: RunMetrics, kind: ReturnType<typeof evalKeyKind>, label = (k: string) => k): Series[] {
  const keys = [...new Set(m.evals.flatMap((e) => Object.keys(e.results)))].filter(
    (k) => evalKeyKind(k) === kind && !/acc5$|recall@(5|10)$/.test(k),
  );
  return keys.map((k) => ({
    name: label(k),
    points: m.evals.filter((e) => k in e.results).map((e): [number, number] => [e.step, 100 * e.results[k]]),
  }));
}

/** The chance level an evaluation reported (for `dataset`, or the first one reported). */
export function chanceOf(m: RunMetrics, dataset?: string): number | undefined {
  return m.evals
    .map(
      (e) =>
        Object.entries(e.results).find(([k]) => (dataset ? k === `${dataset}/chance` : k.endsWith('/chance')))?.[1],
    )
    .find((v) => v !== undefined);
}

export async function writeRunReport(runDir: string): Promise<{ html: string; plots: string[] }> {
  const m = await readMetrics(runDir);
  const results = await readRunResults(runDir);
  const dir = join(runDir, 'report');
  await mkdir(dir, { recursive: true });
  const w = Math.max(1, Math.round(m.steps.length / 50));
  const partNames = [...new Set(m.steps.flatMap((s) => Object.keys(s.parts)))];
  const lossSeries: Series[] = [
    {
      name: `total${w > 1 ? ` (avg ${w})` : ''}`,
      points: smooth(
        m.steps.map((s) => [s.step, s.loss]),
        w,
      ),
    },
    ...partNames.map((p) => ({
      name: p,
      points: smooth(
        m.steps.filter((s) => p in s.parts).map((s): [number, number] => [s.step, s.parts[p]]),
        w,
      ),
    })),
  ];
  const scaleNames = [...new Set(m.steps.flatMap((s) => Object.keys(s.logitScales)))];
  const chance = chanceOf(m);
  const charts: Array<[string, string]> = [
    ['losses.png', lineChartSvg(lossSeries, { title: 'Training loss and its parts', xLabel: 'step', yLabel: 'loss' })],
    [
      'lr.png',
      lineChartSvg([{ name: 'learning rate', points: m.steps.map((s) => [s.step, s.lr]) }], {
        title: 'Learning rate (warm-up + cosine)',
        xLabel: 'step',
        yLabel: 'lr',
      }),
    ],
    [
      'temperature.png',
      lineChartSvg(
        scaleNames.map((n) => ({
          name: `exp(${n})`,
          points: m.steps.map((s): [number, number] => [s.step, s.logitScales[n]]),
        })),
        { title: 'Logit scale (1 / temperature)', xLabel: 'step', yLabel: 'exp(logit_scale)' },
      ),
    ],
  ];
  const evalCharts: Array<[string, ReturnType<typeof evalKeyKind>, string]> = [
    ['eval.png', 'accuracy', 'Zero-shot accuracy'],
    ['retrieval.png', 'retrieval', 'Retrieval recall@1'],
    ['linear-probe.png', 'linear-probe', 'Linear-probe accuracy'],
  ];
  for (const [name, kind, title] of evalCharts) {
    const series = evalSeries(m, kind);
    if (series.length === 0 && name !== 'eval.png') continue;
    charts.push([
      name,
      lineChartSvg(series, {
        title,
        xLabel: 'step',
        yLabel: '%',
        yRange: [0, 100],
        ...(chance !== undefined && kind === 'accuracy'
          ? { reference: { y: 100 * chance, label: `chance ${(100 * chance).toFixed(1)}%` } }
          : {}),
      }),
    ]);
  }
  const plots: string[] = [];
  for (const [name, svg] of charts) {
    const p = join(dir, name);
    await png(svg, p);
    plots.push(p);
  }

  const last = m.steps.at(-1);
  const lastEval = m.evals.at(-1);
  const meanSps = m.steps.length
    ? m.steps.slice(Math.min(5, m.steps.length - 1)).reduce((a, s) => a + s.samplesPerSec, 0) /
      Math.max(1, m.steps.length - Math.min(5, m.steps.length - 1))
    : NaN;
  const meanWait = m.steps.length ? m.steps.reduce((a, s) => a + s.dataWaitMs, 0) / m.steps.length : NaN;
  const rows: Array<[string, unknown]> = [
    ['pipeline', m.run?.name],
    ['supervision / model', `${m.run?.supervision} / ${m.run?.model}`],
    ['trainable parameters', m.run?.parameters],
    ['backend', `${m.run?.backend} x${m.run?.threads}`],
    ['batch (micro-batch)', `${m.run?.batchSize} (${m.run?.microBatchSize})`],
    ['steps', last ? `${m.steps[0].step}..${last.step}` : 'none'],
    ['final loss', last ? last.loss.toFixed(4) : '-'],
    [
      'final loss parts',
      last
        ? Object.entries(last.parts)
            .map(([k, v]) => `${k} ${v.toFixed(4)}`)
            .join(', ')
        : '-',
    ],
    ['samples/s (mean after warm-up steps)', meanSps.toFixed(1)],
    ['ms waiting for data per step (mean)', meanWait.toFixed(1)],
    [
      'wall time',
      m.sessions.length
        ? `${formatDuration(m.totalWallMs)}` +
          (m.sessions.length > 1
            ? ` in ${m.sessions.length} sessions (${m.sessions.map((s) => `from step ${s.startStep}: ${formatDuration(s.wallMs)}${s.ended ? '' : ', killed'}`).join('; ')})`
            : '')
        : '-',
    ],
    ['rollbacks', m.rollbacks.length],
    ...(lastEval
      ? Object.entries(lastEval.results).map(([k, v]): [string, unknown] => [
          `eval @ ${lastEval.step}: ${k}`,
          k.includes('acc') || k.includes('recall') || k.endsWith('chance') ? `${(100 * v).toFixed(2)}%` : v,
        ])
      : []),
  ];
  const body =
    `<h1>${escapeHtml(String(m.run?.name ?? 'run'))}</h1><table class="facts">${rows.map(([k, v]) => `<tr><td>${escapeHtml(String(k))}</td><td>${escapeHtml(String(v ?? '-'))}</td></tr>`).join('')}</table>` +
    (results.length ? `<h2>Evaluation results</h2>${resultsTableHtml(results)}` : '') +
    `<div class="g">${charts.map(([n]) => `<img src="${n}" alt="${n}">`).join('')}</div>` +
    `<p class="note">Generated from ${escapeHtml(join(runDir, 'metrics.jsonl'))} at ${new Date().toISOString()}.</p>`;
  const htmlPath = join(dir, 'index.html');
  await writeFile(htmlPath, htmlPage(`${m.run?.name ?? 'run'} report`, body));
  return { html: htmlPath, plots };
}
