// The benchmark's plots as SVG files: one bar chart per suite task (groups = data x tower, bars = methods, error
// bars = std over seeds, chance dashed), and the training curves of every cell overlaid, one panel per data x tower
// (colour = method; the seeds of a method are averaged step by step): loss, and the in-training evaluation.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { barChartSvg, type BarGroup } from '../../src/report/bar-chart-svg.ts';
import { lineChartSvg, palette, type Series } from '../../src/report/line-chart-svg.ts';
import { mean, sampleStd } from '../../src/report/seed-statistics.ts';
import { readMetrics, evalKeyKind, type RunMetrics } from '../report/read-metrics.ts';
import { comboKey, type Summary } from './summarize.ts';

export interface Plot {
  file: string;
  title: string;
  kind: 'bars' | 'loss' | 'eval';
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9.-]+/g, '-');

/** Mean over seeds at each step present in every seed's curve. */
function meanCurve(curves: Array<Array<[number, number]>>): Array<[number, number]> {
  if (curves.length === 0) return [];
  const maps = curves.map((c) => new Map(c));
  return curves[0].filter(([x]) => maps.every((m) => m.has(x))).map(([x]) => [x, mean(maps.map((m) => m.get(x)!))]);
}

function smoothed(points: Array<[number, number]>): Array<[number, number]> {
  const w = Math.max(1, Math.round(points.length / 40));
  if (w <= 1) return points;
  return points.map(([x], i) => [x, mean(points.slice(Math.max(0, i - w + 1), i + 1).map((p) => p[1]))]);
}

export async function writeResultPlots(s: Summary, outDir: string): Promise<Plot[]> {
  const g = s.grid;
  const dir = join(outDir, 'plots');
  await mkdir(dir, { recursive: true });
  const colors = Object.fromEntries(g.values.supervision.map((sup, i) => [sup, palette[i % palette.length]]));
  const byKey = new Map(s.combinations.map((c) => [comboKey(c), c]));
  const plots: Plot[] = [];
  const groupLabel = (data: string, model: string) =>
    [g.values.data.length > 1 ? data : '', g.values.model.length > 1 ? model : ''].filter(Boolean).join(' · ') || 'all';

  for (const col of s.allColumns) {
    const groups: BarGroup[] = g.values.data.flatMap((data) =>
      g.values.model.map((model) => ({
        label: groupLabel(data, model),
        bars: g.values.supervision.map((sup) => {
          const v = (byKey.get(comboKey({ data, model, supervision: sup }))?.final[col.id] ?? []).filter(
            Number.isFinite,
          );
          return { series: sup, value: 100 * mean(v), error: v.length > 1 ? 100 * sampleStd(v) : undefined };
        }),
      })),
    );
    const chance = col.id === 'average' ? undefined : s.chance[col.id];
    const file = `bars-${slug(col.id)}.svg`;
    const title = `${col.label} (%) after training, mean ± std over seeds`;
    await writeFile(
      join(dir, file),
      barChartSvg(groups, {
        title,
        yLabel: '%',
        yRange: [0, 100],
        colors,
        ...(chance !== undefined
          ? { reference: { y: 100 * chance, label: `chance ${(100 * chance).toFixed(1)}%` } }
          : {}),
      }),
    );
    plots.push({ file: `plots/${file}`, title, kind: 'bars' });
  }

  // training curves: read every finished cell's metrics once
  const metrics = new Map<string, RunMetrics>();
  for (const cell of g.cells)
    if (s.finished.some((r) => r.key === cell.key))
      metrics.set(cell.key, await readMetrics(cell.declaration.logging.out));
  const evalKey = (m: RunMetrics) =>
    [...new Set(m.evals.flatMap((e) => Object.keys(e.results)))].find(
      (k) => /acc1$|recall@1$|lp_acc1$/.test(k) && evalKeyKind(k) !== 'chance',
    );
  for (const data of g.values.data) {
    for (const model of g.values.model) {
      const cellsOf = (sup: string) =>
        g.cells.filter(
          (c) => c.axes.data === data && c.axes.model === model && c.axes.supervision === sup && metrics.has(c.key),
        );
      const loss: Series[] = [];
      const evals: Series[] = [];
      let evalName = '';
      for (const sup of g.values.supervision) {
        const ms = cellsOf(sup).map((c) => metrics.get(c.key)!);
        if (ms.length === 0) continue;
        loss.push({
          name: sup,
          color: colors[sup],
          points: smoothed(meanCurve(ms.map((m) => m.steps.map((x): [number, number] => [x.step, x.loss])))),
        });
        const k = evalKey(ms[0]);
        if (k) {
          evalName = k;
          evals.push({
            name: sup,
            color: colors[sup],
            points: meanCurve(
              ms.map((m) =>
                m.evals.filter((e) => k in e.results).map((e): [number, number] => [e.step, 100 * e.results[k]]),
              ),
            ),
          });
        }
      }
      const label = groupLabel(data, model);
      const lossFile = `loss-${slug(data)}-${slug(model)}.svg`;
      const lossTitle = `Training loss, ${label} (mean over seeds)`;
      await writeFile(
        join(dir, lossFile),
        lineChartSvg(loss, { title: lossTitle, xLabel: 'step', yLabel: 'loss', width: 560, height: 320 }),
      );
      plots.push({ file: `plots/${lossFile}`, title: lossTitle, kind: 'loss' });
      if (evals.length) {
        const evalFile = `eval-${slug(data)}-${slug(model)}.svg`;
        const evalTitle = `${evalName} during training, ${label}`;
        await writeFile(
          join(dir, evalFile),
          lineChartSvg(evals, {
            title: evalTitle,
            xLabel: 'step',
            yLabel: '%',
            yRange: [0, 100],
            width: 560,
            height: 320,
          }),
        );
        plots.push({ file: `plots/${evalFile}`, title: evalTitle, kind: 'eval' });
      }
    }
  }
  return plots;
}
