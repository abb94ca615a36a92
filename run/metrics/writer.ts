// The one writer of a run's metrics: every record (run, step, eval, rollback, end; run/metrics/records.ts) goes
// through `write`, which hands it to each sink in order. Sinks: metrics.jsonl (jsonl-sink.ts), TensorBoard event files
// (tensorboard-sink.ts), the progress display on stderr (console-sink.ts); another output is one more sink.
import type { MetricsRecord } from './records.ts';

export interface MetricsSink {
  /** Called for every record, in order. */
  write(record: MetricsRecord): void | Promise<void>;
  /**
   * The run continues after `step` (a resume or a rollback): forget the step and eval records after it.
   * null: a fresh start, forget everything recorded before.
   */
  rewind?(step: number | null): void | Promise<void>;
  /** Make what was written durable (called before every checkpoint, so a checkpoint never precedes its metrics). */
  flush?(): void | Promise<void>;
  close?(): void | Promise<void>;
}

export class MetricsWriter {
  private readonly sinks: MetricsSink[];

  constructor(sinks: MetricsSink[] = []) {
    this.sinks = [...sinks];
  }

  add(sink: MetricsSink): this {
    this.sinks.push(sink);
    return this;
  }

  async write(record: MetricsRecord): Promise<void> {
    for (const s of this.sinks) await s.write(record);
  }

  async rewind(step: number | null): Promise<void> {
    for (const s of this.sinks) await s.rewind?.(step);
  }

  async flush(): Promise<void> {
    for (const s of this.sinks) await s.flush?.();
  }

  async close(): Promise<void> {
    for (const s of this.sinks) await s.close?.();
  }
}
