// One way to write a command-line entry point (every file in pipelines/ uses it):
//
//   import { isMain, runCommand } from '../run/command.ts';
//   export const command = {
//     usage: '--weights W --data DATASET [options]',
//     about: 'Zero-shot classification of a model on one dataset.',
//     options: {
//       weights: { type: 'string', arg: 'W', help: 'a .safetensors file or a checkpoint directory' },
//       'batch-size': { type: 'string', arg: 'N', default: '256', help: 'images per forward pass' },
//     },
//   } satisfies CommandSpec;
//   if (isMain(import.meta)) await runCommand(import.meta, command, async ({ values, signal }) => { ... });
//
// What runCommand does, the same for every command:
//   - parses argv with node:util parseArgs over `options` (or the command's own `parse`); `-h`/`--help` prints
//     helpText() to stdout and exits 0;
//   - an error is ONE line on stderr, `<script>: <message>`, and a non-zero exit code (EXIT below): an error that
//     carries a numeric `exitCode` chooses it (UsageError: 2), anything else exits 1; CLIP_BENCH_DEBUG=1 adds the
//     stack;
//   - SIGINT/SIGTERM abort `signal` (the command finishes what it must, e.g. saves a checkpoint, and returns); the
//     process then exits 130/143 as shells expect; a second signal exits at once;
//   - the tfjs backend (wasm threads) is shut down if the command started one, so the process ends by itself.
import { realpathSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** Exit codes of every entry point. */
export const EXIT = {
  ok: 0,
  failed: 1,
  /** A bad flag, argument or declaration. */
  usage: 2,
  /** No (usable) input data. */
  noData: 3,
  /** Stopped by SIGINT (128 + 2). */
  interrupted: 130,
  /** Stopped by SIGTERM (128 + 15). */
  terminated: 143,
} as const;

/** A bad flag, argument or value: exit code 2. */
export class UsageError extends Error {
  readonly exitCode: number = EXIT.usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CommandOption {
  /** 'string': a value follows the flag (`--out DIR` or `--out=DIR`); 'boolean': a switch. */
  type: 'string' | 'boolean';
  /** One line for --help. */
  help: string;
  /** Placeholder for the value in --help (default VALUE). */
  arg?: string;
  default?: string | boolean;
  /** May be given several times; the values arrive as an array, in order. */
  multiple?: boolean;
  /** One-letter alias (`-o`). */
  short?: string;
}

export interface CommandSpec<A = ParsedCommandLine> {
  /** What follows `node <script>`; one string per way of calling the command. */
  usage: string | string[];
  /** What the command does: a sentence or a short paragraph. */
  about: string;
  /** Flags, for --help and (unless `parse` is given) for parsing. */
  options: Record<string, CommandOption>;
  /** Positional arguments are allowed (name them in `usage`). */
  positionals?: boolean;
  /** Paragraphs printed after the options (formats, examples). */
  notes?: string;
  /** A parser of the command's own (the training pipelines read declaration fields); throw UsageError on bad input. */
  parse?: (argv: string[]) => A;
  /** Called with the exit code just before the process exits (MPI jobs finalise or abort here). */
  onExit?: (code: number) => void;
}

export interface ParsedCommandLine {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export interface CommandInput<A> {
  /** The parsed command line. */
  args: A;
  /** The script as the user typed it, relative to the working directory (for messages). */
  script: string;
  /** Aborted by the first SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/** True when the module of `meta` is the script node was started with (not imported). */
export function isMain(meta: ImportMeta): boolean {
  const main = (meta as ImportMeta & { main?: boolean }).main;
  if (typeof main === 'boolean') return main;
  if (!process.argv[1]) return false;
  try {
    return realpathSync(fileURLToPath(meta.url)) === realpathSync(process.argv[1]);
  } catch {
    return false;
  }
}

/** The script path of `meta` relative to the working directory, as error messages and --help show it. */
export function scriptName(meta: ImportMeta | string): string {
  return relative(process.cwd(), fileURLToPath(typeof meta === 'string' ? meta : meta.url));
}

const isHelp = (argv: string[]) => argv.some((a) => a === '--help' || a === '-h');

/** Parse argv with node:util parseArgs over the spec's options; a bad flag or value is a UsageError. */
export function parseCommandLine(
  spec: Pick<CommandSpec, 'options' | 'positionals'>,
  argv: string[],
): ParsedCommandLine {
  const options: ParseArgsOptionsConfig = Object.fromEntries(
    Object.entries(spec.options).map(([name, o]) => [
      name,
      {
        type: o.type,
        ...(o.short ? { short: o.short } : {}),
        ...(o.multiple ? { multiple: true } : {}),
        ...(o.default !== undefined ? { default: o.multiple ? ([o.default] as string[]) : o.default } : {}),
      },
    ]),
  );
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options,
      allowPositionals: spec.positionals === true,
      strict: true,
      allowNegative: true,
    });
    return { values: values as ParsedCommandLine['values'], positionals };
  } catch (err) {
    // parseArgs' messages carry advice for programmers ("To specify a positional argument starting with a '-'...")
    const message = (err as Error).message.split('\n')[0].replace(/\. To specify .*$/, '');
    throw new UsageError(`${message} (see --help)`);
  }
}

/** The --help text: usage lines, what the command does, its options, notes. */
export function helpText(
  script: string,
  spec: Pick<CommandSpec<unknown>, 'usage' | 'about' | 'options' | 'notes'>,
): string {
  const usage = (Array.isArray(spec.usage) ? spec.usage : [spec.usage]).map(
    (u, i) => `${i === 0 ? 'usage: ' : '       '}node ${script}${u ? ` ${u}` : ''}`,
  );
  const rows: Array<[string, string]> = Object.entries(spec.options).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`,
    o.help +
      (o.default !== undefined && o.default !== false ? ` (default ${o.default})` : '') +
      (o.multiple ? ' (repeatable)' : ''),
  ]);
  rows.push(['-h, --help', 'print this help and exit']);
  const width = Math.min(32, Math.max(...rows.map(([f]) => f.length)) + 2);
  const options = rows.map(([f, h]) =>
    f.length + 2 > width ? `  ${f}\n  ${''.padEnd(width)}${h}` : `  ${f.padEnd(width)}${h}`,
  );
  return [
    ...usage,
    '',
    spec.about.trim(),
    '',
    'options:',
    ...options,
    ...(spec.notes ? ['', spec.notes.trim()] : []),
    '',
  ].join('\n');
}

/** The exit code an error asks for (`exitCode` on the error), else 1. */
export function exitCodeOf(err: unknown): number {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === 'number' && Number.isInteger(code) && code > 0 ? code : EXIT.failed;
}

/**
 * Run a command-line entry point: parse, --help, run, one-line errors, exit codes, signals, backend shutdown.
 * `run` may return an exit code (default 0). Never returns: the process exits.
 */
export async function runCommand<A = ParsedCommandLine>(
  meta: ImportMeta,
  spec: CommandSpec<A>,
  run: (input: CommandInput<A>) => Promise<number | void>,
): Promise<never> {
  const script = scriptName(meta);
  const argv = process.argv.slice(2);
  const controller = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGINT' ? EXIT.interrupted : EXIT.terminated;
    if (signalled) {
      process.stderr.write(`${script}: second ${sig}: exiting now\n`);
      finish(code);
    }
    signalled = sig;
    controller.abort(Object.assign(new Error(`stopped by ${sig}`), { name: 'AbortError', exitCode: code }));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let code: number = EXIT.ok;
  try {
    if (isHelp(argv)) process.stdout.write(helpText(script, spec));
    else {
      const args = spec.parse ? spec.parse(argv) : (parseCommandLine(spec, argv) as A);
      code = (await run({ args, script, signal: controller.signal })) ?? EXIT.ok;
    }
  } catch (err) {
    const e = err as Error;
    if (!(signalled && e?.name === 'AbortError')) {
      process.stderr.write(`${script}: ${e?.message?.split('\n')[0] ?? String(err)}\n`);
      if (process.env.CLIP_BENCH_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
    }
    code = exitCodeOf(err);
  }
  if (signalled && code === EXIT.ok) code = signalled === 'SIGINT' ? EXIT.interrupted : EXIT.terminated;
  if (signalled && exitCodeOf(controller.signal.reason) === code)
    process.stderr.write(`${script}: stopped by ${signalled}\n`);
  await shutdownBackendIfStarted();
  return finish(code);

  function finish(exitCode: number): never {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    spec.onExit?.(exitCode);
    process.exit(exitCode);
  }
}

// The wasm backend's pthreads would keep the process alive; tfjs keeps its engine on the global object once used.
// Checking it (instead of importing src/backend.ts here) keeps commands that never touch tfjs quick to start.
async function shutdownBackendIfStarted(): Promise<void> {
  if (!(globalThis as { _tfengine?: unknown })._tfengine) return;
  const { shutdownBackend } = await import('../src/backend.ts');
  shutdownBackend();
}
