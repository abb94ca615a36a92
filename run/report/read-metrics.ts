// Reads a run directory's metrics.jsonl into steps, evaluations, rollbacks and sessions. A resumed run has several
// sessions (one `run` record each); a step logged twice (re-done after a resume or rollback) keeps its last record.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface StepLine {
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
export interface EvalLine {
  type: 'eval';
  step: number;
  results: Record<string, number>;
}

/** One process's part of a run: from its `run` record to its `end` record (or its last record if it was killed). */
export interface Session {
  startStep: number;
  startTime: string;
  /** Wall time: the session's own measure when it ended normally, else from its records' timestamps. */
  wallMs: number;
  ended: boolean;
}

export interface RunMetrics {
  dir: string;
  run: Record<string, unknown> | undefined;
  end: Record<string, unknown> | undefined;
  steps: StepLine[];
  evals: EvalLine[];
  rollbacks: Array<Record<string, unknown>>;
  sessions: Session[];
  /** Sum of the sessions' wall times (a killed session counts up to its last record). */
  totalWallMs: number;
}

export async function readMetrics(runDir: string): Promise<RunMetrics> {
  const file = join(runDir, 'metrics.jsonl');
  const text = await readFile(file, 'utf8').catch(() => {
    throw new Error(`report: ${file} not found (is ${runDir} a run directory?)`);
  });
  const out: RunMetrics = {
    dir: runDir,
    run: undefined,
    end: undefined,
    steps: [],
    evals: [],
    rollbacks: [],
    sessions: [],
    totalWallMs: 0,
  };
  const byStep = new Map<number, StepLine>();
  const byEval = new Map<number, EvalLine>();
  let session: { startStep: number; startTime: string; last: number; wallMs?: number } | undefined;
  const close = () => {
    if (!session) return;
    const measured = session.wallMs;
    out.sessions.push({
      startStep: session.startStep,
      startTime: session.startTime,
      wallMs: measured ?? Math.max(0, session.last - Date.parse(session.startTime)),
      ended: measured !== undefined,
    });
    session = undefined;
  };
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let r: any;
    try {
      r = JSON.parse(line);
    } catch {
      // a process killed mid-write can leave a partial LAST line; anywhere else it is damage worth reporting
      if (lines.slice(i + 1).every((l) => !l.trim())) return;
      throw new Error(`report: ${file} line ${i + 1} is not JSON`);
    }
    const t = typeof r.time === 'string' ? Date.parse(r.time) : NaN;
    if (r.type === 'run') {
      close();
      out.run ??= r;
      session = { startStep: Number(r.startStep ?? 0), startTime: r.time, last: t };
    } else if (session && Number.isFinite(t)) session.last = Math.max(session.last, t);
    if (r.type === 'step') byStep.set(r.step, r);
    else if (r.type === 'eval') byEval.set(r.step, r);
    else if (r.type === 'end') {
      out.end = r;
      if (session) session.wallMs = Number(r.wallMs);
      close();
    } else if (r.type === 'rollback') out.rollbacks.push(r);
  });
  close();
  out.steps = [...byStep.values()].sort((a, b) => a.step - b.step);
  out.evals = [...byEval.values()].sort((a, b) => a.step - b.step);
  out.totalWallMs = out.sessions.reduce((a, s) => a + s.wallMs, 0);
  return out;
}

/** Moving average for noisy per-step curves (window w, over the past). */
export function smooth(points: Array<[number, number]>, w: number): Array<[number, number]> {
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

/** Evaluation keys by kind: zero-shot accuracy, retrieval recall, linear probe; `chance` levels by dataset. */
export function evalKeyKind(key: string): 'accuracy' | 'retrieval' | 'linear-probe' | 'chance' | 'other' {
  const metric = key.slice(key.lastIndexOf('/') + 1);
  if (metric === 'chance') return 'chance';
  if (/^lp_|linear/.test(metric) || /linear[-_]probe/.test(key)) return 'linear-probe';
  if (/recall@/.test(metric)) return 'retrieval';
  if (/^acc\d|mean_per_class_recall/.test(metric)) return 'accuracy';
  return 'other';
}
