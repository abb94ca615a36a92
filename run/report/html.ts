// The pieces every HTML report shares: the page shell and its style, escaping, a CLIP_benchmark results table,
// durations for humans.
import type { BenchmarkResult } from '../../src/eval/results.ts';

export const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const s = ms / 1000;
  if (s < 100) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

const style = `body{font-family:sans-serif;max-width:1340px;margin:24px auto;color:#222;padding:0 12px}
table{border-collapse:collapse;margin-bottom:18px}td,th{border-bottom:1px solid #ddd;padding:4px 12px 4px 0;text-align:left}
th{font-weight:600}table.facts td:first-child{color:#555}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.g{display:grid;grid-template-columns:1fr 1fr;gap:12px}img{max-width:100%;border:1px solid #eee}.note{color:#777}
.noise{color:#888}`;

export function htmlPage(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${style}</style></head>\n<body>${body}</body></html>\n`;
}

const pct = (v: number) => (Number.isFinite(v) ? (v <= 1 ? (100 * v).toFixed(2) : String(v)) : 'nan');

/** One row per result (dataset, task, pretrained), one column per metric. */
export function resultsTableHtml(results: BenchmarkResult[]): string {
  const metrics = [...new Set(results.flatMap((r) => Object.keys(r.metrics)))];
  const head = `<tr><th>dataset</th><th>task</th><th>pretrained</th>${metrics.map((k) => `<th class="num">${escapeHtml(k)}</th>`).join('')}</tr>`;
  const rows = results.map(
    (r) =>
      `<tr><td>${escapeHtml(r.dataset)}</td><td>${escapeHtml(r.task)}</td><td>${escapeHtml(r.pretrained)}</td>${metrics.map((k) => `<td class="num">${k in r.metrics ? pct(r.metrics[k]) : ''}</td>`).join('')}</tr>`,
  );
  return `<table>${head}${rows.join('')}</table><p class="note">Metrics in %, except counts.</p>`;
}
