// Evaluation data path: items (image + label or captions) -> eval transform (concurrently, order kept)
// -> batches of NHWC float32 pixels ready to become one tensor, with the items' labels/captions alongside.
import type { Stage } from '../core/stage.ts';
import { mapConcurrent } from '../core/map-concurrent.ts';
import { batch } from '../core/batch.ts';
import { compose } from '../core/stage.ts';
import { evalImageView } from '../../src/eval/eval-image.ts';
import type { NormalizeStats } from '../../src/image/presets.ts';
import type { EvalImage } from '../../src/eval/datasets/types.ts';

export interface EvalImageBatch<T> {
  /** n x size x size x 3, float32, normalised. */
  pixels: Float32Array;
  n: number;
  size: number;
  items: T[];
}

export function evalImageBatches<T extends { image: EvalImage }>(options: {
  size: number;
  stats: NormalizeStats;
  batchSize: number;
  concurrency?: number;
}): Stage<T, EvalImageBatch<Omit<T, 'image'>>> {
  const { size, stats, batchSize } = options;
  const prepare = mapConcurrent(options.concurrency ?? 4, async (item: T) => ({
    view: await evalImageView(item.image, size, stats),
    item,
  }));
  const pack: Stage<
    Array<{ view: { data: Float32Array }; item: T }>,
    EvalImageBatch<Omit<T, 'image'>>
  > = async function* packBatches(source) {
    for await (const group of source) {
      const per = size * size * 3;
      const pixels = new Float32Array(group.length * per);
      group.forEach(({ view }, i) => pixels.set(view.data, i * per));
      yield {
        pixels,
        n: group.length,
        size,
        items: group.map(({ item }) => {
          const { image: _image, ...rest } = item;
          return rest;
        }),
      };
    }
  };
  return compose(prepare, batch(batchSize), pack);
}
