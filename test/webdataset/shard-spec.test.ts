// Pure webdataset logic: shard specs, member names, grouping, shard order/split, shard names.
import test from 'ava';
import { expandShardSpec, braceExpand, ShardSpecError } from '../../src/webdataset/shard-spec.ts';
import { splitMemberName, isMetaMember } from '../../src/webdataset/member-name.ts';
import { SampleGrouper } from '../../src/webdataset/group-samples.ts';
import { passShardOrder, splitShards } from '../../src/webdataset/shard-order.ts';
import { formatShardName } from '../../src/webdataset/shard-pattern.ts';
import { sampleMembers } from '../../src/webdataset/sample-members.ts';
import { detectCompression } from '../../src/webdataset/compression.ts';

test('zero-padded ranges keep their width', (t) => {
  const urls = expandShardSpec('yfcc-{000000..001538}.tar');
  t.is(urls.length, 1539);
  t.is(urls[0], 'yfcc-000000.tar');
  t.is(urls[1538], 'yfcc-001538.tar');
  t.deepEqual(braceExpand('{08..11}'), ['08', '09', '10', '11']);
  t.deepEqual(braceExpand('{8..11}'), ['8', '9', '10', '11']);
});

test('steps, descending and character ranges', (t) => {
  t.deepEqual(braceExpand('x{1..9..3}'), ['x1', 'x4', 'x7']);
  t.deepEqual(braceExpand('{3..1}'), ['3', '2', '1']);
  t.deepEqual(braceExpand('{a..c}{1,2}'), ['a1', 'a2', 'b1', 'b2', 'c1', 'c2']);
});

test('comma lists, nesting and the open_clip multi-dataset example', (t) => {
  t.deepEqual(braceExpand('a{b,c{d,e}}f'), ['abf', 'acdf', 'acef']);
  t.deepEqual(expandShardSpec('{laion/{000..002}.tar,multi/{00..01}.tar}'), [
    'laion/000.tar',
    'laion/001.tar',
    'laion/002.tar',
    'multi/00.tar',
    'multi/01.tar',
  ]);
});

test(':: joins lists, env vars expand, literal and escaped braces stay', (t) => {
  t.deepEqual(expandShardSpec('a-{0..1}.tar::b-{0..1}.tar'), ['a-0.tar', 'a-1.tar', 'b-0.tar', 'b-1.tar']);
  t.deepEqual(expandShardSpec('$ROOT/x-{1,2}.tar::${ROOT}/y.tar::$UNSET/z', { ROOT: '/data' }), [
    '/data/x-1.tar',
    '/data/x-2.tar',
    '/data/y.tar',
    '$UNSET/z',
  ]);
  t.deepEqual(braceExpand('{x}'), ['{x}']);
  t.deepEqual(braceExpand('x{}y'), ['x{}y']);
  t.deepEqual(braceExpand('a\\{b,c\\}'), ['a{b,c}']);
  t.deepEqual(expandShardSpec(['a{1,2}', 'b']), ['a1', 'a2', 'b']);
});

test('unbalanced braces are an error', (t) => {
  for (const bad of ['a{b', 'a}b', 'a{b,c', 'x{{1,2}']) {
    const error = t.throws(() => braceExpand(bad), { instanceOf: ShardSpecError });
    t.regex(error!.message, /unbalanced braces/);
  }
});

test('member names split at the first dot of the basename, extension lowercased', (t) => {
  t.deepEqual(splitMemberName('dir.v1/abc.seg.PNG'), { key: 'dir.v1/abc', extension: 'seg.png' });
  t.deepEqual(splitMemberName('a.b.jpg'), { key: 'a', extension: 'b.jpg' });
  t.deepEqual(splitMemberName('compressed/0001.txt'), { key: 'compressed/0001', extension: 'txt' });
  t.is(splitMemberName('README'), undefined);
  t.is(splitMemberName('.hidden'), undefined);
  t.deepEqual(splitMemberName('dir/.hidden'), { key: 'dir/', extension: 'hidden' }); // same as webdataset's regex
  t.true(isMetaMember('__meta__'));
  t.true(isMetaMember('__index__/x.json'));
  t.false(isMetaMember('dir/__x__'));
  t.false(isMetaMember('x__.txt'));
});

test('grouping: adjacent members of a key form a sample; a repeated extension starts a new one', (t) => {
  const g = new SampleGrouper('u.tar');
  const b = (s: string) => new TextEncoder().encode(s);
  const out = [
    g.add('a', 'jpg', b('1')),
    g.add('a', 'txt', b('2')),
    g.add('b', 'jpg', b('3')),
    g.add('b', 'jpg', b('4')), // duplicate extension -> new sample with the same key
    g.add('c', 'txt', b('5')),
    g.flush(),
  ].filter((s) => s !== undefined);
  t.deepEqual(
    out.map((s) => [
      s.__key__,
      Object.keys(s)
        .filter((k) => !k.startsWith('__'))
        .join('+'),
    ]),
    [
      ['a', 'jpg+txt'],
      ['b', 'jpg'],
      ['b', 'jpg'],
      ['c', 'txt'],
    ],
  );
  t.is(out[0].__url__, 'u.tar');
  t.is(g.duplicateSplits, 1);
});

test('grouping drops a sample with an unreadable member', (t) => {
  const g = new SampleGrouper('u.tar');
  const e = new Uint8Array(0);
  const out = [g.add('a', 'jpg', e), g.add('a', 'txt', e, true), g.add('b', 'jpg', e), g.flush()].filter(
    (s) => s !== undefined,
  );
  t.deepEqual(
    out.map((s) => s.__key__),
    ['b'],
  );
  t.is(g.droppedSamples, 1);
});

test('shard order is a seeded permutation per epoch and pass', (t) => {
  const shards = expandShardSpec('s-{000..099}.tar');
  const a = passShardOrder(shards, 7, 0, 0);
  t.deepEqual(a, passShardOrder(shards, 7, 0, 0));
  t.notDeepEqual(a, passShardOrder(shards, 7, 1, 0));
  t.notDeepEqual(a, passShardOrder(shards, 8, 0, 0));
  t.notDeepEqual(a, passShardOrder(shards, 7, 0, 1));
  t.deepEqual([...a].sort(), shards);
  t.deepEqual(passShardOrder(shards, undefined, 3, 0), shards);
});

test('rank/worker splits are disjoint and cover all shards', (t) => {
  const shards = expandShardSpec('s-{000..036}.tar');
  for (const [worldSize, numWorkers] of [
    [1, 1],
    [2, 1],
    [3, 2],
    [4, 3],
    [37, 1],
  ]) {
    const seen: string[] = [];
    for (let rank = 0; rank < worldSize; rank++) {
      for (let workerId = 0; workerId < numWorkers; workerId++) {
        const mine = splitShards(shards, { rank, worldSize, workerId, numWorkers });
        t.true(mine.length > 0);
        seen.push(...mine);
      }
    }
    t.is(seen.length, shards.length, `${worldSize}x${numWorkers}`);
    t.deepEqual([...seen].sort(), shards);
  }
  t.deepEqual(splitShards(['a', 'b', 'c', 'd', 'e'], { rank: 1, worldSize: 2 }), ['b', 'd']);
});

test('a split that leaves a rank or worker without shards is an error', (t) => {
  const shards = ['a', 'b', 'c'];
  t.throws(() => splitShards(shards, { rank: 0, worldSize: 4 }), {
    message: /cannot split 3 shard\(s\) across 4 rank\(s\)/,
  });
  t.throws(() => splitShards(shards, { rank: 0, worldSize: 2, numWorkers: 2 }), {
    message: /some rank\/worker would get no shard/,
  });
  t.throws(() => splitShards(shards, { rank: 2, worldSize: 2 }), { message: /rank must be an integer in \[0, 2\)/ });
});

test('shard names from printf patterns', (t) => {
  t.is(formatShardName('out/train-%06d.tar', 12), 'out/train-000012.tar');
  t.is(formatShardName('%d.tar', 3), '3.tar');
  t.throws(() => formatShardName('out.tar', 0), { message: /exactly one %d/ });
});

test('writer members: sorted extensions, metadata skipped, strings encoded, bad keys rejected', (t) => {
  const members = sampleMembers({ __key__: 'k1', __url__: 'x', txt: 'hi', jpg: new Uint8Array([1]), cls: '3' });
  t.deepEqual(
    members.map((m) => m.name),
    ['k1.cls', 'k1.jpg', 'k1.txt'],
  );
  t.deepEqual([...members[2].data], [104, 105]);
  t.throws(() => sampleMembers({ __key__: 'a.b', __url__: '', txt: 'x' }), { message: /contain no '\.'/ });
  t.throws(() => sampleMembers({ __key__: 'a', __url__: '', n: 3 as unknown as string }), {
    message: /field "n" is number/,
  });
});

test('compression is detected from magic bytes', (t) => {
  t.is(detectCompression(new Uint8Array([0x1f, 0x8b, 8])), 'gzip');
  t.is(detectCompression(new TextEncoder().encode('BZh91AY')), 'bzip2');
  t.is(detectCompression(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0])), 'xz');
  t.is(detectCompression(new TextEncoder().encode('ustar')), 'none');
});
