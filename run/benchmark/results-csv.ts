// results.csv in the shape `clip_benchmark build` produces from result JSON files: one row per result record
// (here: cell x seed x step x task x dataset), the record's fields as columns (dataset, model, pretrained, task,
// language, and our axis fields cell, data, supervision, seed, step, samples_seen), every metric as its own
// column, and model_fullname = "<model> <pretrained>". Unlike build (whose columns come out of a Python set), the
// column order is fixed, so two runs of the same grid write byte-identical files. Numbers are written as build
// writes them from our JSON files: an integral value as an integer (JSON does not tell 1 from 1.0), any other as
// Python's repr of a float (0.5, 1e-05, nan).
import type { BenchmarkResult } from '../../src/eval/results.ts';

export const LEADING_COLUMNS = [
  'cell',
  'data',
  'model',
  'supervision',
  'seed',
  'step',
  'samples_seen',
  'dataset',
  'task',
  'language',
  'pretrained',
  'model_fullname',
] as const;

/** Python's repr of a float: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pythonFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = v.toExponential().split('e');
  const exp = Number(expText);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${sign}${intPart}.${frac || '0'}`;
}

/** A CSV field as Python's csv module writes it (QUOTE_MINIMAL). */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function cellText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pythonFloat(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function resultsCsv(records: BenchmarkResult[]): string {
  const metricColumns: string[] = [];
  const extraColumns: string[] = [];
  for (const r of records) {
    for (const k of Object.keys(r.metrics)) if (!metricColumns.includes(k)) metricColumns.push(k);
    for (const k of Object.keys(r))
      if (k !== 'metrics' && !(LEADING_COLUMNS as readonly string[]).includes(k) && !extraColumns.includes(k))
        extraColumns.push(k);
  }
  const columns = [...LEADING_COLUMNS, ...extraColumns, ...metricColumns.filter((k) => !extraColumns.includes(k))];
  const lines = [columns.map(csvField).join(',')];
  for (const r of records) {
    const row: Record<string, unknown> = { ...r.metrics, ...r, model_fullname: `${r.model} ${r.pretrained}` };
    delete row.metrics;
    lines.push(columns.map((c) => csvField(cellText(row[c]))).join(','));
  }
  return lines.join('\n') + '\n';
}
