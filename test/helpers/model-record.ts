// A complete model record for checkpoint tests whose stores are not real models.
import { buildClipConfig } from '../../src/models/presets.ts';
import { imagenetStats } from '../../src/image/presets.ts';
import type { ModelRecord } from '../../src/weights/model-record.ts';

export const testRecord = (): ModelRecord => ({
  config: buildClipConfig('tiny'),
  tokenizer: {
    variant: 'declip',
    contextLength: 77,
    vocabSize: 49409,
    vocab: '/nowhere/vocab.txt.gz',
    vocabSha256: '0'.repeat(64),
    vocabBytes: 1,
  },
  normalisation: { name: 'imagenet', ...imagenetStats },
  preset: 'tiny',
  supervision: 'declip',
});
