// Stage: one JSON line per step in <run>/metrics.jsonl (loss and its parts, lr, logit scales, gradient norm,
// samples/s, ms waiting for data, ms computing) plus one per evaluation; and progress for humans: a cli-progress
// bar with ETA on a TTY, plain lines every N steps otherwise.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import cliProgress from 'cli-progress';
import type { Stage } from '../core/stage.ts';
import type { StepRecord } from './train-step-stage.ts';
import type { EvalResults } from './evaluate-stage.ts';

export interface MetricsOptions {
  file: string;
  /** Step the run ends at (for the bar and ETA). */
  lastStep: number;
  /** Step the run starts after (resume). */
  firstStep: number;
  progress: 'auto' | 'bar' | 'plain' | 'none';
  every: number;
  write?: (line: string) => void;
}

export function stepLine(r: StepRecord): Record<string, unknown> {
  return {
    type: 'step',
    step: r.step,
    time: new Date().toISOString(),
    loss: r.loss,
    parts: r.parts,
    lr: r.lr,
    gradNorm: r.gradNorm,
    logitScales: r.logitScales,
    samples: r.samples,
    samplesPerSec: r.samplesPerSec,
    dataWaitMs: r.dataWaitMs,
    computeMs: r.computeMs,
    wallMs: r.wallMs,
  };
}

const fmt = (x: number) => (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toFixed(4) : x.toExponential(3));

export function plainLine(r: StepRecord, lastStep: number): string {
  const parts = Object.entries(r.parts)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(' ');
  const scales = Object.values(r.logitScales)
    .map((s) => s.toFixed(2))
    .join('/');
  return (
    `step ${r.step}/${lastStep} loss ${fmt(r.loss)}${parts ? ` (${parts})` : ''} lr ${r.lr.toExponential(3)} ` +
    `scale ${scales} ` +
    `${r.samplesPerSec.toFixed(1)} samples/s data-wait ${r.dataWaitMs.toFixed(0)} ms`
  );
}

export function metricsStage(
  options: MetricsOptions,
): Stage<StepRecord & { eval?: EvalResults }, StepRecord & { eval?: EvalResults }> {
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const mode = options.progress === 'auto' ? (process.stderr.isTTY ? 'bar' : 'plain') : options.progress;
  return async function* metricsStage(source) {
    mkdirSync(dirname(options.file), { recursive: true });
    let bar: cliProgress.SingleBar | undefined;
    if (mode === 'bar') {
      bar = new cliProgress.SingleBar(
        {
          format:
            'step {value}/{total} |{bar}| loss {loss} | lr {lr} | {sps} samples/s | data-wait {wait} ms | ' +
            'ETA {eta_formatted}',
          stream: process.stderr,
          etaBuffer: 20,
          hideCursor: true,
          noTTYOutput: !process.stderr.isTTY,
          notTTYSchedule: 2000,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(options.lastStep, options.firstStep, { loss: '-', lr: '-', sps: '-', wait: '-' });
    }
    try {
      for await (const r of source) {
        appendFileSync(options.file, JSON.stringify(stepLine(r)) + '\n');
        if (r.eval)
          appendFileSync(
            options.file,
            JSON.stringify({ type: 'eval', step: r.step, time: new Date().toISOString(), results: r.eval }) + '\n',
          );
        if (bar) {
          bar.update(r.step, {
            loss: fmt(r.loss),
            lr: r.lr.toExponential(2),
            sps: r.samplesPerSec.toFixed(1),
            wait: r.dataWaitMs.toFixed(0),
          });
        } else if (
          mode === 'plain' &&
          (r.step % options.every === 0 || r.step === options.lastStep || r.step === options.firstStep + 1)
        ) {
          write(plainLine(r, options.lastStep));
        }
        if (r.eval && mode !== 'none') {
          const line =
            `eval @ step ${r.step}: ` +
            Object.entries(r.eval)
              .map(([k, v]) => `${k} ${fmt(v)}`)
              .join(' ');
          if (bar) bar.stop();
          write(line);
          if (bar) bar.start(options.lastStep, r.step);
        }
        yield r;
      }
    } finally {
      bar?.stop();
    }
  };
}
