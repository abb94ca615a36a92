// The YFCC jobs' command lines: one table of flags (type and one line of help each), parsed with node:util parseArgs
// (strict: an unknown flag is a one-line error), and `--help` printed from the same table.
import { parseArgs } from 'node:util';

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** What the value looks like, shown in --help (string flags). */
  value?: string;
  help: string;
}

export type FlagTable = Record<string, FlagSpec>;

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string[];
  flags: FlagTable;
  /** Paragraphs printed after the flags. */
  notes?: string[];
}

export function formatHelp(spec: CommandSpec): string {
  const rows = Object.entries(spec.flags).map(([flag, f]) => [
    `--${flag}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`,
    f.help,
  ]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    `${spec.name}: ${spec.summary}`,
    '',
    'usage:',
    ...spec.usage.map((u) => `  ${u}`),
    '',
    'flags:',
    ...rows.map(([left, help]) => `  ${left.padEnd(width)}${help}`),
    `  ${'--help'.padEnd(width)}print this help`,
    ...(spec.notes?.length ? ['', ...spec.notes] : []),
  ].join('\n');
}

/** Parsed flag values, or null when --help was asked for (the help is then already printed). */
export function parseCommandLine(
  spec: CommandSpec,
  argv: string[],
): Record<string, string | boolean | undefined> | null {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(formatHelp(spec));
    return null;
  }
  const options = Object.fromEntries(Object.entries(spec.flags).map(([k, f]) => [k, { type: f.type }]));
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (err) {
    throw new Error(`${(err as Error).message.split('\n')[0]} (see --help)`);
  }
}

/** Run a command; an error becomes one line `name: message` on stderr and exit code 1. */
export async function runCommand(name: string, command: () => Promise<void>): Promise<void> {
  try {
    await command();
  } catch (err) {
    console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
