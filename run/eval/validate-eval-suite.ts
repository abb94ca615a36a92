// Start-up check of an evaluation suite, so a training run fails before its first step rather than at its first
// evaluation: every task's data exists and is of the right kind (class folders, MNIST files, caption tables and
// every local shard file), holds images, every zero-shot dataset has an entry with class names and templates in
// a prompts file that parses, class counts agree, linear probes know their class names. No image is decoded.
// Errors are one line naming the suite, the task and what is wrong.
import { stat } from 'node:fs/promises';
import { resolveDataset, isShardSpec } from '../../src/eval/dataset-spec.ts';
import { loadZeroShotPrompts } from '../../src/eval/datasets/zero-shot-prompts.ts';
import { expandShardSpec } from '../../src/webdataset/shard-spec.ts';
import { promptsFileOf, type EvalSuite, type EvalTaskSpec } from '../../src/eval/eval-suite.ts';
import { linearProbeClassNames } from './linear-probe-task.ts';

/** Every local file of a shard spec exists (URLs and pipe: commands are checked when read). */
async function checkShards(spec: string): Promise<void> {
  const shards = expandShardSpec(spec);
  if (shards.length === 0) throw new Error(`${spec} names no shards`);
  const missing: string[] = [];
  for (const s of shards) {
    if (/^(https?:\/\/|pipe:)/.test(s)) continue;
    const info = await stat(s).catch(() => undefined);
    if (!info?.isFile()) missing.push(s);
  }
  if (missing.length > 0)
    throw new Error(
      `${missing.length} of ${shards.length} shard(s) of ${spec} do not exist ` +
        `(${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''})`,
    );
}

async function checkData(
  data: string,
  kind: 'classification' | 'retrieval',
  options: { name: string; classes?: string[]; images?: string; needClasses: boolean },
): Promise<void> {
  if (await isShardSpec(data)) {
    if (kind === 'classification' && options.needClasses && !options.classes)
      throw new Error(`${data}: shards with .cls labels need class names (a prompts entry or a classes file)`);
    return checkShards(data);
  }
  const source = await resolveDataset(data, {
    name: options.name,
    task: kind,
    classes: options.classes,
    images: options.images,
  });
  if (source.kind === 'shards') return checkShards(source.spec);
  if (source.kind !== kind) throw new Error(`${data} is a ${source.kind} set, this task needs a ${kind} set`);
  if (source.dataset.size === 0) throw new Error(`${data} holds no images`);
  if (source.kind === 'retrieval' && source.dataset.size !== undefined) {
    const images = options.images;
    if (images !== undefined && !(await stat(images).catch(() => undefined))?.isDirectory())
      throw new Error(`image directory ${images} does not exist`);
  }
}

async function validateTask(suite: EvalSuite, task: EvalTaskSpec): Promise<void> {
  switch (task.task) {
    case 'zeroshot_classification': {
      const prompts = promptsFileOf(suite, task);
      if (!prompts) throw new Error('no prompts file (set the task\'s or the suite\'s "prompts")');
      const { classes } = await loadZeroShotPrompts(prompts, task.promptsKey ?? task.dataset);
      await checkData(task.data, 'classification', { name: task.dataset, classes, needClasses: true });
      return;
    }
    case 'zeroshot_retrieval':
      await checkData(task.data, 'retrieval', { name: task.dataset, images: task.images, needClasses: false });
      return;
    case 'linear_probe': {
      const classes = await linearProbeClassNames(task, suite.prompts);
      for (const data of [task.data, ...(task.trainData ? [task.trainData] : [])])
        await checkData(data, 'classification', { name: task.dataset, classes, needClasses: true });
      return;
    }
  }
}

export async function validateEvalSuite(suite: EvalSuite): Promise<void> {
  for (const [i, task] of suite.tasks.entries()) {
    try {
      await validateTask(suite, task);
    } catch (e) {
      throw new Error(
        `evaluation suite "${suite.name}" tasks[${i}] (${task.task} ${task.dataset}): ${(e as Error).message}`,
      );
    }
  }
}
