// The versioned caption-cleaning function. Any change in behaviour MUST bump CLEAN_VERSION:
// the version is written into every output row so tables built by different versions never mix silently.
//
// yfcc-clean-v1, in order:
//   1. URL-unquote-plus ('+' -> space, %XX UTF-8 sequences decoded; malformed escapes kept literally)
//   2. strip HTML tags (<[^<>]+> -> space), as dalle-mini's `<[^<]+?>`
//   3. strip URLs (http(s)://..., www....), as SLIP's `http\S+|www\S+`
//   4. HTML-unescape (&amp; &quot; &#39; &eacute; ... via html-entities)
//   5. Unicode NFC normalisation, control characters -> space
//   6. collapse whitespace and trim
import { decode as decodeEntities } from 'html-entities';

export const CLEAN_VERSION = 'yfcc-clean-v1';

/** Python's urllib.parse.unquote_plus, tolerant of malformed escapes (they are kept as text). */
export function unquotePlus(s: string): string {
  if (s.indexOf('+') >= 0) s = s.replace(/\+/g, ' ');
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    // Decode each maximal run of %XX escapes separately; runs that are not valid UTF-8 stay as-is.
    return s.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return decodeBytesLossy(run);
      }
    });
  }
}

function decodeBytesLossy(run: string): string {
  const bytes = new Uint8Array(run.length / 3);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(3 * i + 1, 3 * i + 3), 16);
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

const TAG = /<[^<>]+>/g;
const URL_PATTERN = /\b(?:https?:\/\/|www\.)\S+/gi;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b\ufeff]/g;
const SPACES = /\s+/g;

export function stripHtmlTags(s: string): string {
  return s.indexOf('<') < 0 ? s : s.replace(TAG, ' ');
}
export function stripUrls(s: string): string {
  return s.replace(URL_PATTERN, ' ');
}
export function collapseWhitespace(s: string): string {
  return s.replace(SPACES, ' ').trim();
}

/** yfcc-clean-v1 of one URL-encoded YFCC text field. */
export function cleanText(raw: string): string {
  let s = unquotePlus(raw);
  s = stripHtmlTags(s);
  s = stripUrls(s);
  if (s.indexOf('&') >= 0) s = decodeEntities(s, { level: 'html5' });
  s = s.normalize('NFC').replace(CONTROL, ' ');
  return collapseWhitespace(s);
}

/** Normalised form used as an exact-dedup key: cleaned, lowercased, whitespace collapsed. */
export function normaliseForDedup(text: string): string {
  return collapseWhitespace(text.toLowerCase());
}
