// run/command.ts: the one command-line helper of every entry point (parsing, --help, one-line errors, exit codes,
// signals). The parsing and help format are tested in process; exit codes and signals with real child processes.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { EXIT, UsageError, exitCodeOf, helpText, parseCommandLine, type CommandSpec } from '../../run/command.ts';
import { nodeBin, repoRoot } from '../helpers/run-pipeline-child.ts';

const spec = {
  usage: '--in FILE [--n N] [--fast]',
  about: 'Does a thing.',
  options: {
    in: { type: 'string', arg: 'FILE', help: 'the input' },
    n: { type: 'string', arg: 'N', default: '3', help: 'how many' },
    fast: { type: 'boolean', help: 'go fast' },
    tag: { type: 'string', multiple: true, help: 'a tag' },
  },
} satisfies CommandSpec;

test('parseCommandLine: values, defaults, repeatable flags; bad flags are one-line usage errors', (t) => {
  const { values, positionals } = parseCommandLine(spec, ['--in', 'a.txt', '--fast', '--tag', 'x', '--tag=y']);
  t.deepEqual(values, { in: 'a.txt', n: '3', fast: true, tag: ['x', 'y'] });
  t.deepEqual(positionals, []);
  const unknown = t.throws(() => parseCommandLine(spec, ['--nope']), { instanceOf: UsageError });
  t.is(unknown!.message, "Unknown option '--nope' (see --help)");
  t.is(exitCodeOf(unknown), EXIT.usage);
  const positional = t.throws(() => parseCommandLine(spec, ['stray']), { instanceOf: UsageError });
  t.false(positional!.message.includes('\n'));
  t.deepEqual(parseCommandLine({ ...spec, positionals: true }, ['a', 'b']).positionals, ['a', 'b']);
});

test('helpText: one format (usage lines, about, aligned options with defaults, -h)', (t) => {
  t.is(
    helpText('pipelines/x.ts', { ...spec, usage: [spec.usage, 'other MODE'], notes: 'Notes here.' }),
    [
      'usage: node pipelines/x.ts --in FILE [--n N] [--fast]',
      '       node pipelines/x.ts other MODE',
      '',
      'Does a thing.',
      '',
      'options:',
      '  --in FILE    the input',
      '  --n N        how many (default 3)',
      '  --fast       go fast',
      '  --tag VALUE  a tag (repeatable)',
      '  -h, --help   print this help and exit',
      '',
      'Notes here.',
      '',
    ].join('\n'),
  );
});

test('exitCodeOf: an error chooses its exit code, anything else is 1', (t) => {
  t.is(exitCodeOf(new Error('x')), 1);
  t.is(exitCodeOf(Object.assign(new Error('x'), { exitCode: 3 })), 3);
  t.is(exitCodeOf(new UsageError('x')), 2);
  t.is(exitCodeOf('a string'), 1);
});

// Every entry point (every file in pipelines/) answers --help with the one format and exit 0.
const entryPoints = readdirSync(new URL('../../pipelines/', import.meta.url))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3));
test('the entry points checked are the files in pipelines/', (t) => {
  t.true(entryPoints.length >= 16, entryPoints.join(' '));
});
for (const name of entryPoints) {
  test(`pipelines/${name}.ts --help`, (t) => {
    const r = spawnSync(nodeBin, [`pipelines/${name}.ts`, '--help'], { cwd: repoRoot, encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    t.true(r.stdout.startsWith(`usage: node pipelines/${name}.ts`), r.stdout.slice(0, 200));
    t.regex(r.stdout, /\noptions:\n/);
    t.regex(r.stdout, /\n {2}-h, --help +print this help and exit\n/);
    t.is(r.stderr, '');
  });
}

test('SIGINT while a read is stalled: the command stops at once, one line, exit 130', async (t) => {
  // a server that accepts connections and never answers
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  try {
    const child = spawn(
      nodeBin,
      ['pipelines/inspect-shards.ts', `http://127.0.0.1:${port}/a.tar`, '--timeout', '600000', '--retries', '0'],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    while (sockets.size === 0) await new Promise((r) => setTimeout(r, 50));
    const sent = Date.now();
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    t.is(code, EXIT.interrupted, stderr);
    t.true(Date.now() - sent < 5000, `exited ${Date.now() - sent} ms after SIGINT`);
    t.regex(stderr, /pipelines\/inspect-shards\.ts: stopped by SIGINT\n/);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});
