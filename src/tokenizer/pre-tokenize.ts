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
