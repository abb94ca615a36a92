// Grid declarations: expansion into cells (order, keys, axis values applied without touching each other),
// validation as one line naming the field, the budget rule, slices and filters, command-line parsing.
import test from 'ava';
import { expandGrid, selectCells, parseSlice, cellKey, GridError } from '../../run/benchmark/expand-grid.ts';
import { parseBenchmarkArgs } from '../../run/benchmark/run-benchmark.ts';
import { cellIdentity, firstDifference } from '../../run/benchmark/cell-identity.ts';
import type { GridDeclaration } from '../../run/benchmark/grid.ts';

const suite = {
  tasks: [{ task: 'zeroshot_classification' as const, dataset: 'demo-color', data: 'x.tar', prompts: 'p.json' }],
};

function grid(over: Partial<GridDeclaration> = {}): GridDeclaration {
  return {
    name: 'g',
    base: {
      data: { shards: 'base-{0..3}.tar', captionExtension: 'caption' },
      model: { preset: 'tiny', normalisation: 'openai', text: { layers: 1 } },
      supervision: { name: 'declip', options: { queueSize: 128 } },
      optim: { batchSize: 16, steps: 10, totalSteps: 10, warmupSteps: 2, peakLr: 1e-3 },
    },
    axes: {
      data: { clean: 'clean-{0..3}.tar', noisy: { shards: 'noisy-{0..3}.tar', epochs: 2 } },
      model: {
        vit: 'tiny',
        'vit-short': { preset: 'tiny', text: { layers: 1, width: 32 } },
        rn: { preset: 'tiny-rn' },
      },
      supervision: {
        clip: { name: 'clip' },
        slip: { name: 'slip', options: { mlpHidden: 64, mlpOut: 32 }, optim: { peakLr: 5e-4, weightDecay: 0.5 } },
      },
      seeds: [0, 1],
    },
    suite,
    ...over,
  };
}

test('cells: every combination in a fixed order with stable readable keys under OUT/cells', (t) => {
  const g = expandGrid(grid(), '/out');
  t.is(g.cells.length, 2 * 3 * 2 * 2);
  t.deepEqual(
    g.cells.slice(0, 5).map((c) => c.key),
    ['clean_vit_clip_s0', 'clean_vit_clip_s1', 'clean_vit_slip_s0', 'clean_vit_slip_s1', 'clean_vit-short_clip_s0'],
  );
  t.deepEqual(
    g.cells.map((c) => c.index),
    g.cells.map((_, i) => i),
  );
  t.is(g.cells.at(-1)!.key, 'noisy_rn_slip_s1');
  for (const c of g.cells) {
    t.is(c.declaration.logging.out, `/out/cells/${c.key}`);
    t.is(c.declaration.name, c.key);
    t.is(c.declaration.checkpoint.resume, 'latest');
    t.is(c.declaration.seed, c.axes.seed);
    t.is(cellKey(c.axes), c.key);
  }
  t.deepEqual(g.values, { data: ['clean', 'noisy'], model: ['vit', 'vit-short', 'rn'], supervision: ['clip', 'slip'] });
  t.deepEqual(g.baseline, { data: 'clean', model: 'vit', supervision: 'clip' });
  t.deepEqual(g.seeds, [0, 1]);
  t.is(expandGrid(grid()).out, 'runs/benchmark-g');
});

test('axes apply without touching each other; a swapped-in method does not inherit another`s options', (t) => {
  const g = expandGrid(grid(), '/out');
  const at = (key: string) => g.cells.find((c) => c.key === key)!.declaration;
  // supervision: replaced whole (the base's declip queueSize does not follow clip or slip)
  t.deepEqual(at('clean_vit_clip_s0').supervision, { name: 'clip', options: {} });
  t.deepEqual(at('clean_vit_slip_s0').supervision, { name: 'slip', options: { mlpHidden: 64, mlpOut: 32 } });
  // the method's own optimiser numbers; the budget stays the base's
  t.is(at('clean_vit_slip_s0').optim.peakLr, 5e-4);
  t.is(at('clean_vit_slip_s0').optim.weightDecay, 0.5);
  t.is(at('clean_vit_clip_s0').optim.peakLr, 1e-3);
  for (const c of g.cells) t.deepEqual([c.declaration.optim.batchSize, c.declaration.optim.steps], [16, 10]);
  // data: the fields it names, the base's others stay
  t.is(at('clean_vit_clip_s0').data.shards, 'clean-{0..3}.tar');
  t.is(at('noisy_vit_clip_s0').data.epochs, 2);
  t.is(at('noisy_vit_clip_s0').data.captionExtension, 'caption');
  // model: the architecture is the value's (the base's text.layers override does not carry over), the rest stays
  t.is(at('clean_vit_clip_s0').model.text.layers, 0);
  t.deepEqual(at('clean_vit-short_clip_s0').model.text, { width: 32, layers: 1, heads: 0 });
  t.is(at('clean_rn_clip_s0').model.preset, 'tiny-rn');
  t.is(at('clean_rn_clip_s0').model.normalisation, 'openai');
});

test('an axis the grid does not vary is the base, named "base"; seeds may depend on the combination', (t) => {
  const g = expandGrid(
    grid({
      axes: {
        supervision: { clip: { name: 'clip' }, filip: { name: 'filip' } },
        seeds: ({ supervision }) => (supervision === 'clip' ? [0, 1, 2] : [7]),
      },
    }),
    '/o',
  );
  t.deepEqual(
    g.cells.map((c) => c.key),
    ['base_base_clip_s0', 'base_base_clip_s1', 'base_base_clip_s2', 'base_base_filip_s7'],
  );
  t.deepEqual(g.seeds, [0, 1, 2, 7]);
  t.is(g.cells[0].declaration.data.shards, 'base-{0..3}.tar');
  t.deepEqual(g.cells[0].declaration.model.text, { width: 0, layers: 1, heads: 0 });
});

test('bad grids: one line naming the grid field', (t) => {
  const bad = (over: Partial<GridDeclaration> | Record<string, unknown>, message: RegExp) =>
    t.throws(() => expandGrid(grid(over as Partial<GridDeclaration>)), { instanceOf: GridError, message });
  bad(
    { axes: { supervision: { clip: { name: 'clip' }, bad_name: { name: 'clip' } } } },
    /^axes\.supervision\.bad_name: value names are/,
  );
  bad(
    { axes: { supervision: { x: { name: 'nope' } } } },
    /^axes\.supervision\.x: cell base_base_x_s0: supervision\.name must be one of/,
  );
  bad(
    { axes: { supervision: { x: { name: 'clip', options: [] } } } } as never,
    /^axes\.supervision\.x\.options: must be an object, got an array$/,
  );
  bad(
    { axes: { supervision: { x: { name: 'clip', extra: 1 } } } } as never,
    /^axes\.supervision\.x\.extra: unknown field/,
  );
  bad({ axes: { model: { m: { text: { layers: 1 } } } } } as never, /^axes\.model\.m\.preset: is required/);
  bad(
    { axes: { model: { m: { preset: 'tiny', text: { layerz: 1 } } } } } as never,
    /^axes\.model\.m: cell base_m_base_s0: unknown field model\.text\.layerz/,
  );
  bad(
    { axes: { data: { d: { shards: 'x', decodeConcurrency: 0 } } } },
    /^axes\.data\.d: cell d_base_base_s0: data\.decodeConcurrency must be an integer >= 1/,
  );
  bad({ axes: { seeds: [1, 1] } }, /^axes\.seeds: seeds must be distinct/);
  bad({ axes: { seeds: [] } }, /^axes\.seeds: must be a non-empty array/);
  bad({ axes: { colour: {} } } as never, /^axes\.colour: unknown axis/);
  bad(
    { baseline: { supervision: 'siglip' } },
    /^baseline\.supervision: "siglip" is not a value of the axis \(values: clip, slip\)/,
  );
  bad({ name: 'a b' }, /^name: must be a name/);
  bad({ suite: undefined } as never, /^suite: is required/);
  bad(
    { suite: { tasks: [{ task: 'zeroshot_classification', dataset: 'x' }] } } as never,
    /suite\.tasks\[0\]\.data is required/,
  );
  bad(
    { base: { optim: { batchSize: 0 } } },
    /^base\.optim\.batchSize: optim\.batchSize must be an integer >= 1, got 0/,
  );
  bad({ outt: 'x' } as never, /^outt: unknown field/);
});

test('every cell gets the same budget unless the grid says otherwise', (t) => {
  const slow = { supervision: { clip: { name: 'clip' }, long: { name: 'clip', optim: { steps: 20 } } } };
  t.throws(() => expandGrid(grid({ axes: slow })), {
    message:
      /^axes\.supervision\.long\.optim\.steps: changes the budget; every cell gets the base's batch, steps and schedule unless the grid sets budgetPerCell: true$/,
  });
  const g = expandGrid(grid({ axes: slow, budgetPerCell: true }));
  t.deepEqual(
    g.cells.map((c) => c.declaration.optim.steps),
    [10, 20],
  );
  t.throws(
    () =>
      expandGrid(
        grid({
          axes: {
            supervision: { s: { name: 'slip', optim: { peakLr: 1e-4 } } },
            model: { m: { preset: 'tiny', optim: { peakLr: 2e-4 } } },
          },
        }),
      ),
    {
      message:
        /^axes\.model\.m\.optim\.peakLr: conflicts with axes\.supervision\.s\.optim\.peakLr in cell base_m_s_s0$/,
    },
  );
});

test('--cell i/N interleaves the cells; --only filters by axis values', (t) => {
  const g = expandGrid(grid());
  const slices = [0, 1, 2].map((i) => selectCells(g, { slice: { index: i, count: 3 } }).map((c) => c.index));
  t.deepEqual(
    slices.flat().sort((a, b) => a - b),
    g.cells.map((c) => c.index),
  );
  t.deepEqual(slices[1].slice(0, 3), [1, 4, 7]);
  t.deepEqual(parseSlice('2/8'), { index: 2, count: 8 });
  for (const bad of ['8/8', '1', 'a/2', '0/0', '-1/2'])
    t.throws(() => parseSlice(bad), { message: /--cell must be i\/N with 0 <= i < N/ });
  const only = selectCells(g, { only: ['supervision=slip', 'model=vit,rn', 'seed=1'] });
  t.deepEqual(
    only.map((c) => c.key),
    ['clean_vit_slip_s1', 'clean_rn_slip_s1', 'noisy_vit_slip_s1', 'noisy_rn_slip_s1'],
  );
  t.deepEqual(
    selectCells(g, { only: ['cell=noisy_rn_clip_s0'] }).map((c) => c.key),
    ['noisy_rn_clip_s0'],
  );
  t.throws(() => selectCells(g, { only: ['supervision=siglip'] }), {
    message: /--only supervision=siglip: no such supervision in grid g \(known: clip, slip\)/,
  });
  t.throws(() => selectCells(g, { only: ['colour=red'] }), { message: /--only must be AXIS=VALUE/ });
});

test('command line: grid file, benchmark flags, fields for every cell; the axes` fields are refused', (t) => {
  const a = parseBenchmarkArgs([
    'grids/demo.ts',
    '--out',
    'o',
    '--cell=1/4',
    '--only',
    'data=clean',
    '--steps',
    '20',
    '--threads',
    '1',
  ]);
  t.is(a.gridFile, 'grids/demo.ts');
  t.is(a.out, 'o');
  t.deepEqual(a.slice, { index: 1, count: 4 });
  t.deepEqual(a.only, ['data=clean']);
  t.deepEqual(a.overrides, [
    ['optim.steps', 20],
    ['backend.threads', 1],
  ]);
  t.true(parseBenchmarkArgs(['g.ts', '--aggregate-only']).aggregateOnly);
  t.throws(() => parseBenchmarkArgs(['g.ts', '--model', 'rn50']), {
    message: /--model\.preset: set by the grid's axes/,
  });
  t.throws(() => parseBenchmarkArgs(['g.ts', '--seed', '3']), { message: /--seed: set by the grid's axes/ });
  t.throws(() => parseBenchmarkArgs(['--out', 'x']), { message: /no grid file given/ });
  t.throws(() => parseBenchmarkArgs(['g.ts', '--nope', '1']), { message: /unknown flag --nope/ });
});

test('cell identity: what was computed, not how it was logged; the first difference is named', (t) => {
  const g = expandGrid(grid(), '/out');
  const d = g.cells[0].declaration;
  const id = cellIdentity(d, g.suite);
  t.deepEqual(
    cellIdentity({ ...d, logging: { ...d.logging, progress: 'none' }, backend: { name: 'cpu', threads: 1 } }, g.suite),
    id,
  );
  const changed = cellIdentity({ ...d, optim: { ...d.optim, steps: 11 } }, g.suite);
  t.deepEqual(firstDifference(JSON.parse(JSON.stringify(id)), JSON.parse(JSON.stringify(changed))), {
    path: 'declaration.optim.steps',
    was: 10,
    now: 11,
  });
});
