// Class names and prompt templates for zero-shot classification: any JSON of the shape
// {"<dataset>": {"classes": [...], "templates": ["a photo of a {}.", ...]}} (e.g. ../shared/data/zero-shot/
// classnames-and-templates.json or fixtures/demo/zero-shot.json), or a single {"classes","templates"} object.
import { readFile } from 'node:fs/promises';

export interface ZeroShotPrompts {
  classes: string[];
  templates: string[];
}

export async function loadZeroShotPrompts(path: string, dataset?: string): Promise<ZeroShotPrompts> {
  const json = JSON.parse(
    await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new Error(`zero-shot prompts: cannot read ${path} (${e.code ?? e.message})`);
    }),
  );
  const entry = isPrompts(json) ? json : dataset !== undefined ? json[dataset] : undefined;
  if (!isPrompts(entry)) {
    const names = isPrompts(json) ? [] : Object.keys(json);
    throw new Error(
      dataset === undefined
        ? `zero-shot prompts: ${path} holds several datasets; choose one with --dataset (${names.join(', ')})`
        : `zero-shot prompts: no dataset "${dataset}" with classes and templates in ${path} (has: ${names.join(', ')})`,
    );
  }
  return { classes: entry.classes, templates: entry.templates };
}

function isPrompts(x: unknown): x is ZeroShotPrompts {
  const o = x as ZeroShotPrompts | undefined;
  return (
    !!o && Array.isArray(o.classes) && Array.isArray(o.templates) && o.templates.every((t) => typeof t === 'string')
  );
}

/** Fill a template: OpenAI's "{}" placeholder or DeCLIP's "{0}". */
export function fillTemplate(template: string, className: string): string {
  return template.includes('{0}') ? template.replaceAll('{0}', className) : template.replaceAll('{}', className);
}
