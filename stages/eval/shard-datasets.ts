// Evaluation sets stored as webdataset shards (CLIP_benchmark's wds layout): classification samples hold an
// image + `.cls`; retrieval samples hold an image + `.txt` with one caption per line. A sample without the image or
// the label/captions is skipped and counted (a label outside the class names is an error naming the shard and key).
import { readShards } from '../webdataset/read-shards.ts';
import type { StageContext } from '../core/stage.ts';
import { textMember, type WdsSample } from '../../src/webdataset/sample.ts';
import type { ClassificationDataset, RetrievalDataset, EvalImage } from '../../src/eval/datasets/types.ts';

const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp'];

function imageOf(sample: WdsSample): EvalImage | undefined {
  for (const ext of IMAGE_EXTENSIONS) {
    const v = sample[ext];
    if (v instanceof Uint8Array) return { kind: 'encoded', bytes: v };
  }
  return undefined;
}

export function shardClassificationDataset(
  shards: string,
  classes: string[],
  ctx?: StageContext,
  name = 'wds',
): ClassificationDataset {
  return {
    name,
    classes,
    async *items() {
      for await (const sample of readShards({ shards, epochs: 1, ctx })) {
        const image = imageOf(sample);
        const cls = textMember(sample, 'cls');
        if (!image || cls === undefined) {
          ctx?.counters.inc('eval_samples_without_image_or_cls');
          continue;
        }
        const label = Number.parseInt(cls.trim(), 10);
        if (!(label >= 0 && label < classes.length))
          throw new Error(
            `${sample.__url__}: sample ${sample.__key__} has class ${cls.trim()} outside the ` +
              `${classes.length} class names`,
          );
        yield { key: sample.__key__, source: `${sample.__url__} sample ${sample.__key__}`, image, label };
      }
    },
  };
}

export function shardRetrievalDataset(shards: string, ctx?: StageContext, name = 'wds'): RetrievalDataset {
  return {
    name,
    async *items() {
      for await (const sample of readShards({ shards, epochs: 1, ctx })) {
        const image = imageOf(sample);
        const txt = textMember(sample, 'txt');
        if (!image || txt === undefined) {
          ctx?.counters.inc('eval_samples_without_image_or_txt');
          continue;
        }
        const captions = txt
          .split('\n')
          .map((c) => c.trim())
          .filter((c) => c.length > 0);
        const source = `${sample.__url__} sample ${sample.__key__}`;
        if (captions.length === 0) {
          ctx?.counters.inc('eval_images_without_captions');
          ctx?.counters.warnOnce(
            'eval-no-captions',
            `evaluation: skipping ${source}: its .txt has no non-empty caption; further ones are counted in ` +
              `eval_images_without_captions`,
          );
          continue;
        }
        yield { key: sample.__key__, source, image, captions };
      }
    },
  };
}
