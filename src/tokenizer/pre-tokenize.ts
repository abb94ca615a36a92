// OpenAI's pre-tokenizer regex (case-insensitive, Unicode classes):
//   <specials>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// Each digit is its own pre-token. After cleaning, the only whitespace the regex module's \s can still see is
// ' ' (runs were collapsed), so [^\s...] is written [^ ...] here: JS \s would also drop U+FEFF, Python's does not.

/** The pre-tokenizer for a set of special-token names (matched first, as whole tokens). */
export function preTokenPattern(specials: readonly string[]): RegExp {
  const escaped = specials.map((s) => s.replace(/[|]/g, '\\|'));
  const head = escaped.length > 0 ? escaped.join('|') + '|' : '';
  return new RegExp(`${head}'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^ \\p{L}\\p{N}]+`, 'giu');
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Pre-tokens of cleaned text: the regex's matches (String.match with the pattern), with a hand-written scanner
 * for ASCII-only text that yields exactly the same tokens (letters [a-zA-Z], digits [0-9], space the only
 * whitespace), because the Unicode-property regex is the slower path.
 */
export function preTokenize(cleaned: string, pattern: RegExp, specials: readonly string[]): string[] {
  if (NON_ASCII.test(cleaned)) return cleaned.match(pattern) ?? [];
  const out: string[] = [];
  const n = cleaned.length;
  let i = 0;
  outer: while (i < n) {
    const c = cleaned.charCodeAt(i);
    if (c === 0x20) {
      i++;
      continue;
    }
    if (c === 0x3c) {
      // '<': special tokens (case-insensitive like the regex)
      for (const sp of specials) {
        if (cleaned.length - i >= sp.length && cleaned.slice(i, i + sp.length).toLowerCase() === sp) {
          out.push(cleaned.slice(i, i + sp.length));
          i += sp.length;
          continue outer;
        }
      }
    }
    if (c === 0x27 && i + 1 < n) {
      // contractions 's 't 're 've 'm 'll 'd (case-insensitive)
      const d = cleaned.charCodeAt(i + 1) | 0x20;
      const e = i + 2 < n ? cleaned.charCodeAt(i + 2) | 0x20 : 0;
      if (d === 0x73 || d === 0x74 || d === 0x6d || d === 0x64) {
        out.push(cleaned.slice(i, i + 2));
        i += 2;
        continue;
      }
      if ((d === 0x72 && e === 0x65) || (d === 0x76 && e === 0x65) || (d === 0x6c && e === 0x6c)) {
        out.push(cleaned.slice(i, i + 3));
        i += 3;
        continue;
      }
    }
    if (isLetter(c)) {
      let j = i + 1;
      while (j < n && isLetter(cleaned.charCodeAt(j))) j++;
      out.push(cleaned.slice(i, j));
      i = j;
      continue;
    }
    if (c >= 0x30 && c <= 0x39) {
      out.push(cleaned[i]);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n) {
      const x = cleaned.charCodeAt(j);
      if (x === 0x20 || isLetter(x) || (x >= 0x30 && x <= 0x39)) break;
      j++;
    }
    out.push(cleaned.slice(i, j));
    i = j;
  }
  return out;
}

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}
