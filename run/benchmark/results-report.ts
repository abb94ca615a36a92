// results.md and index.html of a benchmark: the same tables (results-tables.ts) and plots, as Markdown (for a
// repository's docs) and as one HTML page (with links to every cell's own run report).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { escapeHtml, htmlPage } from '../report/html.ts';
import { deltaTables, paperTables, rankTable, timeTable, NOISE_RULE, type Table } from './results-tables.ts';
import type { Plot } from './results-plots.ts';
import type { Summary } from './summarize.ts';

function facts(s: Summary): string[] {
  const g = s.grid;
  const d = g.cells[0]?.declaration;
  const budgets = new Set(g.cells.map((c) => `${c.declaration.optim.batchSize}x${c.declaration.optim.steps}`));
  const missing = s.missing.length
    ? ` — INCOMPLETE, missing: ${s.missing.slice(0, 10).join(', ')}` +
      (s.missing.length > 10 ? ` and ${s.missing.length - 10} more` : '')
    : '';
  const baselines = (['supervision', 'data', 'model'] as const)
    .filter((a) => g.values[a].length > 1)
    .map((a) => `${a === 'supervision' ? 'method' : a} ${g.baseline[a]}`);
  const out = [
    `${s.finished.length} of ${g.cells.length} cells finished${missing}.`,
    `Axes: data ${g.values.data.join(' / ')}; model ${g.values.model.join(' / ')}; ` +
      `method ${g.values.supervision.join(' / ')}; seeds ${g.seeds.join(', ')}.` +
      (baselines.length ? ` Baselines: ${baselines.join(', ')}.` : ''),
  ];
  if (d) {
    const o = d.optim;
    out.push(
      budgets.size === 1
        ? `Budget of every cell: batch ${o.batchSize} x ${o.steps} steps = ${o.batchSize * o.steps} samples seen, ` +
            `warm-up ${o.warmupSteps} of ${o.totalSteps} scheduled steps, peak lr ${o.peakLr} (unless a method sets its own).`
        : `Budgets differ per cell (the grid sets budgetPerCell): ${[...budgets].join(', ')} (batch x steps).`,
    );
  }
  const suite = s.columns.map((c) => `${c.dataset} (${c.task})`).join(', ');
  out.push(`Evaluation suite (every cell, at step 0 and at the end): ${suite}.`);
  return out;
}

function markdownTable(t: Table): string {
  const row = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [
    `**${t.title}**`,
    '',
    row(t.header),
    row(t.header.map((_, i) => (i === 0 ? '---' : '---:'))),
    ...t.rows.map(row),
    ...(t.footer ?? []).map((r) => row(r.map((c, i) => (i === 0 && c ? `*${c}*` : c)))),
    ...(t.note ? ['', t.note] : []),
  ].join('\n');
}

export function resultsMarkdown(s: Summary, plots: Plot[]): string {
  const parts = [
    `# Benchmark ${s.grid.name}`,
    '',
    ...facts(s).map((f) => `- ${f}`),
    '',
    '## Results',
    '',
    ...paperTables(s).flatMap((t) => [markdownTable(t), '']),
  ];
  const deltas = deltaTables(s);
  if (deltas.length)
    parts.push(
      '## Differences against the baselines',
      '',
      NOISE_RULE,
      '',
      ...deltas.flatMap((t) => [markdownTable(t), '']),
    );
  if (s.grid.values.supervision.length > 1) parts.push('## Average rank', '', markdownTable(rankTable(s)), '');
  parts.push('## Time', '', markdownTable(timeTable(s)), '');
  if (plots.length) parts.push('## Plots', '', ...plots.map((p) => `![${p.title}](${p.file})`), '');
  parts.push(
    '## Files',
    '',
    '`results.csv`: one row per cell (one seed), step (0 and the last), task and dataset, in the columns ' +
      '`clip_benchmark build` writes plus the axes. `cells/<key>/`: each cell is a run directory (metrics.jsonl, ' +
      'checkpoints/, report/, results/step-N/ with CLIP_benchmark JSON per task and dataset, cell.json).',
    '',
  );
  return parts.join('\n');
}

function htmlTable(t: Table): string {
  const tr = (cells: string[], tag: 'td' | 'th', cls = '') =>
    `<tr${cls ? ` class="${cls}"` : ''}>${cells.map((c, i) => `<${tag}${i ? ' class="num"' : ''}>${escapeHtml(c).replace(/ ≈/g, ' <span class="noise">≈</span>')}</${tag}>`).join('')}</tr>`;
  return (
    `<h3>${escapeHtml(t.title)}</h3><table>${tr(t.header, 'th')}${t.rows.map((r) => tr(r, 'td')).join('')}` +
    `${(t.footer ?? []).map((r) => tr(r, 'td', 'note')).join('')}</table>${t.note ? `<p class="note">${escapeHtml(t.note)}</p>` : ''}`
  );
}

export function resultsHtml(s: Summary, plots: Plot[], options: { cellLinks?: boolean } = {}): string {
  const deltas = deltaTables(s);
  const img = (p: Plot) => `<figure><img src="${p.file}" alt="${escapeHtml(p.title)}"></figure>`;
  const body = [
    `<h1>Benchmark ${escapeHtml(s.grid.name)}</h1><ul>${facts(s)
      .map((f) => `<li>${escapeHtml(f)}</li>`)
      .join('')}</ul>`,
    `<h2>Results</h2>${paperTables(s).map(htmlTable).join('')}`,
    `<div class="g">${plots
      .filter((p) => p.kind === 'bars')
      .map(img)
      .join('')}</div>`,
    deltas.length
      ? `<h2>Differences against the baselines</h2><p>${escapeHtml(NOISE_RULE)}</p>${deltas.map(htmlTable).join('')}`
      : '',
    s.grid.values.supervision.length > 1 ? `<h2>Average rank</h2>${htmlTable(rankTable(s))}` : '',
    `<h2>Training curves of every cell</h2><div class="g">${plots
      .filter((p) => p.kind !== 'bars')
      .map(img)
      .join('')}</div>`,
    `<h2>Time</h2>${htmlTable(timeTable(s))}`,
    options.cellLinks === false
      ? ''
      : `<h2>Cells</h2><p>${s.finished.map((r) => `<a href="cells/${encodeURIComponent(r.key)}/report/index.html">${escapeHtml(r.key)}</a>`).join(' · ')}</p>`,
    `<p class="note">Data: <a href="results.csv">results.csv</a> (CLIP_benchmark build columns + the axes). Generated at ${new Date().toISOString()}.</p>`,
  ];
  return htmlPage(`Benchmark ${s.grid.name}`, body.join('\n'));
}

export async function writeResultsReport(
  s: Summary,
  plots: Plot[],
  outDir: string,
  options: { cellLinks?: boolean } = {},
): Promise<{ md: string; html: string }> {
  const md = join(outDir, 'results.md');
  const html = join(outDir, 'index.html');
  await writeFile(md, resultsMarkdown(s, plots));
  await writeFile(html, resultsHtml(s, plots, options));
  return { md, html };
}
