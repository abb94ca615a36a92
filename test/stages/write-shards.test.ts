// The shard writer: deterministic tar headers, rolling by count and size, round trip through our
// reader, and (when Debian's python3 is present) readability by Python's tarfile.
import test from 'ava';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import tar, { type Header } from 'tar-stream';
import { writeShards } from '../../stages/webdataset/write-shards.ts';
import { readShards } from '../../stages/webdataset/read-shards.ts';
import { createContext, runStages } from '../../stages/core/stage.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';

const dir = mkdtempSync(join(tmpdir(), 'write-shards-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function makeSamples(n: number): WdsSample[] {
  return Array.from({ length: n }, (_, i) => ({
    __key__: `dir/k${String(i).padStart(4, '0')}`,
    __url__: 'ignored',
    txt: `caption number ${i} ünïcödé`,
    jpg: new Uint8Array(200 + 37 * i).map((_, j) => (i * 31 + j) & 255),
    cls: String(i % 7),
    json: JSON.stringify({ i }),
  }));
}

const write = (samples: WdsSample[], pattern: string, opts: { maxCount?: number; maxSize?: number } = {}) =>
  runStages(createContext(), samples, [], writeShards({ pattern: join(dir, pattern), ...opts }));

async function tarHeaders(path: string) {
  const extract = tar.extract();
  const out: Header[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      out.push(entry.header);
      entry.resume();
    }
  })();
  extract.end(readFileSync(path));
  await done;
  return out;
}

async function readBack(spec: string): Promise<WdsSample[]> {
  const out: WdsSample[] = [];
  for await (const s of readShards({ shards: spec })) out.push(s);
  return out;
}

test('identical input gives byte-identical shards: deterministic headers, sorted adjacent members', async (t) => {
  const a = await write(makeSamples(10), 'a-%02d.tar');
  const b = await write(makeSamples(10), 'b-%02d.tar');
  t.deepEqual(a, { shards: [join(dir, 'a-00.tar')], samples: 10 });
  t.deepEqual(readFileSync(a.shards[0]), readFileSync(b.shards[0]));
  const headers = await tarHeaders(a.shards[0]);
  t.deepEqual(
    headers.slice(0, 4).map((h) => h.name),
    ['dir/k0000.cls', 'dir/k0000.jpg', 'dir/k0000.json', 'dir/k0000.txt'],
  );
  t.is(headers.length, 40);
  for (const h of headers) {
    t.is(h.mtime!.getTime(), 0);
    t.is(h.uid, 0);
    t.is(h.gid, 0);
    t.is(h.mode, 0o644);
    t.is(h.uname, '');
    t.is(h.gname, '');
    t.is(h.type, 'file');
  }
  t.false(readdirSync(dir).some((f) => /^[ab]-.*\.partial$/.test(f)));
});

test('rolls to a new shard at maxCount', async (t) => {
  const result = await write(makeSamples(25), 'count-%06d.tar', { maxCount: 10 });
  t.deepEqual(
    result.shards.map((s) => s.slice(dir.length + 1)),
    ['count-000000.tar', 'count-000001.tar', 'count-000002.tar'],
  );
  t.deepEqual(
    (await Promise.all(result.shards.map(readBack))).map((s) => s.length),
    [10, 10, 5],
  );
});

test('rolls before a sample would push the shard past maxSize', async (t) => {
  const maxSize = 20_000;
  const result = await write(makeSamples(40), 'size-%03d.tar', { maxSize });
  t.true(result.shards.length > 2);
  let total = 0;
  for (const path of result.shards) {
    t.true(statSync(path).size <= maxSize, `${path} is ${statSync(path).size} bytes`);
    total += (await readBack(path)).length;
  }
  t.is(total, 40);
});

test('round trip through our reader is byte-identical', async (t) => {
  const samples = makeSamples(30);
  const { shards } = await write(samples, 'rt-%d.tar', { maxCount: 8 });
  const back = await readBack(join(dir, `rt-{0..${shards.length - 1}}.tar`));
  t.is(back.length, 30);
  const enc = new TextEncoder();
  back.forEach((s, i) => {
    t.is(s.__key__, samples[i].__key__);
    t.deepEqual(
      Object.keys(s)
        .filter((k) => !k.startsWith('__'))
        .sort(),
      ['cls', 'jpg', 'json', 'txt'],
    );
    t.deepEqual(s.jpg, samples[i].jpg);
    t.deepEqual(s.txt, enc.encode(samples[i].txt as string));
  });
});

test('bad patterns and keys fail with a clear message', async (t) => {
  t.throws(() => writeShards({ pattern: join(dir, 'nopattern.tar') }), { message: /exactly one %d/ });
  await t.throwsAsync(write([{ __key__: 'a.b', __url__: '', txt: 'x' }], 'bad-%d.tar'), {
    message: /basename must be non-empty and contain no '\.'/,
  });
});

const python = '/usr/bin/python3';
(existsSync(python) ? test : test.skip)(
  'Python tarfile reads the shards: names, sizes, mtime and bytes match',
  async (t) => {
    const samples = makeSamples(12);
    const { shards } = await write(samples, 'py-%d.tar', { maxCount: 5 });
    const script = [
      'import sys, tarfile, hashlib, json',
      'out = []',
      'for path in sys.argv[1:]:',
      '    with tarfile.open(path, "r|*") as tf:',
      '        for m in tf:',
      '            data = tf.extractfile(m).read()',
      '            out.append([m.name, m.size, m.mtime, m.mode, m.uid, m.gid, hashlib.sha256(data).hexdigest()])',
      'print(json.dumps(out))',
    ].join('\n');
    const listed = JSON.parse(execFileSync(python, ['-c', script, ...shards], { encoding: 'utf8' }));
    const expected = samples.flatMap((s) =>
      ['cls', 'jpg', 'json', 'txt'].map((ext) => {
        const value = s[ext];
        const bytes = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
        return [`${s.__key__}.${ext}`, bytes.length, 0, 0o644, 0, 0, createHash('sha256').update(bytes).digest('hex')];
      }),
    );
    t.deepEqual(listed, expected);
  },
);
