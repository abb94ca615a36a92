// Bytes -> text for metadata that is mostly UTF-8 but not always (YFCC titles hold Latin-1/Windows-1252 bytes, in
// raw form or as %XX escapes). Valid UTF-8 sequences decode as UTF-8. A byte that cannot start a valid sequence on
// its own (a lone Latin-1 letter such as 0xE9 'é' followed by ASCII, a Windows-1252 quote 0x93) is repaired as
// Windows-1252, the superset of Latin-1 that such text was written in. A broken multi-byte sequence (a lead byte
// followed by continuation bytes that do not complete it: truncated or corrupt UTF-8) and the five bytes
// Windows-1252 leaves undefined cannot be repaired: each becomes U+FFFD and is counted as undecodable, so callers
// can drop the text instead of keeping a caption with replacement characters.

export interface DecodeTally {
  /** Bytes decoded as Windows-1252. */
  repaired: number;
  /** Bytes that could not be decoded (each became U+FFFD). */
  undecodable: number;
}

export const REPLACEMENT_CHARACTER = '\ufffd';

/** Windows-1252 0x80-0x9F (0 = undefined); 0xA0-0xFF are the Latin-1 code points. */
const CP1252_HIGH = [
  0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0, 0,
  0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
];

function cp1252(byte: number): number {
  return byte >= 0xa0 ? byte : CP1252_HIGH[byte - 0x80];
}

const isContinuation = (b: number | undefined) => b !== undefined && b >= 0x80 && b <= 0xbf;

/** Length of the valid UTF-8 sequence starting at bytes[i] (a byte >= 0x80), or 0 when none starts there. */
function validSequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  // Second-byte ranges exclude overlong forms, surrogates and code points above U+10FFFF (RFC 3629).
  let n: number, lo: number, hi: number;
  if (b >= 0xc2 && b <= 0xdf) [n, lo, hi] = [2, 0x80, 0xbf];
  else if (b === 0xe0) [n, lo, hi] = [3, 0xa0, 0xbf];
  else if (b === 0xed) [n, lo, hi] = [3, 0x80, 0x9f];
  else if (b >= 0xe1 && b <= 0xef) [n, lo, hi] = [3, 0x80, 0xbf];
  else if (b === 0xf0) [n, lo, hi] = [4, 0x90, 0xbf];
  else if (b === 0xf4) [n, lo, hi] = [4, 0x80, 0x8f];
  else if (b >= 0xf1 && b <= 0xf3) [n, lo, hi] = [4, 0x80, 0xbf];
  else return 0;
  if (i + n > bytes.length || bytes[i + 1] < lo || bytes[i + 1] > hi) return 0;
  for (let k = 2; k < n; k++) if (!isContinuation(bytes[i + k])) return 0;
  return n;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lossy = new TextDecoder('utf-8');

/** Decode `bytes` as UTF-8, repairing lone non-UTF-8 bytes as Windows-1252 (see above); counts go into `tally`. */
export function decodeBytes(bytes: Uint8Array, tally?: DecodeTally): string {
  try {
    return utf8.decode(bytes);
  } catch {
    // fall through: mixed or non-UTF-8 bytes
  }
  let out = '';
  let start = 0; // start of the pending run of valid bytes
  let i = 0;
  const flush = (end: number) => {
    if (end > start) out += utf8Lossy.decode(bytes.subarray(start, end));
  };
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = validSequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    flush(i);
    // A lead byte followed by continuation bytes that do not complete it: broken UTF-8, not Windows-1252 text.
    const lead = b >= 0xc2 && b <= 0xf4;
    if (lead && isContinuation(bytes[i + 1])) {
      let end = i + 1;
      while (end < bytes.length && end - i < 4 && isContinuation(bytes[end])) end++;
      out += REPLACEMENT_CHARACTER.repeat(end - i);
      if (tally) tally.undecodable += end - i;
      i = end;
    } else {
      const code = cp1252(b);
      if (code) {
        out += String.fromCharCode(code);
        if (tally) tally.repaired++;
      } else {
        out += REPLACEMENT_CHARACTER;
        if (tally) tally.undecodable++;
      }
      i++;
    }
    start = i;
  }
  flush(bytes.length);
  return out;
}
