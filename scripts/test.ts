// The project's test command: type-check with TypeScript 7, check formatting (biome, width 120), then run the ava
// suite (TAP reporter),
// and end with the plain line `N passed, N failed` taken from ava's own counts.
// Extra arguments are passed to ava (e.g. `npm test -- test/shards.test.ts`).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

function run(cmd: string, args: string[], onLine?: (line: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: child.stdout }).on('line', (line) => {
      process.stdout.write(line + '\n');
      onLine?.(line);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const bin = (name: string) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
const avaArgs = process.argv.slice(2);

let typecheckFailed = 0;
if (avaArgs.length === 0) {
  console.log('# typecheck: tsc -p . --noEmit');
  const tsc = await run(bin('tsc'), ['-p', '.', '--noEmit']);
  if (tsc !== 0) {
    typecheckFailed = 1;
    console.log('# typecheck: FAILED');
  } else console.log('# typecheck: ok');
  console.log('# format: biome format . (fix with `npm run format`)');
  const fmt = await run(bin('biome'), ['format', '--reporter=summary', '.']);
  if (fmt !== 0) {
    typecheckFailed++;
    console.log('# format: FAILED');
  } else console.log('# format: ok');
}

const counts = { pass: 0, fail: 0, skip: 0 };
const ava = await run(process.execPath, [bin('ava'), '--tap', ...avaArgs], (line) => {
  const m = /^# (pass|fail|skip) (\d+)$/.exec(line);
  if (m) counts[m[1] as 'pass' | 'fail' | 'skip'] = Number(m[2]);
});
const avaCrashed = ava !== 0 && counts.fail === 0;
if (avaCrashed)
  console.log(
    `# ava exited with code ${ava} although no test failed (a test file crashed, timed out or did not exit): ` +
      `counted as one failure`,
  );
const failed = counts.fail + typecheckFailed + (avaCrashed ? 1 : 0);
console.log(`${counts.pass} passed, ${failed} failed` + (counts.skip ? `, ${counts.skip} skipped` : ''));
process.exit(failed === 0 ? 0 : 1);
