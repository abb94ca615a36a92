// The report of a training run: reads RUN_DIR/metrics.jsonl and writes RUN_DIR/report/{losses,lr,temperature,eval}.png
// (SVG charts rendered by sharp) and RUN_DIR/report/index.html (one page: run facts, final numbers, the plots).
//   node pipelines/report.ts RUN_DIR
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { lineChartSvg, type Series } from '../src/report/line-chart-svg.ts';

interface StepLine {
  type: 'step';
  step: number;
  loss: number;
  parts: Record<string, number>;
  lr: number;
  logitScales: Record<string, number>;
  samplesPerSec: number;
  dataWaitMs: number;
  time: string;
}
interface EvalLine {
  type: 'eval';
  step: number;
  results: Record<string, number>;
}

export interface RunMetrics {
  run: Record<string, unknown> | undefined;
  end: Record<string, unknown> | undefined;
  steps: StepLine[];
  evals: EvalLine[];
  rollbacks: Array<Record<string, unknown>>;
}

export async function readMetrics(runDir: string): Promise<RunMetrics> {
  const file = join(runDir, 'metrics.jsonl');
  const text = await readFile(file, 'utf8').catch(() => {
    throw new Error(`report: ${file} not found (is ${runDir} a run directory?)`);
  });
  const out: RunMetrics = { run: undefined, end: undefined, steps: [], evals: [], rollbacks: [] };
  const bySte = new Map<number, StepLine>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r: any;
    try {
      r = JSON.parse(line);
    } catch {
      throw new Error(`report: ${file} line ${i + 1} is not JSON`);
    }
    if (r.type === 'step') bySte.set(r.step, r);
    else if (r.type === 'eval') out.evals.push(r);
    else if (r.type === 'run') out.run ??= r;
    else if (r.type === 'end') out.end = r;
    else if (r.type === 'rollback') out.rollbacks.push(r);
  });
  out.steps = [...bySte.values()].sort((a, b) => a.step - b.step);
  return out;
}

/** Moving average for noisy per-step curves (window w, centred on the past). */
function smooth(points: Array<[number, number]>, w: number): Array<[number, number]> {
  if (w <= 1) return points;
  let sum = 0;
  const q: number[] = [];
  return points.map(([x, y]) => {
    q.push(y);
    sum += y;
    if (q.length > w) sum -= q.shift()!;
    return [x, sum / q.length];
  });
}

async function png(svg: string, path: string): Promise<void> {
  await sharp(Buffer.from(svg)).png().toFile(path);
}

export async function writeReport(runDir: string): Promise<{ html: string; plots: string[] }> {
  const m = await readMetrics(runDir);
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
  const evalKeys = [...new Set(m.evals.flatMap((e) => Object.keys(e.results)))].filter((k) => /acc1$|acc5$/.test(k));
  const chance = m.evals
    .map((e) => Object.entries(e.results).find(([k]) => k.endsWith('/chance'))?.[1])
    .find((v) => v !== undefined);
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
    [
      'eval.png',
      lineChartSvg(
        evalKeys.map((k) => ({
          name: k,
          points: m.evals.filter((e) => k in e.results).map((e): [number, number] => [e.step, 100 * e.results[k]]),
        })),
        {
          title: 'Zero-shot accuracy',
          xLabel: 'step',
          yLabel: 'accuracy (%)',
          yRange: [0, 100],
          ...(chance !== undefined
            ? { reference: { y: 100 * chance, label: `chance ${(100 * chance).toFixed(1)}%` } }
            : {}),
        },
      ),
    ],
  ];
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
  const esc = (s: unknown) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
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
    ['wall time', m.end ? `${(Number(m.end.wallMs) / 1000).toFixed(1)} s (this session)` : '-'],
    ['rollbacks', m.rollbacks.length],
    ...(lastEval
      ? Object.entries(lastEval.results).map(([k, v]): [string, unknown] => [
          `eval @ ${lastEval.step}: ${k}`,
          k.includes('acc') || k.includes('recall') || k.endsWith('chance') ? `${(100 * v).toFixed(2)}%` : v,
        ])
      : []),
  ];
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(m.run?.name ?? 'run')} report</title>
<style>body{font-family:sans-serif;max-width:1340px;margin:24px auto;color:#222}table{border-collapse:collapse;margin-bottom:18px}
td{border-bottom:1px solid #ddd;padding:4px 14px 4px 0}td:first-child{color:#555}.g{display:grid;grid-template-columns:1fr 1fr;gap:12px}img{width:100%;border:1px solid #eee}</style></head>
<body><h1>${esc(m.run?.name ?? 'run')}</h1><table>${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v ?? '-')}</td></tr>`).join('')}</table>
<div class="g">${charts.map(([n]) => `<img src="${n}" alt="${n}">`).join('')}</div>
<p style="color:#777">Generated from ${esc(join(runDir, 'metrics.jsonl'))} by pipelines/report.ts at ${new Date().toISOString()}.</p></body></html>\n`;
  const htmlPath = join(dir, 'index.html');
  await writeFile(htmlPath, html);
  return { html: htmlPath, plots };
}

if (import.meta.main) {
  const runDir = process.argv[2];
  if (!runDir || runDir.startsWith('-')) {
    process.stderr.write('usage: node pipelines/report.ts RUN_DIR\n');
    process.exit(2);
  }
  try {
    const r = await writeReport(runDir);
    process.stdout.write(`${r.html}\n${r.plots.join('\n')}\n`);
  } catch (err) {
    process.stderr.write(`pipelines/report.ts: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
