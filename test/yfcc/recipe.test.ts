// Recipes of finished parts and slices: inputs compared by size and sampled content (not path or time), settings
// leaf by leaf, and the first difference described in words.
import test from 'ava';
import { recipeDifference, sameInput, type Recipe } from '../../src/yfcc/recipe.ts';

const recipe = (over: Partial<Recipe> = {}, settings: Record<string, unknown> = {}): Recipe => ({
  job: 'yfcc15m-filter',
  inputs: { metadata: { path: '/a/meta.tsv', size: 100, mtime: 't0', sample: 'abc' }, subset: null },
  settings: { cleanVersion: 'v2', caption: 'keep-both', nested: { x: 1 }, ...settings },
  ...over,
});

test('identical recipes, or the same file moved or touched, match', (t) => {
  t.is(recipeDifference(recipe(), recipe()), undefined);
  const moved = recipe({
    inputs: { metadata: { path: '/b/copy.tsv', size: 100, mtime: 't1', sample: 'abc' }, subset: null },
  });
  t.is(recipeDifference(recipe(), moved), undefined);
  t.true(sameInput({ path: 'pipe:x', command: 'x' }, { path: 'pipe:x', command: 'x' }));
  t.false(sameInput({ path: 'pipe:x', command: 'x' }, { path: 'x', size: 1, sample: 's' }));
});

test('differences are described: input size or content, an added input, a setting, the job, no recipe', (t) => {
  const input = (size: number, sample: string) => ({
    inputs: { metadata: { path: '/a/meta.tsv', size, mtime: 't1', sample }, subset: null },
  });
  t.is(
    recipeDifference(recipe(), recipe(input(200, 'abc'))),
    'from another input (metadata /a/meta.tsv: size 100 -> 200 bytes)',
  );
  t.is(
    recipeDifference(recipe(), recipe(input(100, 'def'))),
    'from another input (metadata /a/meta.tsv: same size, other content (modified t0 -> t1))',
  );
  const withSubset = recipe({
    inputs: { ...recipe().inputs, subset: { path: '/s.tsv', size: 1, sample: 's' } },
  });
  t.is(recipeDifference(recipe(), withSubset), 'from another input (subset: none -> /s.tsv)');
  t.is(
    recipeDifference(recipe(), recipe({}, { caption: 'title' })),
    'with other settings (caption: "keep-both" -> "title")',
  );
  t.is(recipeDifference(recipe(), recipe({}, { nested: { x: 2 } })), 'with other settings (nested.x: 1 -> 2)');
  t.is(recipeDifference(recipe(), recipe({}, { extra: true })), 'with other settings (extra: unset -> true)');
  t.is(recipeDifference(recipe(), recipe({ job: 'other' })), 'by yfcc15m-filter, not other');
  t.is(recipeDifference(undefined, recipe()), 'by an earlier version that recorded no recipe');
});
