// Regexes for machine-generated text: camera file names used as titles and EXIF dumps used as
// descriptions. Both are applied to CLEANED text. A title matches only if the WHOLE title is a
// file-name-like token (optionally with an image extension and a copy suffix), so
// "IMG_1234" is rejected but "IMG_1234 sunset at the pier" is kept.

const IMAGE_EXTENSIONS = 'jpe?g|png|gif|tiff?|bmp|heic|raw|cr2|crw|nef|arw|orf|rw2|dng|pef|srw|mov|mp4|avi';
const IMAGE_EXT = String.raw`(?:\.(?:${IMAGE_EXTENSIONS}))?`;
const CAMERA_PREFIXES =
  'img|imgp|dsc|dscn|dscf|dsci|dcp|dscim|sdc|sdim|pict|pic|pxl|p|pa|pb|mvi|mvc|cimg|hpim|sam|photo|image|dji|gopr|' +
  'gp|wp|fb|snapshot|scan|picture|dcim|kif|cam|_mg|_dsc|_igp|_img|_mg_|s|r|100|101|102';
const COPY_SUFFIX = String.raw`(?:[ _-]?(?:\(\d+\)|copy|edit(?:ed)?|hdr|pano|\d{1,3}|[a-z]))?`;

const CAMERA_TITLE_PATTERNS: RegExp[] = [
  // Camera/phone file-name prefixes followed by a counter: IMG_1234, DSC01234, DSCN0001, P1010001, GOPR0123, ...
  new RegExp(String.raw`^(?:${CAMERA_PREFIXES})[ _-]?\d{3,}(?:[ _-]\d+)*` + COPY_SUFFIX + IMAGE_EXT + '$', 'i'),
  // Timestamps: 20160716_113957, 2016-07-16 11.39.57, 20160716-113957-123, IMG_20160716_113957,
  // PXL_20210101_123456789, PANO_..., IMG-20190101-WA0001 (WhatsApp)
  new RegExp(
    String.raw`^(?:(?:img|vid|pxl|photo|screenshot|pano|mvimg|burst)[ _-]?)?` +
      String.raw`\d{4}[-_.]?\d{2}[-_.]?\d{2}` +
      String.raw`(?:[ _T-]+\d{2}[-_.:]?\d{2}[-_.:]?\d{2}(?:[-_.]?\d{1,4})?)?` +
      String.raw`(?:[-_]wa\d{4})?` +
      COPY_SUFFIX +
      IMAGE_EXT +
      '$',
    'i',
  ),
  // A bare number or hex/alnum blob with an image extension: 1234567, 8f3a9c.jpg, untitled.jpg
  new RegExp(String.raw`^\d+` + IMAGE_EXT + '$', 'i'),
  new RegExp(String.raw`^[\w.-]+\.(?:jpe?g|png|gif|tiff?|bmp|heic|raw|cr2|nef|arw|dng)$`, 'i'),
  // Placeholder titles that carry no content.
  /^(?:untitled|no title|sin t[ií]tulo|ohne titel|sans titre|image|photo|picture|img|dsc)(?:[ _-]?\(?\d*\)?)?$/i,
];

/** True when a (cleaned) title is a camera/phone file name or a placeholder. */
export function isCameraTitle(title: string): boolean {
  const t = title.trim();
  if (t.length === 0) return false;
  for (const re of CAMERA_TITLE_PATTERNS) if (re.test(t)) return true;
  return false;
}

// EXIF-like markers; a description is EXIF-like when at least EXIF_MIN_MARKERS distinct markers
// occur and they cover most of its words (so a real sentence that mentions "f/2.8" survives).
const EXIF_MARKERS: Array<[string, RegExp]> = [
  ['aperture', /\bf\s?\/\s?\d+(?:\.\d+)?\b|\baperture\b|\bf-?number\b/i],
  ['shutter', /\b1\/\d+\s?(?:s|sec)?\b|\bexposure(?: time)?\b|\bshutter(?: speed)?\b|\b\d+(?:\.\d+)?\s?(?:s|sec)\b/i],
  ['iso', /\biso(?:\s?speed)?(?:\s?ratings?)?\s?:?\s?\d{2,5}\b/i],
  ['focal', /\bfocal length\b|\b\d+(?:\.\d+)?\s?mm\b/i],
  ['camera', /\b(?:camera|make|model|lens)\s?:/i],
  ['flash', /\bflash\s?(?::|did not fire|fired|off|on)\b/i],
  ['ev', /\b(?:exposure bias|ev)\s?:?\s?[+-]?\d+(?:[./]\d+)?\b|[+-]?\d+(?:\.\d+)?\s?ev\b/i],
  ['whitebalance', /\bwhite balance\b|\bmetering mode\b|\bexposure (?:program|mode)\b/i],
  ['software', /\b(?:software|firmware|adobe photoshop|lightroom)\b\s?:?/i],
  ['datetime', /\b(?:date ?time(?: original)?|date taken)\s?:/i],
];
export const EXIF_MIN_MARKERS = 2;

/** Count the distinct EXIF markers present in a (cleaned) description. */
export function exifMarkerCount(description: string): number {
  let n = 0;
  for (const [, re] of EXIF_MARKERS) if (re.test(description)) n++;
  return n;
}

/** Words that belong to EXIF dumps (not prose), matched whole and case-insensitively. */
const EXIF_VOCABULARY = new RegExp(
  '^(?:' +
    'camera|make|model|lens|aperture|exposure|time|shutter|speed|focal|length|flash|fired|fire|white|balance|auto|' +
    'manual|metering|mode|program|pattern|spot|center|weighted|average|software|firmware|date|original|taken|' +
    'ratings?|rating|bias|compensation|sensitivity|canon|nikon|sony|olympus|pentax|fujifilm|panasonic|samsung|' +
    'apple|iphone|digital|rebel|coolpix|powershot|lumix|cyber|shot|photoshop|lightroom|adobe|ultra|zoom|normal|' +
    'settings|info|exif|data|did|not|on|off|yes|none|unknown|aperture-priority|priority|landscape|portrait' +
    ')$',
  'i',
);

/**
 * True when a (cleaned) description looks like camera settings: at least EXIF_MIN_MARKERS distinct
 * markers, and at most `maxProseWords` words that are plain alphabetic words of 4+ letters outside
 * the EXIF vocabulary (prose signal).
 */
export function isExifDescription(description: string, maxProseWords = 3): boolean {
  if (exifMarkerCount(description) < EXIF_MIN_MARKERS) return false;
  let prose = 0;
  for (const w of description.split(/[\s,;|]+/)) {
    if (/^[a-z]{4,}$/i.test(w) && !EXIF_VOCABULARY.test(w)) prose++;
  }
  return prose <= maxProseWords;
}
