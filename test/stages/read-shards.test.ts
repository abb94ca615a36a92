// The shard reader on real webdataset test shards, generated shards, corrupt input, http and pipe: sources.
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { readShards, type ReadShardsOptions } from '../../stages/webdataset/read-shards.ts';
import { writeShards } from '../../stages/webdataset/write-shards.ts';
import { createContext, runStages, type StageContext } from '../../stages/core/stage.ts';
import { Counters } from '../../src/counters.ts';
import { ShardReadError } from '../../src/webdataset/shard-error.ts';
import { textMember, type WdsSample } from '../../src/webdataset/sample.ts';
import { sharedData } from '../helpers/shared-data.ts';

const testdata = (name: string) => join(sharedData('data/webdataset-testdata'), name);
const dir = mkdtempSync(join(tmpdir(), 'read-shards-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function quietContext(): { ctx: StageContext; warnings: string[] } {
  const warnings: string[] = [];
  return { ctx: createContext({ counters: new Counters((m) => warnings.push(m)) }), warnings };
}

async function readAll(options: ReadShardsOptions): Promise<WdsSample[]> {
  const out: WdsSample[] = [];
  for await (const s of readShards(options)) out.push(s);
  return out;
}

const keys = (samples: WdsSample[]) => samples.map((s) => s.__key__);

/** `count` shards of `perShard` samples each (keys s<shard>_<i>), written with our writer. */
async function makeShards(name: string, count: number, perShard: number): Promise<string> {
  const samples = [];
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < perShard; i++) {
      samples.push({
        __key__: `s${s}_${i}`,
        __url__: '',
        txt: `caption ${s} ${i}`,
        bin: new Uint8Array(300 + i).fill(i),
      });
    }
  }
  await runStages(
    createContext(),
    samples,
    [],
    writeShards({ pattern: join(dir, `${name}-%03d.tar`), maxCount: perShard }),
  );
  return join(dir, `${name}-{000..${String(count - 1).padStart(3, '0')}}.tar`);
}

let spec12!: string; // 12 shards x 5 samples
test.before(async () => {
  spec12 = await makeShards('g', 12, 5);
});

test('sample.tgz (gzipped tar) gives 90 samples with png+cls', async (t) => {
  const samples = await readAll({ shards: testdata('sample.tgz') });
  t.is(samples.length, 90);
  for (const s of samples) t.deepEqual(Object.keys(s).sort(), ['__key__', '__url__', 'cls', 'png']);
  t.is(samples[0].__key__, '10');
  t.regex(textMember(samples[0], 'cls')!, /^\d+$/);
  const png = samples[0].png as Uint8Array;
  t.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
});

test('testgz.tar gives 1000 samples whose .txt.gz members are decoded to text', async (t) => {
  const samples = await readAll({ shards: testdata('testgz.tar') });
  t.is(samples.length, 1000);
  for (const s of samples) {
    t.regex(s.__key__, /^[0-9a-f]{32}$/);
    const txt = s.txt as Uint8Array;
    t.false(txt[0] === 0x1f && txt[1] === 0x8b);
    t.notThrows(() => new TextDecoder('utf-8', { fatal: true }).decode(txt));
  }
});

test('compressed.tar keys keep their directory part; the directory entry is ignored', async (t) => {
  const samples = await readAll({ shards: testdata('compressed.tar') });
  t.deepEqual(keys(samples), ['compressed/0001', 'compressed/0002', 'compressed/0003']);
  t.is(samples[0].__url__, testdata('compressed.tar'));
  t.true(textMember(samples[0], 'txt')!.length > 0);
});

test('same seed gives the same order; another seed or epoch another; every sample exactly once', async (t) => {
  const a = keys(await readAll({ shards: spec12, seed: 1 }));
  t.deepEqual(keys(await readAll({ shards: spec12, seed: 1 })), a);
  t.notDeepEqual(keys(await readAll({ shards: spec12, seed: 2 })), a);
  t.notDeepEqual(keys(await readAll({ shards: spec12, seed: 1, epoch: 1 })), a);
  t.is(new Set(a).size, 60);
  t.deepEqual(keys(await readAll({ shards: spec12 })).slice(0, 6), ['s0_0', 's0_1', 's0_2', 's0_3', 's0_4', 's1_0']);
});

test('rank x worker splits are disjoint and cover every sample of an epoch', async (t) => {
  const seen: string[] = [];
  for (let rank = 0; rank < 3; rank++) {
    for (let workerId = 0; workerId < 2; workerId++) {
      const mine = keys(
        await readAll({ shards: spec12, seed: 5, epoch: 2, rank, worldSize: 3, workerId, numWorkers: 2 }),
      );
      t.is(mine.length, 10);
      seen.push(...mine);
    }
  }
  t.is(new Set(seen).size, 60);
  t.throws(() => readShards({ shards: spec12, rank: 0, worldSize: 13 }), {
    message: /cannot split 12 shard\(s\) across 13 rank/,
  });
});

test('epochs reshuffle; endless keeps going; samplesPerEpoch cuts virtual epochs across passes', async (t) => {
  const three = keys(await readAll({ shards: spec12, seed: 3, epochs: 3 }));
  t.is(three.length, 180);
  t.notDeepEqual(three.slice(0, 60), three.slice(60, 120));
  t.deepEqual(three.slice(60, 120), keys(await readAll({ shards: spec12, seed: 3, epoch: 1 })));

  const endless = readShards({ shards: spec12, seed: 3, epochs: 'endless' });
  let n = 0;
  for await (const _ of endless) if (++n === 200) break;
  t.like(endless.cursor(), { epoch: 3, samplesConsumed: 20 });

  const virtual = readShards({ shards: spec12, seed: 3, epochs: 2, samplesPerEpoch: 100 });
  const v = [];
  for await (const s of virtual) v.push(s.__key__);
  t.is(v.length, 200);
  t.is(new Set(v.slice(0, 60)).size, 60); // the first pass of epoch 0 covers every sample once
  t.deepEqual(virtual.cursor(), { epoch: 2, samplesConsumed: 0, pass: 0, shard: 0, samplesInShard: 0 });
  t.is(keys(await readAll({ shards: spec12, seed: 3, samplesPerEpoch: 7 })).length, 7);
});

test('resume from a cursor continues exactly where the reader stopped (also across epochs)', async (t) => {
  const options = { shards: spec12, seed: 9, epochs: 3, samplesPerEpoch: 45 } as const;
  const full = keys(await readAll(options));
  t.is(full.length, 135);
  for (const stopAt of [1, 13, 44, 45, 46, 100]) {
    const reader = readShards(options);
    const head: string[] = [];
    for await (const s of reader) {
      head.push(s.__key__);
      if (head.length === stopAt) break;
    }
    const cursor = reader.cursor();
    t.deepEqual([...head, ...keys(await readAll({ ...options, resume: cursor }))], full, `full cursor at ${stopAt}`);
    const short = { epoch: cursor.epoch, samplesConsumed: cursor.samplesConsumed };
    t.deepEqual(
      [...head, ...keys(await readAll({ ...options, resume: short }))],
      full,
      `{epoch, samplesConsumed} at ${stopAt}`,
    );
  }
});

test('resampled shards: drawn with replacement per rank, deterministic, resumable', async (t) => {
  const options = { shards: spec12, seed: 4, resampled: true, samplesPerEpoch: 40, epochs: 3 } as const;
  const a = keys(await readAll(options));
  t.is(a.length, 120);
  t.deepEqual(keys(await readAll(options)), a);
  t.notDeepEqual(
    keys(await readAll({ ...options, rank: 1, worldSize: 2 })),
    keys(await readAll({ ...options, rank: 0, worldSize: 2 })),
  );
  // With replacement: over many passes some shard repeats within a pass of 12 draws.
  const shardsOf = (ks: string[]) => ks.filter((_, i) => i % 5 === 0).map((k) => k.split('_')[0]);
  const many = shardsOf(keys(await readAll({ ...options, samplesPerEpoch: 600, epochs: 1 })));
  t.true(many.some((_, p) => new Set(many.slice(p * 12, p * 12 + 12)).size < 12));
  const reader = readShards(options);
  const head: string[] = [];
  for await (const s of reader) {
    head.push(s.__key__);
    if (head.length === 57) break;
  }
  t.deepEqual([...head, ...keys(await readAll({ ...options, resume: reader.cursor() }))], a);
  // More readers than shards is fine when resampling.
  t.is(keys(await readAll({ ...options, epochs: 1, rank: 20, worldSize: 30 })).length, 40);
  t.throws(() => readShards({ shards: spec12, resampled: true }), { message: /need a seed/ });
});

test('whole-shard bzip2 is detected; xz and oversized members fail with a clear message', async (t) => {
  const path = join(dir, 'g-011.tar');
  const local = keys(await readAll({ shards: path }));
  const { execFileSync } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  if (existsSync('/usr/bin/bzip2')) {
    writeFileSync(join(dir, 'g-011.tar.bz2'), execFileSync('/usr/bin/bzip2', ['-c', path]));
    t.deepEqual(keys(await readAll({ shards: join(dir, 'g-011.tar.bz2') })), local);
  }
  if (existsSync('/usr/bin/xz')) {
    writeFileSync(join(dir, 'g-011.tar.xz'), execFileSync('/usr/bin/xz', ['-c', path]));
    await t.throwsAsync(readAll({ shards: join(dir, 'g-011.tar.xz'), strict: true }), {
      message: /xz-compressed shards are not supported/,
    });
  }
  await t.throwsAsync(readAll({ shards: path, strict: true, maxMemberBytes: 302 }), {
    message: /member s11_3\.bin is 303 bytes, more than maxMemberBytes \(302\) at byte 6144$/,
  });
});

// --- bad input -------------------------------------------------------------------------------

test('truncated tar: samples before the cut, then warn once and count; strict names shard and offset', async (t) => {
  const good = readFileSync(join(dir, 'g-000.tar'));
  const path = join(dir, 'truncated.tar');
  // Each sample is 2 members of 512 + 512 bytes (bin < 512 bytes, then txt): cut inside the 4th sample's bin data.
  writeFileSync(path, good.subarray(0, 3 * 2048 + 512 + 100));
  const { ctx, warnings } = quietContext();
  const samples = await readAll({ shards: [path, join(dir, 'g-001.tar')], ctx });
  // The cut is inside s0_3's first member, so s0_2 (still open) is known to be complete and is kept.
  t.deepEqual(keys(samples), ['s0_0', 's0_1', 's0_2', 's1_0', 's1_1', 's1_2', 's1_3', 's1_4']);
  t.is(ctx.counters.get('shards_failed'), 1);
  t.is(ctx.counters.get('samples_dropped'), 0);
  t.is(warnings.length, 1);
  t.true(warnings[0].includes(path));
  const error = await t.throwsAsync(readAll({ shards: path, strict: true }), { instanceOf: ShardReadError });
  t.is(error!.message, `shard ${path}: Unexpected end of data at byte ${3 * 2048}`);

  // A cut inside s0_3's second member (txt): s0_3 is open and incomplete, so it is dropped.
  const path2 = join(dir, 'truncated2.tar');
  writeFileSync(path2, good.subarray(0, 3 * 2048 + 1024 + 512 + 5));
  const second = quietContext();
  t.deepEqual(keys(await readAll({ shards: path2, ctx: second.ctx })), ['s0_0', 's0_1', 's0_2']);
  t.is(second.ctx.counters.get('samples_dropped'), 1);
  await t.throwsAsync(readAll({ shards: path2, strict: true }), {
    message: new RegExp(`Unexpected end of data at byte ${3 * 2048 + 1024}$`),
  });
});

test('random bytes: the shard fails, the run continues; strict throws', async (t) => {
  const path = join(dir, 'random.tar');
  const bytes = new Uint8Array(4096);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  writeFileSync(path, bytes);
  const { ctx, warnings } = quietContext();
  const samples = await readAll({ shards: [path, join(dir, 'g-002.tar')], ctx });
  t.is(samples.length, 5);
  t.is(ctx.counters.get('shards_failed'), 1);
  t.is(warnings.length, 1);
  await t.throwsAsync(readAll({ shards: path, strict: true }), {
    message: new RegExp(`^shard ${path}: .*header.* at byte 0$`),
  });
});

test('a corrupt member header mid-shard stops that shard at the right offset', async (t) => {
  const bytes = Buffer.from(readFileSync(join(dir, 'g-003.tar')));
  bytes.fill(0x41, 2 * 2048 + 100, 2 * 2048 + 160); // garble the 3rd sample's first header
  const path = join(dir, 'badheader.tar');
  writeFileSync(path, bytes);
  const { ctx } = quietContext();
  t.deepEqual(keys(await readAll({ shards: path, ctx })), ['s3_0']); // s3_1 was open: dropped
  t.is(ctx.counters.get('shards_failed'), 1);
  t.is(ctx.counters.get('samples_dropped'), 1);
  await t.throwsAsync(readAll({ shards: path, strict: true }), { message: new RegExp(`at byte ${2 * 2048}$`) });
});

test('a member that fails to decode drops its sample (one warning per shard); strict names its offset', async (t) => {
  const samples: WdsSample[] = [];
  for (let i = 0; i < 4; i++)
    samples.push({
      __key__: `m${i}`,
      __url__: '',
      'txt.gz': i % 2 === 1 ? 'not gzip at all' : new Uint8Array(gzipSync(`text ${i}`)),
      cls: String(i),
    });
  await runStages(createContext(), samples, [], writeShards({ pattern: join(dir, 'badmember-%d.tar') }));
  const path = join(dir, 'badmember-0.tar');
  const { ctx, warnings } = quietContext();
  const read = await readAll({ shards: path, ctx });
  t.deepEqual(keys(read), ['m0', 'm2']);
  t.is(textMember(read[1], 'txt'), 'text 2');
  t.is(ctx.counters.get('members_failed'), 2);
  t.is(ctx.counters.get('samples_dropped'), 2);
  t.is(ctx.counters.get('shards_failed'), 0);
  t.is(warnings.length, 1);
  // m1: cls member (header 2048, 1024 bytes), then txt.gz at 3072
  await t.throwsAsync(readAll({ shards: path, strict: true }), {
    message: new RegExp(`^shard ${path}: cannot gunzip member m1.txt.gz: .* at byte 3072$`),
  });
});

test('an empty shard and a missing file are counted, not fatal', async (t) => {
  const empty = join(dir, 'empty.tar');
  writeFileSync(empty, new Uint8Array(0));
  const { ctx, warnings } = quietContext();
  const samples = await readAll({ shards: [empty, join(dir, 'missing.tar'), join(dir, 'g-004.tar')], ctx });
  t.is(samples.length, 5);
  t.is(ctx.counters.get('shards_empty'), 1);
  t.is(ctx.counters.get('shards_failed'), 1);
  t.is(warnings.length, 2);
  await t.throwsAsync(readAll({ shards: join(dir, 'missing.tar'), strict: true }), {
    message: /missing\.tar: ENOENT.* at byte 0$/,
  });
});

test('endless reading over shards that all fail stops with an error instead of spinning', async (t) => {
  const { ctx } = quietContext();
  await t.throwsAsync(readAll({ shards: join(dir, 'missing.tar'), epochs: 'endless', ctx }), {
    message: /read no samples/,
  });
});

// --- http and pipe: sources ----------------------------------------------------------------

async function withServer(handler: http.RequestListener, fn: (base: string) => Promise<void>): Promise<void> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const fastHttp = { timeoutMs: 300, retries: 2, backoffMs: 5 };

test('http: a shard served over http reads like the local file; 503s are retried', async (t) => {
  const body = readFileSync(join(dir, 'g-005.tar'));
  let hits = 0;
  await withServer(
    (req, res) => {
      hits++;
      if (req.url === '/flaky.tar' && hits <= 2) {
        res.writeHead(503);
        res.end();
        return;
      }
      if (req.url === '/missing.tar') {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    },
    async (base) => {
      const local = keys(await readAll({ shards: join(dir, 'g-005.tar') }));
      t.deepEqual(keys(await readAll({ shards: `${base}/flaky.tar`, http: fastHttp })), local);
      t.is(hits, 3);
      hits = 0;
      await t.throwsAsync(readAll({ shards: `${base}/missing.tar`, http: fastHttp, strict: true }), {
        message: /HTTP 404 .*after 1 attempt\) at byte 0$/,
      });
      t.is(hits, 1);
    },
  );
});

test('http: a server that drops the connection mid-shard is counted; strict names the offset', async (t) => {
  const body = readFileSync(join(dir, 'g-006.tar'));
  await withServer(
    (_req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 2 * 2048 + 600), () => setTimeout(() => res.socket?.destroy(), 20));
    },
    async (base) => {
      const { ctx, warnings } = quietContext();
      const samples = await readAll({ shards: [`${base}/drop.tar`, join(dir, 'g-007.tar')], ctx, http: fastHttp });
      t.deepEqual(keys(samples).slice(0, 3), ['s6_0', 's6_1', 's7_0']);
      t.is(samples.length, 7);
      t.is(ctx.counters.get('shards_failed'), 1);
      t.is(warnings.length, 1);
      await t.throwsAsync(readAll({ shards: `${base}/drop.tar`, strict: true, http: fastHttp }), {
        instanceOf: ShardReadError,
        message: new RegExp(`^shard ${base}/drop.tar: .* at byte ${2 * 2048}$`),
      });
    },
  );
});

test('http: an unreachable URL and a server that never answers fail after retries and timeouts', async (t) => {
  // A port that was just closed refuses connections.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const { ctx } = quietContext();
  t.is((await readAll({ shards: `http://127.0.0.1:${port}/x.tar`, ctx, http: fastHttp })).length, 0);
  t.is(ctx.counters.get('shards_failed'), 1);
  await t.throwsAsync(readAll({ shards: `http://127.0.0.1:${port}/x.tar`, strict: true, http: fastHttp }), {
    message: /ECONNREFUSED.*after 3 attempts/,
  });

  let hits = 0;
  await withServer(
    () => {
      hits++; /* never respond */
    },
    async (base) => {
      const started = Date.now();
      await t.throwsAsync(
        readAll({ shards: `${base}/slow.tar`, strict: true, http: { timeoutMs: 150, retries: 1, backoffMs: 5 } }),
        { message: /timeout after 150 ms waiting for a response.*after 2 attempts/ },
      );
      t.is(hits, 2);
      t.true(Date.now() - started < 2000);
    },
  );

  // Headers and some bytes arrive, then the body stalls: the idle timeout fails the shard.
  const body = readFileSync(join(dir, 'g-010.tar'));
  await withServer(
    (_req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 3000));
    },
    async (base) => {
      await t.throwsAsync(readAll({ shards: `${base}/stall.tar`, strict: true, http: { timeoutMs: 150 } }), {
        message: new RegExp(`^shard ${base}/stall.tar: timeout after 150 ms waiting for body bytes .* at byte 3072$`),
      });
    },
  );
});

test('aborting the context cancels a stalled http read promptly (not counted as a bad shard)', async (t) => {
  const body = readFileSync(join(dir, 'g-010.tar'));
  await withServer(
    (_req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 3000));
    },
    async (base) => {
      const controller = new AbortController();
      const ctx = createContext({ signal: controller.signal, counters: new Counters(() => {}) });
      const started = Date.now();
      setTimeout(() => controller.abort(), 100);
      await t.throwsAsync(readAll({ shards: `${base}/stall.tar`, ctx, http: { timeoutMs: 10_000 } }), {
        name: 'AbortError',
      });
      t.true(Date.now() - started < 1000);
      t.is(ctx.counters.get('shards_failed'), 0);
    },
  );
});

test("pipe: reads a command's stdout; a failing command is a shard error", async (t) => {
  const path = join(dir, 'g-008.tar');
  t.deepEqual(keys(await readAll({ shards: `pipe:cat '${path}'` })), keys(await readAll({ shards: path })));
  const gz = join(dir, 'g-008.tar.gz');
  writeFileSync(gz, gzipSync(readFileSync(path)));
  t.is((await readAll({ shards: `pipe:cat '${gz}'` })).length, 5);
  await t.throwsAsync(readAll({ shards: 'pipe:echo oops >&2; exit 3', strict: true }), {
    message: /exited with 3: oops/,
  });
});

test('stopping early closes the shard source', async (t) => {
  const reader = readShards({ shards: `pipe:cat ${join(dir, 'g-009.tar')}; sleep 30` });
  const first = await reader.next();
  t.is((first.value as WdsSample).__key__, 's9_0');
  const started = Date.now();
  await reader.return();
  t.true(Date.now() - started < 1000);
});
