// Several runs in one set of plots: training loss, learning rate, logit scale, and every evaluation metric
// (zero-shot accuracy, retrieval recall@1, linear probe) with one curve per run, plus a table of the runs' facts
// (whole wall time over every session of a resumed run) and their CLIP_benchmark results. Writes OUT/*.svg and
// OUT/index.html.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { lineChartSvg, type Series } from '../../src/report/line-chart-svg.ts';
import { readMetrics, smooth, evalKeyKind, type RunMetrics } from './read-metrics.ts';
import { readRunResults } from './run-results.ts';
import { htmlPage, escapeHtml, resultsTableHtml, formatDuration } from './html.ts';
import { chanceOf } from './write-run-report.ts';

/** Short, distinct labels: the directory names, or longer path tails where two runs share a name. */
export function runLabels(dirs: string[]): string[] {
  const parts = dirs.map((d) => resolve(d).split('/').filter(Boolean));
  for (let depth = 1; depth <= Math.max(...parts.map((p) => p.length)); depth++) {
    const labels = parts.map((p) => p.slice(-depth).join('/'));
    if (new Set(labels).size === labels.length) return labels;
  }
  return dirs.map((d, i) => `${basename(d)}#${i + 1}`);
}

export async function writeComparison(runDirs: string[], outDir: string): Promise<{ html: string; plots: string[] }> {
  if (runDirs.length === 0) throw new Error('report: no run directories given');
  const runs: RunMetrics[] = [];
  for (const d of runDirs) runs.push(await readMetrics(d));
  const labels = runLabels(runDirs);
  await mkdir(outDir, { recursive: true });
  const perRun = (f: (m: RunMetrics) => Array<[number, number]>): Series[] =>
    runs.map((m, i) => ({ name: labels[i], points: f(m) }));
  const charts: Array<[string, string]> = [
    [
      'loss.svg',
      lineChartSvg(
        perRun((m) =>
          smooth(
            m.steps.map((s) => [s.step, s.loss]),
            Math.max(1, Math.round(m.steps.length / 50)),
          ),
        ),
        { title: 'Training loss (moving average)', xLabel: 'step', yLabel: 'loss' },
      ),
    ],
    [
      'lr.svg',
      lineChartSvg(
        perRun((m) => m.steps.map((s) => [s.step, s.lr])),
        { title: 'Learning rate', xLabel: 'step', yLabel: 'lr' },
      ),
    ],
    [
      'temperature.svg',
      lineChartSvg(
        perRun((m) => m.steps.map((s): [number, number] => [s.step, Object.values(s.logitScales)[0] ?? NaN])),
        { title: 'Logit scale (1 / temperature)', xLabel: 'step', yLabel: 'exp(logit_scale)' },
      ),
    ],
  ];
  // one chart per evaluation metric (top-1 / recall@1 / linear-probe top-1), every run a curve
  const keys = [...new Set(runs.flatMap((m) => m.evals.flatMap((e) => Object.keys(e.results))))].filter((k) => {
    const kind = evalKeyKind(k);
    return kind !== 'chance' && kind !== 'other' && !/acc5$|recall@(5|10)$|mean_per_class_recall$/.test(k);
  });
  for (const k of keys) {
    const dataset = k.slice(0, k.lastIndexOf('/'));
    const chance = runs.map((m) => chanceOf(m, dataset)).find((c) => c !== undefined);
    charts.push([
      `eval-${k.replace(/[^A-Za-z0-9.-]+/g, '_')}.svg`,
      lineChartSvg(
        perRun((m) => m.evals.filter((e) => k in e.results).map((e): [number, number] => [e.step, 100 * e.results[k]])),
        {
          title: `${k} (${evalKeyKind(k)})`,
          xLabel: 'step',
          yLabel: '%',
          yRange: [0, 100],
          ...(chance !== undefined && evalKeyKind(k) === 'accuracy'
            ? { reference: { y: 100 * chance, label: `chance ${(100 * chance).toFixed(1)}%` } }
            : {}),
        },
      ),
    ]);
  }
  const plots: string[] = [];
  for (const [name, svg] of charts) {
    const p = join(outDir, name);
    await writeFile(p, svg);
    plots.push(p);
  }
  const facts = runs.map((m, i) => {
    const last = m.steps.at(-1);
    const lastEval = m.evals.at(-1);
    return [
      labels[i],
      `${m.run?.supervision ?? '-'} / ${m.run?.model ?? '-'}`,
      last ? String(last.step) : '-',
      last ? last.loss.toFixed(4) : '-',
      formatDuration(m.totalWallMs) + (m.sessions.length > 1 ? ` (${m.sessions.length} sessions)` : ''),
      lastEval
        ? Object.entries(lastEval.results)
            .filter(([k]) => evalKeyKind(k) !== 'chance')
            .map(([k, v]) => `${k} ${(100 * v).toFixed(2)}%`)
            .join(', ')
        : '-',
    ];
  });
  let results = '';
  for (let i = 0; i < runs.length; i++) {
    const r = await readRunResults(runDirs[i]);
    if (r.length) results += `<h3>${escapeHtml(labels[i])}</h3>${resultsTableHtml(r)}`;
  }
  const body =
    `<h1>Comparison of ${runs.length} runs</h1><table><tr><th>run</th><th>supervision / model</th><th>last step</th><th>final loss</th><th>wall time (all sessions)</th><th>last evaluation</th></tr>` +
    facts.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('') +
    `</table>${results ? `<h2>Evaluation results</h2>${results}` : ''}<div class="g">${charts.map(([n]) => `<img src="${n}" alt="${n}">`).join('')}</div>` +
    `<p class="note">Runs: ${runDirs.map((d) => escapeHtml(relative(outDir, resolve(d)) || '.')).join(', ')}. Generated at ${new Date().toISOString()}.</p>`;
  const html = join(outDir, 'index.html');
  await writeFile(html, htmlPage(`Comparison of ${runs.length} runs`, body));
  return { html, plots };
}
