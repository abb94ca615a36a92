// The per-stage report built from run counters. Naming convention of the counters:
//   yfcc.<stage>.in / yfcc.<stage>.out          rows entering / leaving the stage
//   yfcc.<stage>.drop.<reason>                  rows dropped, by reason
//   yfcc.<stage>.note.<name>                    things a stage changed without dropping (e.g. a blanked title)
// The report keeps the declared stage order, so it reads top to bottom like the pipeline.

export interface StageReport {
  stage: string;
  in: number;
  out: number;
  dropped: number;
  reasons: Record<string, number>;
  notes: Record<string, number>;
}

export interface YfccReport {
  cleanVersion?: string;
  stages: StageReport[];
  extra: Record<string, number | string>;
}

export function stageCounter(stage: string, what: 'in' | 'out'): string {
  return `yfcc.${stage}.${what}`;
}
export function dropCounter(stage: string, reason: string): string {
  return `yfcc.${stage}.drop.${reason}`;
}
export function noteCounter(stage: string, name: string): string {
  return `yfcc.${stage}.note.${name}`;
}

/** Build a report from a flat counters record (Counters.toJSON(), possibly summed over parts). */
export function buildReport(
  counters: Record<string, number>,
  stageOrder: readonly string[],
  extra: Record<string, number | string> = {},
): YfccReport {
  const byStage = new Map<string, StageReport>();
  const get = (stage: string) => {
    let r = byStage.get(stage);
    if (!r) {
      r = { stage, in: 0, out: 0, dropped: 0, reasons: {}, notes: {} };
      byStage.set(stage, r);
    }
    return r;
  };
  for (const [name, value] of Object.entries(counters)) {
    const m = /^yfcc\.([^.]+)\.(in|out|drop|note)(?:\.(.+))?$/.exec(name);
    if (!m) continue;
    const r = get(m[1]);
    if (m[2] === 'in') r.in += value;
    else if (m[2] === 'out') r.out += value;
    else if (m[2] === 'drop') {
      r.reasons[m[3]] = (r.reasons[m[3]] ?? 0) + value;
      r.dropped += value;
    } else r.notes[m[3]] = (r.notes[m[3]] ?? 0) + value;
  }
  const ordered = stageOrder.filter((s) => byStage.has(s)).map((s) => byStage.get(s)!);
  const rest = [...byStage.keys()]
    .filter((s) => !stageOrder.includes(s))
    .sort()
    .map((s) => byStage.get(s)!);
  return { stages: [...ordered, ...rest], extra };
}

/** Sum several counters records (the parts of one job). */
export function sumCounters(records: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** A plain-text table: stage, in, out, dropped, reasons. */
export function formatReport(report: YfccReport): string {
  const rows = report.stages.map((s) => [
    s.stage,
    String(s.in),
    String(s.out),
    String(s.dropped),
    [
      ...Object.entries(s.reasons).map(([k, v]) => `${k}=${v}`),
      ...Object.entries(s.notes).map(([k, v]) => `(${k}=${v})`),
    ].join(' '),
  ]);
  const header = ['stage', 'in', 'out', 'dropped', 'reasons (notes)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i >= 1 && i <= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  for (const [k, v] of Object.entries(report.extra)) out.push(`${k}: ${v}`);
  return out.join('\n');
}
