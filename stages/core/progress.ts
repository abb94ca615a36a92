// Pass-through progress reporter: items (rows, images...) and items/s. On a TTY a cli-progress bar (total optional),
// otherwise a plain line to stderr every `intervalMs` (for logs of batch jobs). Silent when `quiet`.
import cliProgress from 'cli-progress';
import type { Stage } from './stage.ts';

export interface ProgressOptions {
  label: string /** What is counted (default 'rows'). */;
  unit?: string;
  total?: number;
  intervalMs?: number;
  quiet?: boolean;
  tty?: boolean;
  write?: (line: string) => void;
}

export function progress<A>(options: ProgressOptions): Stage<A, A> {
  return async function* progressStage(source) {
    if (options.quiet) {
      yield* source;
      return;
    }
    const unit = options.unit ?? 'rows';
    const write = options.write ?? ((l: string) => process.stderr.write(l + '\n'));
    // Worker processes sharing a terminal set YFCC_PLAIN_PROGRESS=1 so their bars do not overwrite each other.
    const tty = options.tty ?? (process.stderr.isTTY === true && process.env.YFCC_PLAIN_PROGRESS !== '1');
    const interval = options.intervalMs ?? 10_000;
    const t0 = performance.now();
    let n = 0,
      lastPrint = t0;
    const bar = tty
      ? new cliProgress.SingleBar(
          {
            // With an unknown total there is nothing to fill: a counter line instead of a bar.
            format: options.total
              ? `${options.label} [{bar}] {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`
              : `${options.label}: {value} ${unit} | {rate} ${unit}/s | {duration_formatted}`,
            stream: process.stderr,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    bar?.start(options.total ?? 0, 0, { rate: '0' });
    const rate = () => Math.round(n / Math.max(1e-3, (performance.now() - t0) / 1000));
    try {
      for await (const item of source) {
        n++;
        if ((n & 63) === 0) {
          const now = performance.now();
          if (bar) bar.update(n, { rate: String(rate()) });
          else if (now - lastPrint >= interval) {
            lastPrint = now;
            write(`${options.label}: ${n} ${unit}, ${rate()} ${unit}/s`);
          }
        }
        yield item;
      }
    } finally {
      if (bar) {
        bar.update(n, { rate: String(rate()) });
        bar.stop();
      } else
        write(
          `${options.label}: done, ${n} ${unit} in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
            `${rate()} ${unit}/s`,
        );
    }
  };
}
