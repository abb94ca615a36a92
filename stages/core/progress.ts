// Progress for humans, drawn in ONE way by every job: `ProgressDisplay` shows a cli-progress bar (with a total and ETA)
// or a counter line on a terminal, or hands plain lines to a writer otherwise (logs of batch jobs); lines printed
// through it (evaluation results, warnings) appear above the bar. The `progress` stage counts the items that pass
// (rows, images...) and shows them with items/s; the training run shows steps, loss and lr through the same display.
import cliProgress from 'cli-progress';
import type { Stage } from './stage.ts';

export interface ProgressDisplayOptions {
  /** What is shown first ('step', 'zero-shot cifar10', ...). */
  label: string;
  /** What is counted (shown after the count). */
  unit: string;
  /** Count at which the job is done (a bar with ETA); undefined = a counter. */
  total?: number;
  /** Count to start from (a resumed run). */
  start?: number;
  /** Draw on the terminal (default: stderr is a TTY and YFCC_PLAIN_PROGRESS is not 1); otherwise plain lines. */
  tty?: boolean;
  /** Where plain lines go (default stderr). */
  write?: (line: string) => void;
}

export class ProgressDisplay {
  /** Whether a bar is drawn (else the owner decides when to print plain lines). */
  readonly drawing: boolean;
  private readonly bar: cliProgress.SingleBar | undefined;
  private readonly write: (line: string) => void;
  private readonly total: number;
  private value: number;
  private stopped = false;

  constructor(options: ProgressDisplayOptions) {
    this.write = options.write ?? ((l: string) => process.stderr.write(l + '\n'));
    // Worker processes sharing a terminal set YFCC_PLAIN_PROGRESS=1 so their bars do not overwrite each other.
    this.drawing = options.tty ?? (process.stderr.isTTY === true && process.env.YFCC_PLAIN_PROGRESS !== '1');
    this.total = options.total ?? 0;
    this.value = options.start ?? 0;
    const { label, unit } = options;
    this.bar = this.drawing
      ? new cliProgress.SingleBar(
          {
            // with an unknown total there is nothing to fill: a counter line instead of a bar
            format: options.total
              ? `${label} [{bar}] {value}/{total} ${unit}{text} | ETA {eta_formatted}`
              : `${label}: {value} ${unit}{text} | {duration_formatted}`,
            stream: process.stderr,
            etaBuffer: 20,
            hideCursor: true,
            // a bar asked for outside a terminal (a log file) is redrawn as a line every 2 s
            noTTYOutput: !process.stderr.isTTY,
            notTTYSchedule: 2000,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    this.bar?.start(this.total, this.value, { text: '' });
  }

  /** Move to `value`; `text` (e.g. "loss 3.51 | lr 7.5e-4") is shown after the count. */
  update(value: number, text = ''): void {
    this.value = value;
    this.bar?.update(value, { text: text ? ` | ${text}` : '' });
  }

  /** Print a line: above the bar on a terminal, through the writer otherwise. */
  line(text: string): void {
    if (this.bar && !this.stopped) {
      this.bar.stop();
      this.write(text);
      if (this.total === 0 || this.value < this.total) this.bar.start(this.total, this.value, { text: '' });
      else this.stopped = true; // done: no bar below the last lines
    } else this.write(text);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bar?.stop();
  }
}

export interface ProgressOptions {
  label: string;
  /** What is counted (default 'rows'). */
  unit?: string;
  total?: number;
  /** Plain mode: a line at most every intervalMs (default 10 s), and one at the end. */
  intervalMs?: number;
  quiet?: boolean;
  tty?: boolean;
  write?: (line: string) => void;
}

/** Pass-through stage: counts the items and shows the count and items/s; silent when `quiet`. */
export function progress<A>(options: ProgressOptions): Stage<A, A> {
  return async function* progressStage(source) {
    if (options.quiet) {
      yield* source;
      return;
    }
    const unit = options.unit ?? 'rows';
    const display = new ProgressDisplay({ ...options, unit });
    const interval = options.intervalMs ?? 10_000;
    const t0 = performance.now();
    let n = 0;
    let lastPrint = t0;
    const rate = () => Math.round(n / Math.max(1e-3, (performance.now() - t0) / 1000));
    try {
      for await (const item of source) {
        n++;
        if ((n & 63) === 0) {
          const now = performance.now();
          if (display.drawing) display.update(n, `${rate()} ${unit}/s`);
          else if (now - lastPrint >= interval) {
            lastPrint = now;
            display.line(`${options.label}: ${n} ${unit}, ${rate()} ${unit}/s`);
          }
        }
        yield item;
      }
    } finally {
      if (display.drawing) {
        display.update(n, `${rate()} ${unit}/s`);
        display.stop();
      } else
        display.line(
          `${options.label}: done, ${n} ${unit} in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
            `${rate()} ${unit}/s`,
        );
    }
  };
}
