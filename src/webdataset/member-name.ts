// How webdataset names tar members: key = directory part + basename up to the FIRST dot, extension =
// the rest (it may contain dots: `seg.png`, `txt.gz`). Regex from webdataset's base_plus_ext.

const BASE_PLUS_EXT = /^((?:.*\/|)[^.]+)[.]([^/]*)$/;
const META_PATH = /^__[^/]*__($|\/)/;

/** Split a member name into key and (lowercased) extension; undefined for names webdataset drops (no dot). */
export function splitMemberName(name: string): { key: string; extension: string } | undefined {
  const m = BASE_PLUS_EXT.exec(name);
  if (!m) return undefined;
  return { key: m[1], extension: m[2].toLowerCase() };
}

/** Metadata members (`__x__`, `__x__/...`) that readers skip. */
export function isMetaMember(name: string): boolean {
  if (!name.includes('/') && name.startsWith('__') && name.endsWith('__')) return true;
  return META_PATH.test(name);
}
