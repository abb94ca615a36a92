// The tar members a writer emits for one sample: `key.ext` for every non-metadata field, in sorted
// extension order (webdataset TarWriter), strings UTF-8 encoded. Fields starting with `_` are metadata.
import type { WdsSample } from './sample.ts';

export interface OutputMember {
  name: string;
  data: Uint8Array;
}

const encoder = new TextEncoder();

export function sampleMembers(sample: WdsSample): OutputMember[] {
  const key = sample.__key__;
  if (typeof key !== 'string' || key === '') throw new Error('cannot write a sample without __key__');
  const base = key.slice(key.lastIndexOf('/') + 1);
  if (base.includes('.') || base === '') {
    throw new Error(
      `cannot write sample key ${JSON.stringify(key)}: the basename must be non-empty and contain no '.' ` +
        `(readers split the extension at the first dot)`,
    );
  }
  const members: OutputMember[] = [];
  for (const ext of Object.keys(sample)
    .filter((k) => !k.startsWith('_'))
    .sort()) {
    const value: unknown = sample[ext];
    if (ext.includes('/')) throw new Error(`sample ${key}: extension ${JSON.stringify(ext)} must not contain '/'`);
    let data: Uint8Array;
    if (value instanceof Uint8Array) data = value;
    else if (typeof value === 'string') data = encoder.encode(value);
    else
      throw new Error(
        `sample ${key}: field ${JSON.stringify(ext)} is ${value === null ? 'null' : typeof value}, only ` +
          `bytes or strings can be written`,
      );
    members.push({ name: `${key}.${ext}`, data });
  }
  if (members.length === 0) throw new Error(`sample ${key} has no members to write`);
  return members;
}

/** Bytes one member occupies in a ustar archive (512-byte header + data padded to 512). */
export function tarMemberBytes(size: number): number {
  return 512 + Math.ceil(size / 512) * 512;
}
