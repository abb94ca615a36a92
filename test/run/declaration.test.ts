import test from 'ava';
import { validateDeclaration, DeclarationError, fieldAt, fieldPaths } from '../../run/validate.ts';
import { parseArgs, applyOverrides } from '../../run/cli.ts';
import { defaults } from '../../run/declaration.ts';
import { EXIT, exitCodeOf } from '../../run/command.ts';
import { yfcc15mDeclaration } from '../../run/recipes/yfcc15m.ts';
import { demoDeclaration as demo } from '../../run/recipes/demo.ts';
import { supervisionNames } from '../../src/supervision/index.ts';
import { declaredModelConfig } from '../../run/model-config.ts';

const base = () => validateDeclaration({ name: 't' });

test('defaults are the seed recipe', (t) => {
  const d = base();
  t.is(d.optim.batchSize, 4096);
  t.deepEqual([d.optim.beta1, d.optim.beta2, d.optim.eps], [0.9, 0.98, 1e-8]);
  t.deepEqual(
    [d.optim.baseLr, d.optim.peakLr, d.optim.warmupSteps, d.optim.totalSteps, d.optim.minLr],
    [1e-4, 1e-3, 2500, 128001, 0],
  );
  t.is(d.optim.rollbackLrFactor, 0.997);
});

test('validation errors are one line and name the field', (t) => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ name: 't', optim: { batchSize: 0 } }, 'optim.batchSize', /^optim\.batchSize must be an integer >= 1, got 0$/],
    [{ name: 't', optim: { batchsize: 3 } }, 'optim.batchsize', /^unknown field optim\.batchsize/],
    [{ name: 't', data: { epochs: 'forever' } }, 'data.epochs', /data\.epochs must be an integer >= 1 or "endless"/],
    [
      { name: 't', supervision: { name: 'moco' } },
      'supervision.name',
      /supervision\.name must be one of clip\|declip\|slip\|filip\|defilip/,
    ],
    [{ name: 't', eval: { evaluate: 'zero-shot' } }, 'eval.evaluate', /eval\.evaluate must be a function or null/],
    [{ name: 't', optim: { eps: -1 } }, 'optim.eps', /optim\.eps must be a finite number > 0/],
    [{ name: 't', logging: 'runs' }, 'logging', /^logging must be an object/],
    [{ name: '' }, 'name', /^name must not be empty$/],
    [
      { name: 't', optim: { batchSize: 64, microBatchSize: 24 } },
      'optim.microBatchSize',
      /must divide optim\.batchSize/,
    ],
    [{ name: 't', extra: 1 }, 'extra', /^unknown field extra/],
  ];
  for (const [input, field, message] of cases) {
    const err = t.throws(() => validateDeclaration(input), { instanceOf: DeclarationError });
    t.is(err!.field, field);
    t.regex(err!.message, message);
    t.false(err!.message.includes('\n'));
  }
});

test('command-line flags override any field, typed by the schema', (t) => {
  const { overrides } = parseArgs([
    '--data',
    'a/{0..3}.tar',
    '--model',
    'rn50',
    '--batch-size',
    '256',
    '--micro-batch=64',
    '--steps',
    '3',
    '--resume',
    'latest',
    '--backend',
    'cpu',
    '--out',
    '/tmp/x',
    '--optim.weight-decay',
    '0.5',
    '--eval.at-end',
    'false',
    '--checkpoint.onSignal',
  ]);
  const d = applyOverrides(base(), overrides);
  t.is(d.data.shards, 'a/{0..3}.tar');
  t.is(d.model.preset, 'rn50');
  t.is(d.optim.batchSize, 256);
  t.is(d.optim.microBatchSize, 64);
  t.is(d.optim.steps, 3);
  t.is(d.checkpoint.resume, 'latest');
  t.is(d.backend.name, 'cpu');
  t.is(d.logging.out, '/tmp/x');
  t.is(d.optim.weightDecay, 0.5);
  t.false(d.eval.atEnd);
  t.true(d.checkpoint.onSignal);
});

test('bad flags are one-line errors naming flag and field', (t) => {
  t.throws(() => parseArgs(['--batch-size', 'many']), {
    message: '--batch-size: optim.batchSize must be an integer >= 1, got "many"',
  });
  t.throws(() => parseArgs(['--frobnicate', '1']), { message: /^unknown flag --frobnicate/ });
  t.throws(() => parseArgs(['--backend', 'gpu']), {
    message: /--backend: backend\.name must be one of auto\|tensorflow\|wasm\|cpu/,
  });
  t.throws(() => parseArgs(['--steps']), { message: '--steps needs a value (optim.steps)' });
  t.throws(() => applyOverrides(base(), parseArgs(['--batch-size', '100', '--micro-batch', '30']).overrides), {
    message: /optim\.microBatchSize \(30\) must divide/,
  });
});

test('every field is written once: the schema gives each one a kind, a default (but name) and a --help line', (t) => {
  const d = base();
  for (const path of fieldPaths()) {
    const f = fieldAt(path)!;
    t.true(f.doc.length > 0, `${path} has a --help line`);
    const value = path.split('.').reduce<any>((n, k) => n[k], d);
    if (path === 'name') t.is(f.default, undefined);
    else t.deepEqual(value, f.default, `${path}: the validated default comes from the schema`);
  }
  const err = t.throws(() => validateDeclaration({}), { instanceOf: DeclarationError });
  t.is(err!.message, 'name is required');
});

test('supervision names come from the registry', (t) => {
  const f = fieldAt('supervision.name')!;
  t.true(f.kind === 'enum' && f.values.join() === supervisionNames.join());
});

// A recipe states only what differs from the defaults.
function restated(recipe: unknown, defaults: unknown, path = ''): string[] {
  if (recipe && typeof recipe === 'object' && !Array.isArray(recipe) && path !== 'supervision.options')
    return Object.entries(recipe).flatMap(([k, v]) =>
      restated(v, (defaults as Record<string, unknown>)?.[k], path ? `${path}.${k}` : k),
    );
  return JSON.stringify(recipe) === JSON.stringify(defaults) ? [path] : [];
}

test('the demo and the YFCC-15M recipes state only what differs from the defaults', (t) => {
  t.deepEqual(restated(demo, defaults), []);
  // (the YFCC-15M recipe is one function of the method, so it names the method even when that is the default)
  for (const method of supervisionNames)
    t.deepEqual(
      restated(yfcc15mDeclaration(method), defaults).filter((p) => p !== 'supervision.name'),
      [],
      method,
    );
});

test('--supervision NAME starts from that method: the options of the swapped-out method do not follow it', (t) => {
  const d = validateDeclaration(demo);
  t.is(d.supervision.name, 'defilip');
  const clip = applyOverrides(d, parseArgs(['--supervision', 'clip']).overrides);
  t.is(clip.supervision.name, 'clip');
  t.deepEqual(clip.supervision.options, {});
  const declip = applyOverrides(
    d,
    parseArgs(['--supervision', 'declip', '--supervision.options', '{"queueSize":64}']).overrides,
  );
  t.deepEqual(declip.supervision.options, { queueSize: 64 });
  // naming the same method keeps its options
  t.deepEqual(
    applyOverrides(d, parseArgs(['--supervision', 'defilip']).overrides).supervision.options,
    d.supervision.options,
  );
});

test('an unknown model preset or a bad supervision option is a declaration error (exit code 2)', (t) => {
  const preset = t.throws(() => validateDeclaration({ name: 't', model: { preset: 'vit-huge' } }), {
    instanceOf: DeclarationError,
  });
  t.is(preset!.field, 'model.preset');
  t.regex(preset!.message, /unknown model "vit-huge" \(known: .*tiny/);
  t.is(exitCodeOf(preset), EXIT.usage);
  const option = t.throws(
    () => validateDeclaration({ name: 't', supervision: { name: 'clip', options: { queueSize: 5 } } }),
    { instanceOf: DeclarationError },
  );
  t.is(option!.field, 'supervision.options');
  t.regex(option!.message, /^supervision\.options: supervision clip: unknown option "queueSize"/);
  t.is(exitCodeOf(option), EXIT.usage);
});
test('model fields on top of a preset: declaration and flags, derived heads, one-line errors naming the field', (t) => {
  const { overrides } = parseArgs(['--model', 'tiny', '--model.text.layers', '1', '--model.text.width', '128']);
  const d = applyOverrides(base(), overrides);
  t.like(d.model, { preset: 'tiny', text: { layers: 1, width: 128, heads: 0 } });
  const config = declaredModelConfig(d, 100);
  // the tiny text tower has 2 heads of width 32: at width 128 the heads follow, 4 of them
  t.deepEqual(config.text, {
    vocabSize: 100,
    contextLength: 77,
    width: 128,
    layers: 1,
    heads: 4,
    projectionBias: false,
  });
  t.like(config.vision, { type: 'vit', width: 64, layers: 2, heads: 2 });
  const rn = declaredModelConfig(
    validateDeclaration({ name: 't', model: { preset: 'rn50', vision: { layers: [2, 2, 2, 2], width: 32 } } }),
    100,
  );
  t.like(rn.vision, { type: 'modified-resnet', layers: [2, 2, 2, 2], width: 32, heads: 16, bnGhostSize: 128 });
  t.deepEqual(
    applyOverrides(base(), parseArgs(['--model', 'rn50', '--model.vision.layers', '3,4,6,3']).overrides).model.vision
      .layers,
    [3, 4, 6, 3],
  );
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [
      { model: { preset: 'tiny', text: { width: 96, heads: 5 } } },
      'model.text.heads',
      /^model\.text\.width \(96\) must be divisible by model\.text\.heads \(5\)$/,
    ],
    [
      { model: { preset: 'tiny', text: { width: 48 } } },
      'model.text.heads',
      /^model\.text\.width \(48\) is not a multiple of the preset's head width 32: set model\.text\.heads$/,
    ],
    [
      { model: { preset: 'tiny', vision: { patchSize: 5 } } },
      'model.vision.patchSize',
      /model\.vision\.imageSize \(32\) must be a multiple of model\.vision\.patchSize \(5\)/,
    ],
    [
      { model: { preset: 'tiny', vision: { layers: [1, 2] } } },
      'model.vision.layers',
      /one number of blocks for a ViT/,
    ],
    [{ model: { preset: 'rn50', vision: { layers: 4 } } }, 'model.vision.layers', /four numbers of bottlenecks/],
    [{ model: { preset: 'tiny', text: { layers: -1 } } }, 'model.text.layers', /must be an integer >= 0, got -1/],
    [{ model: { preset: 'vit-h14' } }, 'model.preset', /unknown model "vit-h14" \(known: vit-b32, vit-b16, rn50/],
  ];
  for (const [input, field, message] of cases) {
    const err = t.throws(() => validateDeclaration({ name: 't', ...input }), { instanceOf: DeclarationError });
    t.is(err!.field, field);
    t.regex(err!.message, message);
  }
  const flagError = t.throws(() => parseArgs(['--model.text.heads', 'two']), { instanceOf: DeclarationError });
  t.is(flagError!.field, 'model.text.heads');
});
