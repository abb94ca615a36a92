// The benchmark's tables as plain data (title, header, rows of text), rendered by results-markdown.ts and
// results-html.ts alike:
//   - per data value, the paper-style table: rows = methods, columns = towers x tasks (final main metric in %,
//     mean ± std over seeds), the average rank of each method, plus the untrained model (step 0) and chance
//   - per axis, the deltas against its baseline (each method minus the baseline method on the same tower and data;
//     each data variant minus the baseline data; each tower minus the baseline tower), marked where within seed noise
//   - the average rank of each method over every column, and the time the cells took
import { mean } from '../../src/report/seed-statistics.ts';
import { formatDuration } from '../report/html.ts';
import { formatDelta, formatMeanStd, comboKey, NOISE_ALPHA, type Summary, type Combination } from './summarize.ts';

export interface Table {
  title: string;
  header: string[];
  rows: string[][];
  /** Optional rows set apart (step 0, chance). */
  footer?: string[][];
  note?: string;
}

const axisLabel = { supervision: 'method', data: 'data', model: 'model' } as const;

/** The (data, tower) columns of the paper-style tables, labelled by what varies. */
function dataModelColumns(s: Summary): Array<{ data: string; model: string; label: string }> {
  const g = s.grid;
  return g.values.data.flatMap((data) =>
    g.values.model.map((model) => ({
      data,
      model,
      label:
        [g.values.data.length > 1 ? data : '', g.values.model.length > 1 ? model : ''].filter(Boolean).join(' · ') ||
        'all',
    })),
  );
}

/** One table per task (and the average over tasks): rows methods, columns data x tower. */
export function paperTables(s: Summary): Table[] {
  const g = s.grid;
  const byKey = new Map(s.combinations.map((c) => [comboKey(c), c]));
  const columns = dataModelColumns(s);
  return s.allColumns.map((col) => {
    const rows = g.values.supervision.map((sup) => [
      sup,
      ...columns.map((c) => formatMeanStd(byKey.get(comboKey({ ...c, supervision: sup }))?.final[col.id])),
      Number.isFinite(s.ranks[col.id]?.[sup]) ? s.ranks[col.id][sup].toFixed(2) : '-',
    ]);
    const initial = [
      'untrained (step 0)',
      ...columns.map((c) =>
        formatMeanStd(
          g.values.supervision.flatMap((sup) => byKey.get(comboKey({ ...c, supervision: sup }))?.initial[col.id] ?? []),
        ),
      ),
      '',
    ];
    const chanceValue = col.id === 'average' ? mean(s.columns.map((x) => s.chance[x.id] ?? NaN)) : s.chance[col.id];
    const chance = [
      'chance',
      ...columns.map(() =>
        chanceValue !== undefined && Number.isFinite(chanceValue) ? (100 * chanceValue).toFixed(1) : '-',
      ),
      '',
    ];
    return {
      title:
        `${col.id === 'average' ? 'Average over the tasks (DataComp-style aggregate of the main metrics)' : col.label} ` +
        '(%) at the end of training, mean ± std over seeds',
      header: ['method', ...columns.map((c) => c.label), 'avg rank'],
      rows,
      footer: [initial, chance],
      note:
        'untrained: the model at step 0 (mean over the methods and seeds of the column); ' +
        'avg rank: over the columns (1 = best).',
    };
  });
}

export function deltaTables(s: Summary): Table[] {
  const g = s.grid;
  const tables: Table[] = [];
  for (const axis of ['supervision', 'data', 'model'] as const) {
    if (g.values[axis].length < 2) continue;
    const baseline = g.baseline[axis];
    const rowsOf = axis === 'supervision' ? g.values.supervision.filter((v) => v !== baseline) : g.values.supervision;
    const combos: Array<{ data: string; model: string }> = g.values.data.flatMap((data) =>
      g.values.model.map((model) => ({ data, model })),
    );
    const columns = combos.filter((c) => axis === 'supervision' || c[axis] !== baseline);
    for (const col of s.allColumns) {
      const rows = rowsOf.map((sup) => [
        sup,
        ...columns.map((c) => {
          const d = s.deltas.find(
            (x) =>
              x.axis === axis &&
              x.column === col.id &&
              x.combination.data === c.data &&
              x.combination.model === c.model &&
              x.combination.supervision === sup,
          );
          return d ? formatDelta(d) : '-';
        }),
      ]);
      const what =
        axis === 'supervision'
          ? `each method minus ${baseline} on the same tower and data`
          : axis === 'data'
            ? `each data variant minus ${baseline}, same method and tower`
            : `each tower minus ${baseline}, same method and data`;
      tables.push({
        title: `Δ ${axisLabel[axis]} — ${col.label} (points): ${what}`,
        header: [
          'method',
          ...columns.map(
            (c) =>
              [g.values.data.length > 1 ? c.data : '', g.values.model.length > 1 ? c.model : '']
                .filter(Boolean)
                .join(' · ') || 'Δ',
          ),
        ],
        rows,
      });
    }
  }
  return tables;
}

export const NOISE_RULE =
  "≈ marks a difference within seed noise: Welch's two-sided t-test over the seeds of the two cells gives " +
  `p ≥ ${NOISE_ALPHA} ` +
  `(each cell's seeds are independent runs; Welch's test does not assume both cells are equally stable). ` +
  `? marks a difference that cannot be tested (a side has fewer than 2 seeds). With 2 seeds a side the test needs a ` +
  `difference of about 4-13 standard errors, so ≈ means "these seeds cannot tell them apart", not "equal".`;

export function rankTable(s: Summary): Table {
  const sups = [...s.grid.values.supervision].sort(
    (a, b) => (s.overallRanks[a] ?? Infinity) - (s.overallRanks[b] ?? Infinity),
  );
  return {
    title: 'Average rank of each method over every data variant, tower and task (1 = best)',
    header: ['method', 'average rank'],
    rows: sups.map((sup) => [sup, Number.isFinite(s.overallRanks[sup]) ? s.overallRanks[sup].toFixed(2) : '-']),
  };
}

export function timeTable(s: Summary): Table {
  const g = s.grid;
  const byKey = new Map(s.combinations.map((c) => [comboKey(c), c]));
  const cellMs = (c: Combination | undefined) => (c ? mean(c.trainMs.map((t, i) => t + c.evalMs[i])) : NaN);
  const total = s.finished.reduce((a, r) => a + r.trainMs + r.evalMs, 0);
  const times = (key: 'startedAt' | 'finishedAt') => s.finished.map((r) => Date.parse(r[key])).filter(Number.isFinite);
  const wall = s.finished.length ? Math.max(...times('finishedAt')) - Math.min(...times('startedAt')) : NaN;
  return {
    title: 'Time per cell (training + evaluation, mean over seeds and data variants)',
    header: ['method', ...g.values.model],
    rows: g.values.supervision.map((sup) => [
      sup,
      ...g.values.model.map((model) => {
        const ms = g.values.data.map((data) => cellMs(byKey.get(comboKey({ data, model, supervision: sup }))));
        const finite = ms.filter(Number.isFinite);
        return finite.length ? formatDuration(mean(finite)) : '-';
      }),
    ]),
    note:
      `${s.finished.length} cells: ${formatDuration(total)} of training and evaluation summed over the cells; ` +
      `${formatDuration(wall)} on the clock from the first cell's start to the last cell's end ` +
      '(slices running at once ' +
      `overlap; a pause between sessions counts).`,
  };
}
