// Training progress for humans, from the metrics records: a bar with loss, lr, samples/s, data wait and ETA on a
// terminal ('bar'), or a plain line every N steps ('plain', for logs), through the one ProgressDisplay
// (stages/core/progress.ts); evaluation results and rollbacks are printed as lines in both modes.
import { ProgressDisplay } from '../../stages/core/progress.ts';
import type { StepMetricsRecord } from './records.ts';
import type { MetricsSink } from './writer.ts';

export interface ConsoleSinkOptions {
  /** 'auto' = a bar on a terminal, plain lines otherwise. */
  mode: 'auto' | 'bar' | 'plain' | 'none';
  /** Plain-line period in steps (the first and the last step of a session are always printed). */
  every: number;
  write?: (line: string) => void;
}

export const formatNumber = (x: number) =>
  Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toFixed(4) : x.toExponential(3);

export function plainLine(r: StepMetricsRecord, lastStep: number): string {
  const parts = Object.entries(r.parts)
    .map(([k, v]) => `${k} ${formatNumber(v)}`)
    .join(' ');
  const scales = Object.values(r.logitScales)
    .map((s) => s.toFixed(2))
    .join('/');
  return (
    `step ${r.step}/${lastStep} loss ${formatNumber(r.loss)}${parts ? ` (${parts})` : ''} lr ${r.lr.toExponential(3)} scale ${scales} ` +
    `${r.samplesPerSec.toFixed(1)} samples/s data-wait ${r.dataWaitMs.toFixed(0)} ms`
  );
}

export function consoleSink(options: ConsoleSinkOptions): MetricsSink {
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  if (options.mode === 'none') return { write() {} };
  let display: ProgressDisplay | undefined;
  let firstStep = 0;
  let lastStep = 0;
  return {
    write(r) {
      switch (r.type) {
        case 'run':
          display?.stop();
          firstStep = r.startStep;
          lastStep = r.lastStep;
          display = new ProgressDisplay({
            label: 'step',
            unit: 'steps',
            total: lastStep,
            start: firstStep,
            tty: options.mode === 'auto' ? undefined : options.mode === 'bar',
            write,
          });
          return;
        case 'step':
          if (display?.drawing)
            display.update(
              r.step,
              `loss ${formatNumber(r.loss)} | lr ${r.lr.toExponential(2)} | ${r.samplesPerSec.toFixed(1)} samples/s | data-wait ${r.dataWaitMs.toFixed(0)} ms`,
            );
          else if (r.step % options.every === 0 || r.step === lastStep || r.step === firstStep + 1)
            (display?.line.bind(display) ?? write)(plainLine(r, lastStep));
          return;
        case 'eval':
          (display?.line.bind(display) ?? write)(
            `eval @ step ${r.step}: ` +
              Object.entries(r.results)
                .map(([k, v]) => `${k} ${formatNumber(v)}`)
                .join(' '),
          );
          return;
        case 'rollback':
          (display?.line.bind(display) ?? write)(
            `rollback: ${r.reason}; back to the checkpoint of step ${r.toStep}, lr x ${r.lrScale.toFixed(6)}`,
          );
          return;
        case 'end':
          display?.stop();
          return;
      }
    },
    close() {
      display?.stop();
    },
  };
}
