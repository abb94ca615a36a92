// The versioned cleaning function of YFCC text fields. Any change in behaviour MUST bump CLEAN_VERSION: the version is
// written into every output row and part, so tables built by different versions never mix silently.
//
// yfcc-clean-v2, in order:
//   1. URL-unquote-plus ('+' -> space, %XX sequences decoded as UTF-8; a lone byte that is not UTF-8, e.g. Latin-1
//      %E9, is repaired as Windows-1252 (src/yfcc/decode-text.ts); malformed escapes such as %ZZ kept literally)
//   2. strip HTML tags (<[^<>]+> -> space), as dalle-mini's `<[^<]+?>`
//   3. strip URLs (http(s)://..., www....), as SLIP's `http\S+|www\S+`
//   4. HTML-unescape (&amp; &quot; &#39; &eacute; ... via html-entities)
//   5. Unicode NFC normalisation, control characters -> space
//   6. collapse whitespace and trim
//   7. a text that still holds U+FFFD (bytes that could not be decoded, or a replacement character already in the
//      source) is dropped: it becomes '' and is reported as undecodable
// v1 decoded non-UTF-8 escapes to U+FFFD and kept them.
import { decode as decodeEntities } from 'html-entities';
import { decodeBytes, REPLACEMENT_CHARACTER, type DecodeTally } from './decode-text.ts';

export const CLEAN_VERSION = 'yfcc-clean-v2';

const ESCAPE_RUN = /(?:%[0-9a-fA-F]{2})+/g;

/**
 * Python's urllib.parse.unquote_plus, tolerant of malformed escapes (kept as text) and of escaped bytes that are not
 * UTF-8 (repaired as Windows-1252 where they can be, else U+FFFD; counted in `tally`).
 */
export function unquotePlus(s: string, tally?: DecodeTally): string {
  if (s.indexOf('+') >= 0) s = s.replace(/\+/g, ' ');
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    // Decode each maximal run of %XX escapes on its own.
    return s.replace(ESCAPE_RUN, (run) => {
      const bytes = new Uint8Array(run.length / 3);
      for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(3 * i + 1, 3 * i + 3), 16);
      return decodeBytes(bytes, tally);
    });
  }
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

export interface CleanedText {
  /** The cleaned text; '' when the field was empty, emptied by cleaning, or dropped as undecodable. */
  text: string;
  /** Bytes repaired as Windows-1252. */
  repairedBytes: number;
  /** The text held U+FFFD after decoding and was dropped. */
  undecodable: boolean;
}

/** The current cleaning (CLEAN_VERSION) of one URL-encoded YFCC text field, with what it repaired or dropped. */
export function cleanYfccTextDetailed(raw: string): CleanedText {
  const tally: DecodeTally = { repaired: 0, undecodable: 0 };
  let s = unquotePlus(raw, tally);
  s = stripHtmlTags(s);
  s = stripUrls(s);
  if (s.indexOf('&') >= 0) s = decodeEntities(s, { level: 'html5' });
  s = s.normalize('NFC').replace(CONTROL, ' ');
  s = collapseWhitespace(s);
  if (s.indexOf(REPLACEMENT_CHARACTER) >= 0) return { text: '', repairedBytes: tally.repaired, undecodable: true };
  return { text: s, repairedBytes: tally.repaired, undecodable: false };
}

/** The current cleaning (CLEAN_VERSION) of one URL-encoded YFCC text field. */
export function cleanYfccText(raw: string): string {
  return cleanYfccTextDetailed(raw).text;
}

/** Normalised form used as an exact-dedup key: cleaned, lowercased, whitespace collapsed. */
export function normaliseForDedup(text: string): string {
  return collapseWhitespace(text.toLowerCase());
}
