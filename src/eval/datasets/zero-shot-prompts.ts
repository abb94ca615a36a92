// Class names and prompt templates for zero-shot classification: any JSON of the shape
// {"<dataset>": {"classes": [...], "templates": ["a photo of a {}.", ...]}} (e.g. ../shared/data/zero-shot/
// classnames-and-templates.json or fixtures/demo/zero-shot.json), or a single {"classes","templates"} object.
// Every error names the file (and the dataset and entry) and says what is wrong.
import { readFile } from 'node:fs/promises';

export interface ZeroShotPrompts {
  classes: string[];
  templates: string[];
}

/** Read and parse a prompts file (a one-line error naming it when it is missing or not JSON). */
export async function readPromptsFile(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`zero-shot prompts: cannot read ${path} (${e.code ?? e.message})`);
  });
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`zero-shot prompts: ${path} is not valid JSON (${(e as Error).message})`);
  }
}

/** The entry for `dataset` in parsed prompts JSON, checked; `where` names the file in errors. */
export function promptsEntry(json: unknown, where: string, dataset?: string): ZeroShotPrompts {
  const single = isObject(json) && 'classes' in json && 'templates' in json;
  if (!isObject(json))
    throw new Error(`zero-shot prompts: ${where} must hold a JSON object, got ${JSON.stringify(json)?.slice(0, 40)}`);
  if (!single && dataset === undefined)
    throw new Error(
      `zero-shot prompts: ${where} holds several datasets; choose one with --dataset (${Object.keys(json).join(', ')})`,
    );
  const entry = single ? json : json[dataset!];
  const label = single ? where : `${where} "${dataset}"`;
  if (entry === undefined)
    throw new Error(
      `zero-shot prompts: no dataset "${dataset}" in ${where} (has: ${Object.keys(json).join(', ') || 'none'})`,
    );
  if (!isObject(entry)) throw new Error(`zero-shot prompts: ${label} must be an object {classes, templates}`);
  const { classes, templates } = entry as { classes?: unknown; templates?: unknown };
  const strings = (x: unknown, field: string): string[] => {
    if (!Array.isArray(x) || x.length === 0)
      throw new Error(`zero-shot prompts: ${label} needs a non-empty "${field}" array of strings`);
    const bad = x.findIndex((v) => typeof v !== 'string' || v.trim() === '');
    if (bad >= 0)
      throw new Error(
        `zero-shot prompts: ${label} ${field}[${bad}] is ${JSON.stringify(x[bad])}, not a non-empty string`,
      );
    return x as string[];
  };
  const c = strings(classes, 'classes');
  const t = strings(templates, 'templates');
  const noSlot = t.findIndex((s) => !s.includes('{}') && !s.includes('{0}'));
  if (noSlot >= 0)
    throw new Error(
      `zero-shot prompts: ${label} templates[${noSlot}] ${JSON.stringify(t[noSlot])} has no {} (or {0}) for ` +
        `the class name`,
    );
  // Class names may repeat (OpenAI's ImageNet names have two "missile" and two "sunglasses" synsets).
  return { classes: c, templates: t };
}

export async function loadZeroShotPrompts(path: string, dataset?: string): Promise<ZeroShotPrompts> {
  return promptsEntry(await readPromptsFile(path), path, dataset);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Fill a template: OpenAI's "{}" placeholder or DeCLIP's "{0}". */
export function fillTemplate(template: string, className: string): string {
  return template.includes('{0}') ? template.replaceAll('{0}', className) : template.replaceAll('{}', className);
}
