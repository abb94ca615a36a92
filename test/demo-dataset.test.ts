// The committed demo dataset (fixtures/demo): counts, members, labels, zero-shot classes, caption
// variety, and that fixtures/make-demo.ts reproduces the committed bytes from its seed.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { readShards } from '../stages/read-shards.ts';
import { textMember, type WdsSample } from '../src/webdataset/sample.ts';
import { DEMO_DIR, DEMO_DEFAULTS, renderDemoSample } from '../fixtures/make-demo.ts';
import { DEMO_COLORS, DEMO_SHAPES } from '../fixtures/demo-scenes.ts';

async function readAll(spec: string): Promise<WdsSample[]> {
  const out: WdsSample[] = [];
  for await (const s of readShards({ shards: join(DEMO_DIR, spec), strict: true })) out.push(s);
  return out;
}

let train: WdsSample[] = [];
let heldout: WdsSample[] = [];
test.before(async () => {
  train = await readAll('train-{000000..000003}.tar');
  heldout = await readAll('heldout-000000.tar');
});

test('3000 train samples (jpg+txt+json) in 4 shards and 500 held-out samples (jpg+txt+cls+json)', (t) => {
  t.is(train.length, 3000);
  t.is(heldout.length, 500);
  t.is(new Set(train.map((s) => s.__key__)).size, 3000);
  for (const s of train) t.deepEqual(Object.keys(s).filter((k) => !k.startsWith('__')).sort(), ['jpg', 'json', 'txt']);
  for (const s of heldout) t.deepEqual(Object.keys(s).filter((k) => !k.startsWith('__')).sort(), ['cls', 'jpg', 'json', 'txt']);
});

test('held-out cls is the colour index; labels are plausible and every class is present', (t) => {
  const perColor = new Map<string, number>();
  const perShape = new Map<string, number>();
  for (const s of heldout) {
    const meta = JSON.parse(textMember(s, 'json')!);
    t.is(Number(textMember(s, 'cls')), DEMO_COLORS.indexOf(meta.color));
    t.true(DEMO_SHAPES.includes(meta.shape));
    perColor.set(meta.color, (perColor.get(meta.color) ?? 0) + 1);
    perShape.set(meta.shape, (perShape.get(meta.shape) ?? 0) + 1);
  }
  t.is(perColor.size, 8);
  t.is(perShape.size, 6);
  for (const n of [...perColor.values(), ...perShape.values()]) t.true(n >= 30);
});

test('captions are varied English and name the main colour', (t) => {
  const captions = train.map((s) => textMember(s, 'txt')!);
  t.true(new Set(captions).size > 2000, `${new Set(captions).size} distinct captions`);
  train.forEach((s, i) => {
    const meta = JSON.parse(textMember(s, 'json')!);
    if (!captions[i].includes(meta.color)) t.fail(`caption ${JSON.stringify(captions[i])} does not name ${meta.color}`);
  });
  const words = new Set(captions.flatMap((c) => c.split(/[\s,]+/)));
  t.true(words.size > 60, `${words.size} distinct words`);
  t.true(captions.every((c) => /^[a-z][a-z ,\-]+$/.test(c)));
});

test('images are 96x96 JPEGs', async (t) => {
  for (const s of [train[0], train[1234], heldout[499]]) {
    const meta = await sharp(s.jpg as Uint8Array).metadata();
    t.like(meta, { format: 'jpeg', width: 96, height: 96, channels: 3 });
  }
});

test('zero-shot.json has demo-color (8) and demo-shape (6) with prompt templates', (t) => {
  const zs = JSON.parse(readFileSync(join(DEMO_DIR, 'zero-shot.json'), 'utf8'));
  t.deepEqual(zs['demo-color'].classes, [...DEMO_COLORS]);
  t.deepEqual(zs['demo-shape'].classes, [...DEMO_SHAPES]);
  for (const task of Object.values(zs) as Array<{ templates: string[] }>) {
    t.true(task.templates.length >= 4);
    for (const tpl of task.templates) t.true(tpl.includes('{}'));
  }
});

test('make-demo reproduces the committed samples from the seed', async (t) => {
  for (const [split, samples, index] of [['train', train, 0], ['train', train, 2999], ['heldout', heldout, 17]] as const) {
    const fresh = await renderDemoSample(DEMO_DEFAULTS.seed, split, index);
    const stored = samples[index];
    t.is(stored.__key__, fresh.__key__);
    t.deepEqual(textMember(stored, 'txt'), fresh.txt);
    t.deepEqual(textMember(stored, 'json'), fresh.json);
    t.deepEqual(stored.jpg, fresh.jpg);
  }
});
