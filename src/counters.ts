// Named counters shared by every stage of a run (samples read, shards failed, images skipped...),
// plus warn-once bookkeeping so a bad shard warns a single time however many errors it yields.

export class Counters {
  private values = new Map<string, number>();
  private warned = new Set<string>();
  private readonly warn: (message: string) => void;

  constructor(warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`)) {
    this.warn = warn;
  }

  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }
  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  /** Emit `message` only the first time `key` is seen; returns whether it was emitted. */
  warnOnce(key: string, message: string): boolean {
    if (this.warned.has(key)) return false;
    this.warned.add(key);
    this.warn(message);
    return true;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** One line per counter, for the end of a run. */
  format(): string {
    const entries = Object.entries(this.toJSON());
    if (entries.length === 0) return 'counters: (none)';
    return 'counters: ' + entries.map(([k, v]) => `${k}=${v}`).join(' ');
  }
}
