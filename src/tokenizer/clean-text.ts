// Text cleaning before pre-tokenisation, as OpenAI's simple_tokenizer does it:
//   (strip = Python str.strip; whitespace runs = the regex module's \s; see below)
//   fixText (ftfy stand-in, below) -> html.unescape twice -> strip -> collapse whitespace -> lowercase.
//
// fixText is a precise subset of ftfy.fix_text's defaults, exactly these two steps:
//   1. Mojibake repair: text that was UTF-8 but got decoded as Windows-1252 ("sloppy": the five bytes that
//      cp1252 leaves undefined, 0x81 0x8D 0x8F 0x90 0x9D, read as the C1 controls U+0081...) is re-decoded.
//      A run of 2-4 characters is replaced when the cp1252 bytes of those characters form exactly ONE valid
//      UTF-8 multi-byte character: a lead byte C2-DF/E0-EF/F0-F4 followed by 1/2/3 continuation bytes
//      80-BF (overlong forms and surrogates rejected). Examples: "cafÃ©" -> "café", "Ã¼ber" -> "über",
//      "donâ€™t" -> "don’t", "â€œhiâ€\u009d" -> "“hi”", "ðŸ˜€" -> "😀", "Ã¤Â¸Â­" is left alone (not one char).
//   2. Unicode NFC normalisation (ftfy's default `normalization='NFC'`).
// Deliberately NOT done (ftfy does them; the 39 verified vectors, produced without ftfy, require them off):
// removal of control characters (NUL stays), fullwidth -> halfwidth ("～" stays), curly-quote uncurling,
// latin ligature expansion, terminal-escape removal, line-break normalisation.
import { decode as decodeHtml } from 'html-entities';

const CP1252_SPECIALS: Record<number, number> = {
  0x20ac: 0x80,
  0x201a: 0x82,
  0x0192: 0x83,
  0x201e: 0x84,
  0x2026: 0x85,
  0x2020: 0x86,
  0x2021: 0x87,
  0x02c6: 0x88,
  0x2030: 0x89,
  0x0160: 0x8a,
  0x2039: 0x8b,
  0x0152: 0x8c,
  0x017d: 0x8e,
  0x2018: 0x91,
  0x2019: 0x92,
  0x201c: 0x93,
  0x201d: 0x94,
  0x2022: 0x95,
  0x2013: 0x96,
  0x2014: 0x97,
  0x02dc: 0x98,
  0x2122: 0x99,
  0x0161: 0x9a,
  0x203a: 0x9b,
  0x0153: 0x9c,
  0x017e: 0x9e,
  0x0178: 0x9f,
};

/** The sloppy-cp1252 byte of a character, or -1 when it has none. */
function cp1252Byte(code: number): number {
  if (code < 0x80) return code;
  if (code <= 0xff) return code; // Latin-1 range, C1 controls included (sloppy decoding)
  return CP1252_SPECIALS[code] ?? -1;
}

// Candidate runs: a lead character (Â..ô = bytes C2..F4) followed by 1-3 characters whose cp1252 byte is 80..BF.
const CONT =
  '\\u0080-\\u00bf\\u20ac\\u201a\\u0192\\u201e\\u2026\\u2020\\u2021\\u02c6\\u2030\\u0160\\u2039\\u0152\\u017d' +
  '\\u2018\\u2019\\u201c\\u201d\\u2022\\u2013\\u2014\\u02dc\\u2122\\u0161\\u203a\\u0153\\u017e\\u0178';
const MOJIBAKE = new RegExp(`[\\u00c2-\\u00f4][${CONT}]{1,3}`, 'g');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Replace UTF-8-read-as-cp1252 sequences by the character they encode (see the file comment). */
export function fixMojibake(text: string): string {
  if (!/[\u00c2-\u00f4]/.test(text)) return text;
  return text.replace(MOJIBAKE, (run) => {
    const bytes = Array.from(run, (c) => cp1252Byte(c.codePointAt(0)!));
    const lead = bytes[0];
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (bytes.length < need) return run;
    let decoded: string;
    try {
      decoded = strictUtf8.decode(Uint8Array.from(bytes.slice(0, need)));
    } catch {
      return run;
    }
    // strictUtf8 rejects overlong forms and surrogates; the decoded text must be exactly one code point.
    if ([...decoded].length !== 1) return run;
    return decoded + run.slice(need);
  });
}

/** ftfy stand-in: mojibake repair + NFC (exactly; see the file comment). */
export function fixText(text: string): string {
  return fixMojibake(text).normalize('NFC');
}

/** Python's html.unescape (HTML5 named entities, numeric references with the HTML5 replacements). */
export function htmlUnescape(text: string): string {
  return text.includes('&') ? decodeHtml(text, { level: 'html5', scope: 'body' }) : text;
}

// OpenAI's cleaning uses two whitespace notions: str.strip() (str.isspace: includes U+001C-001F) at the ends,
// and the `regex` module's \s (Unicode White_Space: excludes U+001C-001F) for collapsing runs. JS \s is neither
// (it includes U+FEFF), so both classes are spelled out.
const WHITE_SPACE = '\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_ISSPACE = WHITE_SPACE + '\\u001c-\\u001f';
const WHITESPACE_RUN = new RegExp(`[${WHITE_SPACE}]+`, 'g');
const EDGE_ISSPACE = new RegExp(`^[${PY_ISSPACE}]+|[${PY_ISSPACE}]+$`, 'g');

/** Python's str.strip(). */
export function pyStrip(text: string): string {
  return text.replace(EDGE_ISSPACE, '');
}

/** OpenAI's whitespace_clean: White_Space runs -> one space, then str.strip(). */
export function collapseWhitespace(text: string): string {
  return pyStrip(text.replace(WHITESPACE_RUN, ' '));
}

// Printable ASCII without '&': NFC and mojibake repair are identities and html.unescape has nothing to do.
const PLAIN_ASCII = /^[\x20-\x25\x27-\x7e]*$/;

/** The full cleaning OpenAI's encoder applies before pre-tokenisation (result is lowercase). */
export function cleanText(text: string): string {
  if (PLAIN_ASCII.test(text)) {
    const spaced = text.includes('  ') || text.startsWith(' ') || text.endsWith(' ');
    return (spaced ? text.replace(/ +/g, ' ').trim() : text).toLowerCase();
  }
  const fixed = fixText(text);
  const basic = pyStrip(htmlUnescape(htmlUnescape(fixed)));
  return collapseWhitespace(basic).toLowerCase();
}
