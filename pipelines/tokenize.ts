// Tokenize text lines with CLIP's BPE: one JSON array of ids (SOT..EOT, no padding) per input line.
// Usage: node pipelines/tokenize.ts [--input FILE] [--variant openai|declip] [--vocab PATH|URL] [--context N]
//        [--truncation truncate|error]        (reads stdin when --input is absent)
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { loadTokenizer, type TokenizerVariant, type TruncationPolicy } from '../src/tokenizer/clip-tokenizer.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      input: { type: 'string' },
      variant: { type: 'string', default: 'openai' },
      vocab: { type: 'string' },
      context: { type: 'string', default: '77' },
      truncation: { type: 'string', default: 'truncate' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'node pipelines/tokenize.ts [--input FILE] [--variant openai|declip] [--vocab PATH|URL] [--context N] [--truncation truncate|error]\n',
    );
    return;
  }
  if (values.variant !== 'openai' && values.variant !== 'declip')
    throw new Error(`--variant must be openai or declip, got "${values.variant}"`);
  if (values.truncation !== 'truncate' && values.truncation !== 'error')
    throw new Error(`--truncation must be truncate or error, got "${values.truncation}"`);
  const contextLength = Number(values.context);
  if (!Number.isInteger(contextLength) || contextLength < 2)
    throw new Error(`--context must be an integer >= 2, got "${values.context}"`);
  const tokenizer = await loadTokenizer({
    variant: values.variant as TokenizerVariant,
    vocabPath: values.vocab,
    contextLength,
    truncation: values.truncation as TruncationPolicy,
  });
  const input = values.input ? createReadStream(values.input) : process.stdin;
  input.on('error', (err: Error) => {
    process.stderr.write(`error: cannot read ${values.input}: ${err.message}\n`);
    process.exit(1);
  });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
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
}

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
main().catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exitCode = 1;
});
