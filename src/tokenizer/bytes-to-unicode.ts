// GPT-2 / CLIP byte-level alphabet: every byte 0..255 gets a printable unicode character, so BPE can work on
// strings without whitespace or control characters. Printable ranges '!'..'~', '¡'..'¬' and '®'..'ÿ' map to
// themselves (in that order); the remaining 68 bytes map to U+0100 upward, in byte order.

/** The 256 byte values in vocabulary order (id i of the base vocab is byte BYTE_ORDER[i]). */
export const BYTE_ORDER: readonly number[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const printable = new Set(bs);
  for (let b = 0; b < 256; b++) if (!printable.has(b)) bs.push(b);
  return bs;
})();

/** byte -> its unicode character. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const out = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = printable ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return out;
})();

/** unicode character -> byte. */
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]));

/** byte -> base vocabulary id (position of the byte in BYTE_ORDER); add 256 for the `</w>` form. */
export const BYTE_TO_ID: Int32Array = (() => {
  const out = new Int32Array(256);
  BYTE_ORDER.forEach((b, i) => {
    out[b] = i;
  });
  return out;
})();
