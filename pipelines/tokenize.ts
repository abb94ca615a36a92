// Tokenize text lines with CLIP's BPE: one JSON array of ids (SOT..EOT, no padding) per input line.
//   node pipelines/tokenize.ts [--input FILE] [--variant openai|declip] [--vocab PATH|URL] [--context N]
//        [--truncation truncate|error]        (reads stdin when --input is absent)
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { isMain, runCommand, UsageError, type CommandSpec } from '../run/command.ts';
import { loadTokenizer, type TokenizerVariant, type TruncationPolicy } from '../src/tokenizer/clip-tokenizer.ts';

export const command = {
  usage: '[--input FILE] [--variant openai|declip] [--vocab PATH|URL] [--context N] [--truncation truncate|error]',
  about: "Tokenizes text lines with CLIP's BPE: one JSON array of ids (SOT..EOT, no padding) per input line.",
  options: {
    input: { type: 'string', arg: 'FILE', help: 'text file, one caption a line (default: stdin)' },
    variant: { type: 'string', arg: 'openai|declip', default: 'openai', help: 'vocabulary (declip adds <|mask|>)' },
    vocab: {
      type: 'string',
      arg: 'PATH|URL',
      help: 'BPE vocab .txt.gz (default: the bundled one or CLIP_BENCH_VOCAB)',
    },
    context: { type: 'string', arg: 'N', default: '77', help: 'context length, SOT and EOT included' },
    truncation: { type: 'string', arg: 'truncate|error', default: 'truncate', help: 'what to do with a longer text' },
  },
} satisfies CommandSpec;

if (isMain(import.meta))
  await runCommand(import.meta, command, async ({ args: { values } }) => {
    if (values.variant !== 'openai' && values.variant !== 'declip')
      throw new UsageError(`--variant must be openai or declip, got "${values.variant}"`);
    if (values.truncation !== 'truncate' && values.truncation !== 'error')
      throw new UsageError(`--truncation must be truncate or error, got "${values.truncation}"`);
    const contextLength = Number(values.context);
    if (!Number.isInteger(contextLength) || contextLength < 2)
      throw new UsageError(`--context must be an integer >= 2, got "${values.context}"`);
    const tokenizer = await loadTokenizer({
      variant: values.variant as TokenizerVariant,
      vocabPath: values.vocab as string | undefined,
      contextLength,
      truncation: values.truncation as TruncationPolicy,
    });
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
    const inputFile = values.input as string | undefined;
    const input = inputFile ? createReadStream(inputFile) : process.stdin;
    const lines = createInterface({ input, crlfDelay: Infinity });
    const failed = new Promise<never>((_, reject) =>
      input.on('error', (err: Error) => reject(new Error(`cannot read ${inputFile}: ${err.message}`))),
    );
    let lineNo = 0;
    const write = async () => {
      for await (const line of lines) {
        lineNo++;
        let ids: number[];
        try {
          ids = tokenizer.frame(tokenizer.encode(line), line);
        } catch (err) {
          throw new Error(`line ${lineNo}: ${(err as Error).message}`);
        }
        if (!process.stdout.write(JSON.stringify(ids) + '\n')) await once(process.stdout, 'drain');
      }
    };
    await Promise.race([write(), failed]);
  });
