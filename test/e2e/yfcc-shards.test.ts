// The YFCC shards pipeline against a local HTTP server on 127.0.0.1 (slow, failing, flaky,
// redirecting, non-image, corrupt, too small, too wide responses): shards hold the good images only,
// stats/sizes account for every row, reruns skip finished shards, parts together equal one run,
// and the local multimedia-commons layout join works from the parquet fixture.
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import tar from 'tar-stream';
import { Readable } from 'node:stream';
import { runShardsPart, type ShardsOptions } from '../../run/yfcc/shards-part.ts';
import { finalizeShards } from '../../run/yfcc/finalize-shards.ts';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { alive, descendants, killLeftovers, waitFor } from './process-tree.ts';
import { promisify } from 'node:util';
import { parseFieldMap } from '../../src/yfcc/shard-input.ts';
import { createContext } from '../../stages/core/stage.ts';
import { Counters } from '../../src/counters.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/yfcc/${name}`, import.meta.url));
const quietCtx = () => createContext({ counters: new Counters(() => {}) });
const tmpDirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'yfcc-shards-'));
  tmpDirs.push(d);
  return d;
}

const jpeg = (w: number, h: number, seed: number) =>
  sharp({
    create: {
      width: w,
      height: h,
      channels: 3,
      background: { r: (seed * 67) % 256, g: (seed * 131) % 256, b: (seed * 29) % 256 },
    },
  })
    .composite([
      {
        input: {
          create: {
            width: Math.max(1, w >> 1),
            height: Math.max(1, h >> 2),
            channels: 3,
            background: { r: 255 - ((seed * 67) % 256), g: 0, b: 255 },
          },
        },
        left: (seed * 7) % Math.max(1, w >> 1),
        top: 0,
      },
    ])
    .jpeg()
    .toBuffer();

let server: Server;
let base = '';
const requests = new Map<string, number>();
let images: Record<string, Buffer> = {};
/** While true, /img/switchN answers 503 (a source that is down); then it serves good images. */
let sourceDown = true;

test.before(async () => {
  images = {
    good0: await jpeg(64, 48, 1),
    good1: await jpeg(40, 60, 2),
    good2: await jpeg(50, 50, 3),
    target: await jpeg(80, 40, 4),
    flaky: await jpeg(48, 48, 5),
    tiny: await jpeg(8, 8, 6),
    wide: await sharp({ create: { width: 200, height: 20, channels: 3, background: '#336699' } })
      .png()
      .toBuffer(),
    png: await sharp({ create: { width: 30, height: 40, channels: 3, background: '#aa3300' } })
      .png()
      .toBuffer(),
  };
  server = createServer((req, res) => {
    const path = req.url ?? '';
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const send = (type: string, body: Buffer | string, status = 200) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    const m = /^\/img\/([a-z0-9]+)(?:\.\w+)?$/.exec(path);
    const name = m?.[1] ?? '';
    if (name === 'slow') {
      const t = setTimeout(() => send('image/jpeg', images.good0), 20_000);
      res.on('close', () => clearTimeout(t));
      return;
    }
    if (name === 'fail') return send('text/plain', 'boom', 500);
    if (name.startsWith('stall')) return; // accepts and never answers (connections closed when the server stops)
    if (name === 'missing') return send('text/plain', 'nope', 404);
    if (name === 'html') return send('text/html; charset=utf-8', '<html>not an image</html>');
    if (name === 'corrupt')
      return send('image/jpeg', Buffer.concat([images.good0.subarray(0, 20), Buffer.alloc(200, 7)]));
    if (name === 'redirect') {
      res.writeHead(302, { location: '/img/target.jpg' });
      return res.end();
    }
    if (name === 'flaky' && requests.get(path) === 1) return send('text/plain', 'try again', 503);
    if (name.startsWith('switch'))
      return sourceDown
        ? send('text/plain', 'down', 503)
        : send('image/jpeg', images[`good${Number(name.slice(6)) % 3}`]);
    if (images[name]) return send(name === 'wide' || name === 'png' ? 'image/png' : 'image/jpeg', images[name]);
    send('text/plain', 'unknown', 404);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after.always(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

// 12 rows, 4 per shard: slices 0, 1, 2; keys = 5-digit shard + 1 digit (ceil(log10 4)).
// Good: good0, good1, redirect, flaky, png, good2 (6).
const ROWS = [
  'good0',
  'slow',
  'fail',
  'good1',
  'missing',
  'html',
  'redirect',
  'corrupt',
  'flaky',
  'tiny',
  'png',
  'good2',
];
const WIDE_ROWS = [...ROWS, 'wide'];
async function writeTable(dir: string, names: string[]): Promise<string> {
  const path = join(dir, 'table.jsonl');
  await writeFile(
    path,
    names
      .map((n, i) =>
        JSON.stringify({
          pos: 1000 + i,
          photoId: String(500 + i),
          photoHash: `h${i}`,
          caption: `a picture named ${n}`,
          downloadUrl: `${base}/img/${n}.jpg`,
          licenseName: 'CC BY',
        }),
      )
      .join('\n') + '\n',
  );
  return path;
}
const options = (input: string, out: string, extra: Partial<ShardsOptions> = {}): ShardsOptions => ({
  input,
  out,
  rowsPerShard: 4,
  quiet: true,
  fetch: { concurrency: 6, timeoutMs: 1500, retries: 1, backoffMs: 5 },
  validate: { minSide: 16, maxAspect: 3 },
  ...extra,
});

async function readTar(path: string): Promise<Array<{ name: string; data: Buffer }>> {
  const extract = tar.extract();
  const out: Array<{ name: string; data: Buffer }> = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.push({ name: entry.header.name, data: Buffer.concat(chunks) });
    }
  })();
  Readable.from([await readFile(path)]).pipe(extract);
  await done;
  return out;
}

async function shardContents(out: string) {
  const tars = (await readdir(out)).filter((n) => n.endsWith('.tar')).sort();
  const all: Record<string, string[]> = {};
  for (const t of tars) all[t] = (await readTar(join(out, t))).map((m) => m.name);
  return all;
}

test.serial(
  'download: shards hold the good images only; stats and sizes account for every row; rerun skips',
  async (t) => {
    const dir = await tmp();
    const input = await writeTable(dir, ROWS);
    const out = join(dir, 'shards');
    const ctx = quietCtx();
    const result = await runShardsPart(options(input, out), undefined, ctx);
    t.is(result.slices, 3);
    t.is(result.samples, 6);
    t.deepEqual(await shardContents(out), {
      '00000.tar': ['000000.jpg', '000000.json', '000000.txt', '000003.jpg', '000003.json', '000003.txt'],
      '00001.tar': ['000012.jpg', '000012.json', '000012.txt'],
      '00002.tar': [
        '000020.jpg',
        '000020.json',
        '000020.txt',
        '000022.jpg',
        '000022.json',
        '000022.txt',
        '000023.jpg',
        '000023.json',
        '000023.txt',
      ],
    });
    const members = await readTar(join(out, '00002.tar'));
    const meta = JSON.parse(members.find((m) => m.name === '000020.json')!.data.toString());
    t.is(meta.photoId, '508');
    t.is(meta.attempts, 2); // flaky: 503 then the image
    t.is(meta.width, 48);
    t.regex(meta.sha256, /^[0-9a-f]{64}$/);
    t.regex(meta.dhash, /^[0-9a-f]{16}$/);
    t.is(members.find((m) => m.name === '000020.txt')!.data.toString(), 'a picture named flaky');
    const png = members.find((m) => m.name === '000022.jpg')!.data;
    t.is((await sharp(png).metadata()).format, 'jpeg'); // PNG re-encoded to JPEG
    const redirected = (await readTar(join(out, '00001.tar'))).find((m) => m.name === '000012.jpg')!.data;
    t.deepEqual(redirected, images.target);
    // The per-shard parquet lists every row, failures included.
    const pq = await parquetReadObjects({ file: await asyncBufferFromFile(join(out, '00000.parquet')) });
    t.deepEqual(
      pq.map((r) => [r.key, r.status]),
      [
        ['000000', 'success'],
        ['000001', 'failed_to_download'],
        ['000002', 'failed_to_download'],
        ['000003', 'success'],
      ],
    );
    t.is(pq[0].width, 64);
    t.is(pq[1].error_message, 'timed out after 1500 ms (after 2 attempts)');
    const s0 = JSON.parse(await readFile(join(out, '00000_stats.json'), 'utf8'));
    t.like(s0, { count: 4, successes: 2, failed_to_download: 2, failed_to_validate: 0 });
    // Failures say what and why, status text and all; a timeout and a 500 may go away: the slice is not final.
    t.is(s0.status_dict['failed_to_download: timed out after 1500 ms'], 1);
    t.is(s0.status_dict['failed_to_download: HTTP 500 Internal Server Error'], 1);
    t.like(s0, {
      final: false,
      retryable_failures: 2,
      incomplete_reason: '2 of 4 rows failed in a way a rerun may fix',
    });
    const s1 = JSON.parse(await readFile(join(out, '00001_stats.json'), 'utf8'));
    t.like(s1, { count: 4, successes: 1, failed_to_download: 2, failed_to_validate: 1 });
    // A 404 and a non-image answer are definite: the slice is final.
    t.is(s1.status_dict['failed_to_download: HTTP 404 Not Found'], 1);
    t.is(s1.status_dict['failed_to_download: not an image (Content-Type text/html)'], 1);
    t.is(s1.status_dict['failed_to_validate: cannot decode'], 1);
    t.like(s1, { final: true, retryable_failures: 0 });
    const s2 = JSON.parse(await readFile(join(out, '00002_stats.json'), 'utf8'));
    t.like(s2, { count: 4, successes: 3, failed_to_validate: 1, final: true });
    t.is(s2.status_dict['failed_to_validate: min side < 16'], 1);
    t.is(ctx.counters.get('yfcc.validate.drop.too-small'), 1);
    t.is(ctx.counters.get('yfcc.validate.drop.undecodable'), 1);
    t.deepEqual(result.incomplete, [0]);
    const summary = await finalizeShards(out);
    t.like(summary, { slices: 3, shards: 2, count: 12, successes: 6, failed_to_download: 4, failed_to_validate: 2 });
    t.deepEqual(summary.incomplete, [{ shard: '00000', reason: '2 of 4 rows failed in a way a rerun may fix' }]);
    // sizes.json lists the final shards only.
    t.deepEqual(JSON.parse(await readFile(join(out, 'sizes.json'), 'utf8')), {
      '00001.tar': 1,
      '00002.tar': 3,
    });

    // Rerun: the final slices are skipped (nothing of theirs is requested again); the incomplete one is redone, its
    // earlier successes taken from its shard (byte-identical samples), only its failures requested again.
    const count = (name: string) => requests.get(`/img/${name}.jpg`) ?? 0;
    const before = Object.fromEntries(ROWS.map((n) => [n, count(n)]));
    const tar0 = await readFile(join(out, '00000.tar'));
    const again = quietCtx();
    const r2 = await runShardsPart(options(input, out), undefined, again);
    t.is(r2.slices, 1);
    t.is(again.counters.get('yfcc.resume.drop.finished-slice'), 8);
    t.is(again.counters.get('yfcc.resume.note.incomplete-slice-redone'), 1);
    t.is(again.counters.get('yfcc.fetch.note.reused-from-earlier-shard'), 2);
    for (const n of ROWS.filter((n) => n !== 'slow' && n !== 'fail')) t.is(count(n), before[n], n);
    for (const n of ['slow', 'fail']) t.true(count(n) > before[n], n);
    t.deepEqual(await readFile(join(out, '00000.tar')), tar0);

    // Losing one shard's stats redoes that slice (and slice 0 again: its timeout is still there).
    await rm(join(out, '00001_stats.json'));
    const third = quietCtx();
    const r3 = await runShardsPart(options(input, out), undefined, third);
    t.deepEqual(r3.incomplete, [0]);
    t.is(r3.slices, 2);
    t.is(third.counters.get('yfcc.fetch.in'), 8);
    t.deepEqual((await shardContents(out))['00001.tar'], ['000012.jpg', '000012.json', '000012.txt']);
  },
);

test.serial('two parts run concurrently write exactly the shards of one run', async (t) => {
  const dir = await tmp();
  const input = await writeTable(
    dir,
    WIDE_ROWS.map((n) => (n === 'slow' || n === 'flaky' ? 'good1' : n)),
  );
  const one = join(dir, 'one'),
    two = join(dir, 'two');
  // No slow rows here, so a generous timeout costs nothing and keeps a loaded machine from failing one run only.
  const patient = { fetch: { concurrency: 6, timeoutMs: 10_000, retries: 1, backoffMs: 5 } };
  await runShardsPart(options(input, one, patient), undefined, quietCtx());
  await Promise.all(
    [0, 1].map((index) => runShardsPart(options(input, two, patient), { index, count: 2 }, quietCtx())),
  );
  const a = await shardContents(one),
    b = await shardContents(two);
  t.deepEqual(b, a);
  // 13 rows -> slices 0..3; slice 3 holds only the too-wide image, so it has stats but no tar.
  t.is(Object.keys(a).length, 3);
  t.like(JSON.parse(await readFile(join(two, '00003_stats.json'), 'utf8')), {
    count: 1,
    successes: 0,
    failed_to_validate: 1,
  });
  for (const name of Object.keys(a))
    t.deepEqual(await readFile(join(two, name)), await readFile(join(one, name)), name);
  t.deepEqual(await finalizeShards(two), await finalizeShards(one));
});

test.serial('local multimedia-commons layout from the dalle-mini parquet fixture; near-dup removal', async (t) => {
  const dir = await tmp();
  const root = join(dir, 'mmc');
  const hashes = ['0a1b2c3d4e5f60718293a4b5c6d7e8f9', '1a1b2c3d4e5f60718293a4b5c6d7e8f9']; // the third is absent
  for (const [i, h] of hashes.entries()) {
    await mkdir(join(root, 'data/images', h.slice(0, 3), h.slice(3, 6)), { recursive: true });
    await writeFile(
      join(root, 'data/images', h.slice(0, 3), h.slice(3, 6), `${h}.jpg`),
      await jpeg(64, 64, 10 + i * 0),
    );
  }
  const out = join(dir, 'shards');
  const ctx = quietCtx();
  const result = await runShardsPart(
    {
      input: fixture('dalle-mini.parquet'),
      out,
      rowsPerShard: 10,
      quiet: true,
      nearDup: 4,
      fields: parseFieldMap('dalle-mini'),
      fetch: { localTemplate: join(root, 'data/images/{hash:0:3}/{hash:3:6}/{hash}.jpg') },
    },
    undefined,
    ctx,
  );
  t.is(result.samples, 1); // two identical pictures: the second is a near duplicate; the third is missing
  const stats = JSON.parse(await readFile(join(out, '00000_stats.json'), 'utf8'));
  t.like(stats, { count: 3, successes: 1, failed_to_download: 1, near_duplicates: 1 });
  t.is(stats.status_dict['failed_to_download: not in the local copy'], 1);
  const members = await readTar(join(out, '00000.tar'));
  const meta = JSON.parse(members.find((m) => m.name.endsWith('.json'))!.data.toString());
  t.is(meta.photoid, 10001);
  t.is(meta.caption, 'Sailing boats in the harbour');
});

test.serial('DeCLIP V2 lines: bad JSON counted, rows mapped', async (t) => {
  const dir = await tmp();
  const out = join(dir, 'shards');
  const lines = (await readFile(fixture('declip-v2.jsonl'), 'utf8'))
    .replaceAll('http://127.0.0.1/img/good-0.jpg', `${base}/img/good0.jpg`)
    .replaceAll('http://127.0.0.1/img/good-1.jpg', `${base}/img/good2.jpg`);
  await writeFile(join(dir, 'declip.jsonl'), lines);
  const ctx = quietCtx();
  const r = await runShardsPart(
    {
      input: join(dir, 'declip.jsonl'),
      out,
      rowsPerShard: 100,
      quiet: true,
      fields: parseFieldMap('declip'),
      fetch: { concurrency: 2 },
    },
    undefined,
    ctx,
  );
  t.is(r.samples, 2);
  t.is(ctx.counters.get('yfcc.read-jsonl.drop.bad-json'), 1);
  const names = (await readTar(join(out, '00000.tar'))).map((m) => m.name);
  t.deepEqual(names, ['0000000.jpg', '0000000.json', '0000000.txt', '0000002.jpg', '0000002.json', '0000002.txt']); // 100/shard -> 2 key digits
});

test.serial('end to end: filter the fixture metadata, then shard it from a local image copy', async (t) => {
  const { runFilterPart } = await import('../../run/yfcc/filter-part.ts');
  const { mergeParts } = await import('../../run/yfcc/merge-parts.ts');
  const dir = await tmp();
  await runFilterPart({ metadata: fixture('metadata.tsv'), out: dir, quiet: true }, { index: 0, count: 1 }, quietCtx());
  await mergeParts({ out: dir, quiet: true, dedupCapacity: 1000 }, 1, quietCtx());
  const table = (await readFile(join(dir, 'yfcc15m.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(table.length, 17);
  const root = join(dir, 'mmc');
  for (const [i, row] of table.entries()) {
    if (i % 4 !== 0) continue; // rows 0, 4, 8, 12, 16 have a local image
    const h: string = row.photoHash;
    await mkdir(join(root, h.slice(0, 3), h.slice(3, 6)), { recursive: true });
    await writeFile(join(root, h.slice(0, 3), h.slice(3, 6), `${h}.jpg`), await jpeg(48, 32, 20 + i));
  }
  const out = join(dir, 'shards');
  const r = await runShardsPart(
    {
      input: join(dir, 'yfcc15m.jsonl'),
      out,
      rowsPerShard: 5,
      quiet: true,
      fetch: { localTemplate: join(root, '{hash:0:3}/{hash:3:6}/{hash}.jpg') },
    },
    undefined,
    quietCtx(),
  );
  t.deepEqual([r.slices, r.samples], [4, 5]);
  const members = await readTar(join(out, '00000.tar'));
  t.deepEqual(
    members.map((m) => m.name),
    ['000000.jpg', '000000.json', '000000.txt', '000004.jpg', '000004.json', '000004.txt'],
  );
  const meta = JSON.parse(members[1].data.toString());
  t.is(meta.photoId, table[0].photoId);
  t.is(meta.cleanVersion, 'yfcc-clean-v2');
  t.deepEqual(meta.captions, table[0].captions);
  t.is(members[2].data.toString(), table[0].caption);
  await finalizeShards(out);
  t.deepEqual(JSON.parse(await readFile(join(out, 'sizes.json'), 'utf8')), {
    '00000.tar': 2,
    '00001.tar': 1,
    '00002.tar': 1,
    '00003.tar': 1,
  });
});

test.serial(
  'a slice whose downloads all or partly failed is not final; a rerun with a working source completes it',
  async (t) => {
    const dir = await tmp();
    // Slice 0: four rows of a source that is down (503); slice 1: a good image and one from the same source.
    const input = await writeTable(dir, ['switch0', 'switch1', 'switch2', 'switch3', 'good0', 'switch4']);
    const out = join(dir, 'shards');
    sourceDown = true;
    const first = await runShardsPart(options(input, out), undefined, quietCtx());
    t.deepEqual(first.incomplete, [0, 1]);
    const s0 = JSON.parse(await readFile(join(out, '00000_stats.json'), 'utf8'));
    t.like(s0, { count: 4, successes: 0, failed_to_download: 4, retryable_failures: 4, final: false });
    t.deepEqual(s0.status_dict, { 'failed_to_download: HTTP 503 Service Unavailable': 4 });
    t.is(s0.incomplete_reason, '4 of 4 rows failed in a way a rerun may fix');
    const pq = await parquetReadObjects({ file: await asyncBufferFromFile(join(out, '00000.parquet')) });
    t.is(pq[0].error_message, 'HTTP 503 Service Unavailable (after 2 attempts)');
    t.like(JSON.parse(await readFile(join(out, '00001_stats.json'), 'utf8')), { successes: 1, final: false });
    const summary = await finalizeShards(out);
    t.deepEqual(
      summary.incomplete.map((i) => i.shard),
      ['00000', '00001'],
    );
    t.deepEqual(JSON.parse(await readFile(join(out, 'sizes.json'), 'utf8')), {});

    // The command line says so with exit code 4 (work done, something to retry).
    const script = fileURLToPath(new URL('../../pipelines/yfcc15m-shards.ts', import.meta.url));
    const cli = (await promisify(execFile)(process.execPath, [
      script,
      '--input',
      input,
      '--out',
      out,
      '--rows-per-shard',
      '4',
      '--retries',
      '0',
      '--min-side',
      '16',
      '--max-aspect',
      '3',
      '--quiet',
    ]).catch((e) => e)) as { code?: number; stdout: string; stderr: string };
    t.is(cli.code, 4);
    t.regex(cli.stdout, /incomplete slices 2/);
    t.regex(cli.stderr, /2 slice\(s\) not complete .* rerun to retry them/);

    // The source is back: a rerun completes both slices; the row that succeeded before is not downloaded again.
    sourceDown = false;
    const good0 = requests.get('/img/good0.jpg');
    const second = await runShardsPart(options(input, out), undefined, quietCtx());
    t.is(requests.get('/img/good0.jpg'), good0);
    t.deepEqual([second.slices, second.incomplete], [2, []]);
    t.like(JSON.parse(await readFile(join(out, '00000_stats.json'), 'utf8')), {
      successes: 4,
      final: true,
      retryable_failures: 0,
      status_dict: { success: 4 },
    });
    const done = await finalizeShards(out);
    t.deepEqual([done.incomplete, done.successes], [[], 6]);
    t.deepEqual(JSON.parse(await readFile(join(out, 'sizes.json'), 'utf8')), { '00000.tar': 4, '00001.tar': 2 });
    // Now final: a third run fetches nothing.
    const third = quietCtx();
    t.is((await runShardsPart(options(input, out), undefined, third)).slices, 0);
    t.is(third.counters.get('yfcc.fetch.in'), 0);
  },
);

test.serial(
  'a source that refuses connections, or answers 404 for every row, leaves the slice not final',
  async (t) => {
    const dir = await tmp();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const input = join(dir, 'table.jsonl');
    const rows = [0, 1].map((i) => ({
      pos: i,
      photoId: `${i}`,
      photoHash: `h${i}`,
      caption: 'c',
      downloadUrl: `http://127.0.0.1:${port}/x${i}.jpg`,
    }));
    rows.push(
      ...[2, 3].map((i) => ({
        pos: i,
        photoId: `${i}`,
        photoHash: `h${i}`,
        caption: 'c',
        downloadUrl: `${base}/img/missing.jpg`,
      })),
    );
    await writeFile(input, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const out = join(dir, 'shards');
    const r = await runShardsPart(options(input, out, { rowsPerShard: 2 }), undefined, quietCtx());
    t.deepEqual(r.incomplete, [0, 1]);
    const s0 = JSON.parse(await readFile(join(out, '00000_stats.json'), 'utf8'));
    // The reason is kept whole: address and port are not elided.
    t.deepEqual(s0.status_dict, { [`failed_to_download: connect ECONNREFUSED 127.0.0.1:${port}`]: 2 });
    t.like(s0, { final: false, retryable_failures: 2 });
    const s1 = JSON.parse(await readFile(join(out, '00001_stats.json'), 'utf8'));
    t.deepEqual(s1.status_dict, { 'failed_to_download: HTTP 404 Not Found': 2 });
    t.like(s1, { final: false, retryable_failures: 0, incomplete_reason: 'every download of its 2 rows failed' });
  },
);

test.serial('a finished slice is reused only with the same rows and settings; otherwise refused', async (t) => {
  const dir = await tmp();
  const input = await writeTable(dir, ['good0', 'good1', 'good2', 'png', 'missing', 'good1']);
  const out = join(dir, 'shards');
  const first = await runShardsPart(options(input, out), undefined, quietCtx());
  t.deepEqual([first.slices, first.incomplete], [2, []]);
  // Same rows and settings (download tuning may change): nothing to do.
  const same = await runShardsPart(
    options(input, out, { fetch: { concurrency: 2, timeoutMs: 5000, retries: 3 } }),
    undefined,
    quietCtx(),
  );
  t.is(same.slices, 0);
  // Other settings are refused before any work.
  await t.throwsAsync(runShardsPart(options(input, out, { validate: { minSide: 40 } }), undefined, quietCtx()), {
    message:
      /00000_stats\.json was made with other settings \(minSide: 16 -> 40\); refusing to mix shards: use another --out, or --force/,
  });
  // Another table (a row's caption changed) is refused when its slice comes by.
  const table = (await readFile(input, 'utf8')).replace('a picture named good1', 'a picture named something else');
  await writeFile(input, table);
  await t.throwsAsync(runShardsPart(options(input, out), undefined, quietCtx()), {
    message: /00000_stats\.json was made from another input \(rows .*table\.jsonl: (size|same size)/,
  });
  // --force redoes the slices from the new table.
  const forced = await runShardsPart(options(input, out, { force: true }), undefined, quietCtx());
  t.is(forced.slices, 2);
  const members = await readTar(join(out, '00000.tar'));
  t.is(members.find((m) => m.name === '000001.txt')!.data.toString(), 'a picture named something else');
});

test.serial('kill -9 of the coordinator: workers stop and remove their unfinished shard files', async (t) => {
  const dir = await tmp();
  // Each slice has good images (written to its unfinished tar) before a download that never answers.
  const input = await writeTable(dir, ['good0', 'good1', 'good2', 'stall0', 'good1', 'good0', 'good2', 'stall1']);
  const out = join(dir, 'shards');
  const script = fileURLToPath(new URL('../../pipelines/yfcc15m-shards.ts', import.meta.url));
  const args = ['--input', input, '--out', out, '--rows-per-shard', '4', '--timeout-ms', '600000', '--quiet'];
  const coordinator = spawn(process.execPath, [script, ...args, '--parts', '2', '--parallel', '2'], {
    stdio: 'ignore',
  });
  const started: number[] = [];
  const unfinished = () => (existsSync(out) ? readdirSync(out).filter((n) => /\.partial$|\.tmp-\d+$/.test(n)) : []);
  try {
    const workers = await waitFor('two workers writing their shards', 60_000, () => {
      const pids = descendants(coordinator.pid!);
      return pids.length === 2 && unfinished().length === 2 && pids;
    });
    started.push(...workers);
    process.kill(coordinator.pid!, 'SIGKILL');
    await waitFor('both workers to end', 30_000, () => workers.every((p) => !alive(p)));
    t.deepEqual(unfinished(), []);
    t.false(readdirSync(out).some((n) => n.endsWith('_stats.json')));
  } finally {
    killLeftovers([...descendants(coordinator.pid!), coordinator.pid!, ...started]);
  }
});
