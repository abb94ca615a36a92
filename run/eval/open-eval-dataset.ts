// Open the dataset a task names (`data`): class folders, MNIST IDX files, caption tables, COCO JSON
// (src/eval/dataset-spec.ts) or webdataset shards (stages/eval/shard-datasets.ts), as a classification or a
// retrieval set; a set of the other kind is a one-line error naming the task's data.
import { resolveDataset } from '../../src/eval/dataset-spec.ts';
import { shardClassificationDataset, shardRetrievalDataset } from '../../stages/eval/shard-datasets.ts';
import type { ClassificationDataset, RetrievalDataset } from '../../src/eval/datasets/types.ts';
import type { StageContext } from '../../stages/core/stage.ts';

export async function openClassificationDataset(
  data: string,
  options: { name: string; classes?: string[]; ctx?: StageContext },
): Promise<ClassificationDataset> {
  const source = await resolveDataset(data, { name: options.name, task: 'classification', classes: options.classes });
  if (source.kind === 'retrieval') throw new Error(`${data} is a retrieval set (captions), not a labelled one`);
  if (source.kind === 'classification') return source.dataset;
  if (!options.classes)
    throw new Error(`${data}: shards with .cls labels need class names (a prompts entry or a classes file)`);
  return shardClassificationDataset(source.spec, options.classes, options.ctx, options.name);
}

export async function openRetrievalDataset(
  data: string,
  options: { name: string; images?: string; ctx?: StageContext },
): Promise<RetrievalDataset> {
  const source = await resolveDataset(data, { name: options.name, task: 'retrieval', images: options.images });
  if (source.kind === 'classification') throw new Error(`${data} is a labelled set, not a captioned one`);
  if (source.kind === 'retrieval') return source.dataset;
  return shardRetrievalDataset(source.spec, options.ctx, options.name);
}
