// Bytes that are mostly UTF-8: valid sequences decode as UTF-8, lone bytes are repaired as Windows-1252, broken
// sequences and undefined bytes become U+FFFD and are counted.
import test from 'ava';
import { decodeBytes, type DecodeTally } from '../../src/yfcc/decode-text.ts';

const decode = (bytes: number[] | string) => {
  const tally: DecodeTally = { repaired: 0, undecodable: 0 };
  const input = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Uint8Array.from(bytes);
  return { text: decodeBytes(input, tally), ...tally };
};

test('valid UTF-8 is decoded as is, nothing counted', (t) => {
  const text = 'Caf\u00e9 \u201c\u6771\u4eac\u201d \ud83c\udf82';
  t.deepEqual(decode([...Buffer.from(text)]), { text, repaired: 0, undecodable: 0 });
});

test('lone Latin-1 / Windows-1252 bytes are repaired, mixed with valid UTF-8 around them', (t) => {
  t.deepEqual(decode('caf\xe9 au lait'), { text: 'caf\u00e9 au lait', repaired: 1, undecodable: 0 });
  t.deepEqual(decode('\x93Hello\x94 \x80 5'), { text: '\u201cHello\u201d \u20ac 5', repaired: 3, undecodable: 0 });
  t.deepEqual(decode([...Buffer.from('na\u00efve ')].concat([0xe9, 0x74, 0xe9])), {
    text: 'na\u00efve \u00e9t\u00e9',
    repaired: 2,
    undecodable: 0,
  });
  // A lead byte at the very end (Latin-1 'é' ending a word) is a letter, not a truncated sequence.
  t.deepEqual(decode('Caf\xe9'), { text: 'Caf\u00e9', repaired: 1, undecodable: 0 });
});

test('broken UTF-8 sequences, overlong forms and undefined Windows-1252 bytes become U+FFFD, counted', (t) => {
  t.deepEqual(decode([0x61, 0xe2, 0x80, 0x20]), { text: 'a\ufffd\ufffd ', repaired: 0, undecodable: 2 });
  t.deepEqual(decode([0xf0, 0x9f, 0x8e]), { text: '\ufffd\ufffd\ufffd', repaired: 0, undecodable: 3 });
  t.deepEqual(decode([0x81, 0x41]), { text: '\ufffdA', repaired: 0, undecodable: 1 });
  // 0xC0 0xAF is an overlong '/': not UTF-8; 0xC0 is not a lead byte, so both are repaired one by one.
  t.deepEqual(decode([0xc0, 0xaf]), { text: '\u00c0\u00af', repaired: 2, undecodable: 0 });
  // Encoded surrogates (0xED 0xA0 0x80) are not UTF-8 either.
  t.is(decode([0xed, 0xa0, 0x80]).undecodable, 3);
});
