// The flags every stand-alone evaluation command shares (parsed by run/eval-cli.ts's setupEval), with their --help
// lines, and the run/command.ts spec of an evaluation command built from them: --help in the one format, a bad flag
// a usage error (exit 2) before any model is loaded.
import { parseCommandLine, type CommandOption, type CommandSpec } from '../command.ts';
import { weightsUsage } from '../eval-cli.ts';

export const evalOptions: Record<string, CommandOption> = {
  weights: {
    type: 'string',
    arg: 'W',
    help: 'a .safetensors file (OpenAI/open_clip names), a checkpoint or run directory',
  },
  data: { type: 'string', arg: 'DATASET', help: 'the dataset (see below)' },
  dataset: { type: 'string', arg: 'NAME', help: "the dataset's name in results (default: the data's base name)" },
  vocab: { type: 'string', arg: 'PATH', help: 'BPE vocab the model was trained with (default: the bundled one)' },
  variant: { type: 'string', arg: 'openai|declip', help: 'tokenizer variant (default: from the vocabulary size)' },
  normalize: {
    type: 'string',
    arg: 'openai|imagenet',
    help: "pixel normalisation (default: the checkpoint's; openai for foreign files)",
  },
  'vision-heads': {
    type: 'string',
    arg: 'N',
    help: 'attention heads of the image tower (default: recorded or guessed)',
  },
  'text-heads': { type: 'string', arg: 'N', help: 'attention heads of the text tower (default: recorded or guessed)' },
  'allow-unexpected': {
    type: 'boolean',
    default: false,
    help: 'load a file holding tensors beyond the model and known method heads',
  },
  'batch-size': { type: 'string', arg: 'N', default: '256', help: 'images per forward pass' },
  out: { type: 'string', arg: 'DIR', default: 'results', help: 'where the result JSON is written' },
  'model-name': { type: 'string', arg: 'NAME', help: 'model name in results (default: from the architecture)' },
  pretrained: { type: 'string', arg: 'TAG', help: 'pretrained tag in results (default: the weights file name)' },
  backend: { type: 'string', arg: 'auto|wasm|cpu', help: 'tfjs backend' },
  quiet: { type: 'boolean', default: false, help: 'no progress lines or table' },
};

/** setupEval's `extra` flags from command options (type and default). */
export function extraFlags(
  options: Record<string, CommandOption>,
): Record<string, { type: 'string' | 'boolean'; default?: string | boolean }> {
  return Object.fromEntries(
    Object.entries(options).map(([name, o]) => [
      name,
      { type: o.type, ...(o.default !== undefined ? { default: o.default } : {}) },
    ]),
  );
}

/**
 * The spec of an evaluation command: the shared flags plus its own; its parser checks the flags (a usage error
 * names a bad one) and hands the raw arguments on to the command, which reads them with setupEval.
 */
export function evalCommandSpec(
  spec: Omit<CommandSpec<string[]>, 'options' | 'parse'>,
  own: Record<string, CommandOption>,
  shared: Record<string, CommandOption> = evalOptions,
): CommandSpec<string[]> {
  const options = { ...shared, ...own };
  return {
    ...spec,
    notes: [spec.notes?.trim(), weightsUsage].filter(Boolean).join('\n'),
    options,
    parse: (argv) => {
      parseCommandLine({ options }, argv);
      return argv;
    },
  };
}
