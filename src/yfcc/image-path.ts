// Local image paths from a template. Placeholders: {hash}, {hash:a:b} (slice of the photo hash),
// {id}, {id:a:b}, {ext}. The multimedia-commons layout is the default:
//   data/images/{hash:0:3}/{hash:3:6}/{hash}.jpg
export const MULTIMEDIA_COMMONS_TEMPLATE = 'data/images/{hash:0:3}/{hash:3:6}/{hash}.jpg';

export function expandImagePath(template: string, values: { hash: string; id: string; ext?: string }): string {
  return template.replace(
    /\{(hash|id|ext)(?::(\d+):(\d+))?\}/g,
    (_, name: 'hash' | 'id' | 'ext', a?: string, b?: string) => {
      const v = values[name] ?? '';
      return a === undefined ? v : v.slice(Number(a), Number(b));
    },
  );
}
