// Shard specs as webdataset writes them: `a::b` joins lists, $VAR / ${VAR} are expanded from the
// environment (unknown variables are left as they are, like os.path.expandvars), and braces expand
// with bash semantics (the Python `braceexpand` library webdataset uses):
//   {000000..001538}  zero-padded integer range (a leading zero pads every number to the widest end)
//   {1..9..2}         range with a step; descending ranges count down
//   {a..e}            character range
//   {x,y,{z,w}}       alternatives, nested
//   {x}  {}           no comma and no range: kept literally
//   \{ \} \, \\       escaped characters
// Unbalanced braces are an error.

type Piece = string | Piece[][]; // a literal, or a group of alternatives (each alternative a sequence)

export class ShardSpecError extends Error {}

/** Expand one shard spec (or an array of them) into the ordered list of shard URLs. */
export function expandShardSpec(
  spec: string | string[],
  env: Record<string, string | undefined> = process.env,
): string[] {
  if (Array.isArray(spec)) return spec.flatMap((s) => expandShardSpec(s, env));
  const out: string[] = [];
  for (const part of spec.split('::')) {
    if (part === '') continue;
    out.push(...braceExpand(expandVars(part, env)));
  }
  return out;
}

/** $NAME and ${NAME} from `env`; undefined variables stay as written. */
export function expandVars(text: string, env: Record<string, string | undefined>): string {
  return text.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (whole, braced, bare) => {
    const value = env[braced ?? bare];
    return value === undefined ? whole : value;
  });
}

/** Bash-style brace expansion of one pattern. */
export function braceExpand(pattern: string): string[] {
  const parser = { text: pattern, pos: 0 };
  const sequence = parseSequence(parser, false);
  if (parser.pos < pattern.length) {
    throw new ShardSpecError(
      `unbalanced braces in shard spec ${JSON.stringify(pattern)}: unexpected '}' at ${parser.pos}`,
    );
  }
  return expandSequence(sequence);
}

interface Parser {
  text: string;
  pos: number;
}

// sequence := (literal | group)*   ; inside a group it stops at an unescaped ',' or '}'
function parseSequence(p: Parser, inGroup: boolean): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  while (p.pos < p.text.length) {
    const c = p.text[p.pos];
    if (c === '\\' && p.pos + 1 < p.text.length) {
      literal += p.text[p.pos + 1];
      p.pos += 2;
    } else if (c === '{') {
      if (literal) {
        pieces.push(literal);
        literal = '';
      }
      pieces.push(...parseGroup(p));
    } else if (c === '}' || (c === ',' && inGroup)) {
      break;
    } else {
      literal += c;
      p.pos++;
    }
  }
  if (literal) pieces.push(literal);
  return pieces;
}

// group := '{' sequence (',' sequence)* '}'  — or a range, or a literal {x}
function parseGroup(p: Parser): Piece[] {
  const start = p.pos;
  p.pos++; // '{'
  const close = findClosingBrace(p.text, start);
  if (close < 0)
    throw new ShardSpecError(
      `unbalanced braces in shard spec ${JSON.stringify(p.text)}: '{' at ${start} is never closed`,
    );
  const body = p.text.slice(start + 1, close);
  const range = expandRange(body);
  if (range) {
    p.pos = close + 1;
    return [range.map((s) => [s])];
  }
  const alternatives: Piece[][] = [];
  while (true) {
    alternatives.push(parseSequence(p, true));
    if (p.text[p.pos] === ',') {
      p.pos++;
      continue;
    }
    break; // at the matching '}'
  }
  p.pos++; // '}'
  if (alternatives.length < 2) {
    // `{x}` and `{}` are not expansions in bash: keep the braces literally.
    return ['{', ...alternatives[0], '}'];
  }
  return [alternatives];
}

function findClosingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

const INT_RANGE = /^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$/;
const CHAR_RANGE = /^([A-Za-z])\.\.([A-Za-z])(?:\.\.(-?\d+))?$/;

/** `a..b[..step]` as integers (zero-padded like braceexpand) or characters; undefined when not a range. */
function expandRange(body: string): string[] | undefined {
  let m = INT_RANGE.exec(body);
  if (m) {
    const [, left, right, incr] = m;
    const padded = [left, right].some((s) => s !== '0' && s !== '-0' && (s.startsWith('0') || s.startsWith('-0')));
    const width = padded ? Math.max(left.length, right.length) : 0;
    const start = Number(left),
      end = Number(right);
    const step = Math.abs(incr ? Number(incr) || 1 : 1);
    const out: string[] = [];
    if (start <= end) for (let i = start; i <= end; i += step) out.push(pad(i, width));
    else for (let i = start; i >= end; i -= step) out.push(pad(i, width));
    return out;
  }
  m = CHAR_RANGE.exec(body);
  if (m) {
    const [, left, right, incr] = m;
    const start = left.charCodeAt(0),
      end = right.charCodeAt(0);
    const step = Math.abs(incr ? Number(incr) || 1 : 1);
    const out: string[] = [];
    if (start <= end) for (let i = start; i <= end; i += step) out.push(String.fromCharCode(i));
    else for (let i = start; i >= end; i -= step) out.push(String.fromCharCode(i));
    return out;
  }
  return undefined;
}

function pad(n: number, width: number): string {
  const digits = String(Math.abs(n)).padStart(n < 0 ? Math.max(width - 1, 0) : width, '0');
  return n < 0 ? '-' + digits : digits;
}

function expandSequence(pieces: Piece[]): string[] {
  let results = [''];
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      results = results.map((r) => r + piece);
    } else {
      const options = piece.flatMap((alternative) => expandSequence(alternative));
      const next: string[] = [];
      for (const r of results) for (const o of options) next.push(r + o);
      results = next;
    }
  }
  return results;
}
