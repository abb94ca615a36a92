// What made a finished piece of a YFCC job (a filter part, a shard slice): the identity of its inputs and every
// setting that changes its content, recorded next to it. A rerun compares the recorded recipe with its own and
// reuses the piece only when nothing differs; a difference is described in words so the refusal can say what.
//
// An input's identity is its size and a SHA-256 of its first and last 4 MiB (or the command of a `pipe:` input):
// the metadata files run to tens of gigabytes, so hashing them whole on every start is not affordable, and a
// re-download or an edit changes the size, the head or the tail in practice. Path and modification time are recorded
// to help the reader, not compared: a moved or copied file is the same input.

export interface InputIdentity {
  path: string;
  size?: number;
  mtime?: string;
  /** SHA-256 of the first and last 4 MiB (the whole file when smaller than 8 MiB). */
  sample?: string;
  /** For `pipe:CMD` inputs: the command. */
  command?: string;
}

export interface Recipe {
  /** The job and the versions of the code that shape its output (cleaning, language identification). */
  job: string;
  inputs: Record<string, InputIdentity | null>;
  settings: Record<string, unknown>;
}

export function sameInput(a: InputIdentity, b: InputIdentity): boolean {
  if (a.command !== undefined || b.command !== undefined) return a.command === b.command;
  return a.size === b.size && a.sample === b.sample;
}

function leaves(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
    if (Object.keys(value).length === 0 && prefix) out.set(prefix, '{}');
  } else out.set(prefix, JSON.stringify(value ?? null));
  return out;
}

function describeInput(name: string, a: InputIdentity | null, b: InputIdentity | null): string | undefined {
  if (!a && !b) return undefined;
  if (!a || !b) return `${name}: ${a ? a.path : 'none'} -> ${b ? b.path : 'none'}`;
  if (sameInput(a, b)) return undefined;
  if (a.command !== undefined || b.command !== undefined)
    return `${name}: command ${JSON.stringify(a.command ?? a.path)} -> ${JSON.stringify(b.command ?? b.path)}`;
  const where = a.path === b.path ? a.path : `${a.path} -> ${b.path}`;
  if (a.size !== b.size) return `${name} ${where}: size ${a.size} -> ${b.size} bytes`;
  return `${name} ${where}: same size, other content (modified ${a.mtime} -> ${b.mtime})`;
}

/**
 * The first difference between a recorded recipe and the current one, in words ("settings.caption: "keep-both" ->
 * "title""), or undefined when they match. A missing recorded recipe (an earlier version) is a difference.
 */
export function recipeDifference(recorded: Recipe | undefined, current: Recipe): string | undefined {
  if (!recorded || typeof recorded !== 'object' || !recorded.settings || !recorded.inputs)
    return 'by an earlier version that recorded no recipe';
  if (recorded.job !== current.job) return `by ${recorded.job}, not ${current.job}`;
  for (const name of new Set([...Object.keys(recorded.inputs), ...Object.keys(current.inputs)])) {
    const d = describeInput(name, recorded.inputs[name] ?? null, current.inputs[name] ?? null);
    if (d) return `from another input (${d})`;
  }
  const a = leaves(recorded.settings, '', new Map()),
    b = leaves(current.settings, '', new Map());
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key) ?? 'unset',
      y = b.get(key) ?? 'unset';
    if (x !== y) return `with other settings (${key}: ${x} -> ${y})`;
  }
  return undefined;
}
