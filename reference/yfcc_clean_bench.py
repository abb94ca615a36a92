"""Python reference for bench/yfcc-clean.ts: parse the 25-column YFCC100M TSV, clean title and
description the way yfcc-clean-v1 does (unquote_plus, strip tags, strip URLs, html.unescape, NFC,
collapse whitespace), screen camera titles / EXIF descriptions with equivalent regexes, apply the
caption policy 'both' and the min-length filter (3 words, 6 chars). No language id (no franc here).
Prints {"rows", "seconds", "cpu_seconds", "survivors"} as JSON.   /usr/bin/python3 reference/yfcc_clean_bench.py FILE.tsv
"""
import html, json, re, sys, time, unicodedata
from urllib.parse import unquote_plus

TAG = re.compile(r'<[^<>]+>')
URL = re.compile(r'\b(?:https?://|www\.)\S+', re.I)
CONTROL = re.compile('[\u0000-\u001f\u007f-\u009f\u200b\ufeff]')
SPACES = re.compile(r'\s+')
EXT = r'(?:\.(?:jpe?g|png|gif|tiff?|bmp|heic|raw|cr2|crw|nef|arw|orf|rw2|dng|pef|srw|mov|mp4|avi))?'
COPY = r'(?:[ _-]?(?:\(\d+\)|copy|edit(?:ed)?|hdr|pano|\d{1,3}|[a-z]))?'
CAMERA = [
    re.compile(r'^(?:img|imgp|dsc|dscn|dscf|dsci|dcp|dscim|sdc|sdim|pict|pic|pxl|p|pa|pb|mvi|mvc|cimg|hpim|sam|photo|image|dji|gopr|gp|wp|fb|snapshot|scan|picture|dcim|kif|cam|_mg|_dsc|_igp|_img|_mg_|s|r|100|101|102)[ _-]?\d{3,}(?:[ _-]\d+)*' + COPY + EXT + '$', re.I),
    re.compile(r'^(?:(?:img|vid|pxl|photo|screenshot|pano|mvimg|burst)[ _-]?)?\d{4}[-_.]?\d{2}[-_.]?\d{2}(?:[ _T-]+\d{2}[-_.:]?\d{2}[-_.:]?\d{2}(?:[-_.]?\d{1,4})?)?(?:[-_]wa\d{4})?' + COPY + EXT + '$', re.I),
    re.compile(r'^\d+' + EXT + '$', re.I),
    re.compile(r'^[\w.-]+\.(?:jpe?g|png|gif|tiff?|bmp|heic|raw|cr2|nef|arw|dng)$', re.I),
    re.compile(r'^(?:untitled|no title|sin t[ií]tulo|ohne titel|sans titre|image|photo|picture|img|dsc)(?:[ _-]?\(?\d*\)?)?$', re.I),
]
EXIF = [re.compile(p, re.I) for p in [
    r'\bf\s?/\s?\d+(?:\.\d+)?\b|\baperture\b|\bf-?number\b',
    r'\b1/\d+\s?(?:s|sec)?\b|\bexposure(?: time)?\b|\bshutter(?: speed)?\b|\b\d+(?:\.\d+)?\s?(?:s|sec)\b',
    r'\biso(?:\s?speed)?(?:\s?ratings?)?\s?:?\s?\d{2,5}\b', r'\bfocal length\b|\b\d+(?:\.\d+)?\s?mm\b',
    r'\b(?:camera|make|model|lens)\s?:', r'\bflash\s?(?::|did not fire|fired|off|on)\b',
    r'\b(?:exposure bias|ev)\s?:?\s?[+-]?\d+(?:[./]\d+)?\b|[+-]?\d+(?:\.\d+)?\s?ev\b',
    r'\bwhite balance\b|\bmetering mode\b|\bexposure (?:program|mode)\b', r'\b(?:software|firmware|adobe photoshop|lightroom)\b\s?:?',
    r'\b(?:date ?time(?: original)?|date taken)\s?:']]
VOCAB = re.compile(r'^(?:camera|make|model|lens|aperture|exposure|time|shutter|speed|focal|length|flash|fired|fire|white|balance|auto|manual|metering|mode|program|pattern|spot|center|weighted|average|software|firmware|date|original|taken|ratings?|rating|bias|compensation|sensitivity|canon|nikon|sony|olympus|pentax|fujifilm|panasonic|samsung|apple|iphone|digital|rebel|coolpix|powershot|lumix|cyber|shot|photoshop|lightroom|adobe|ultra|zoom|normal|settings|info|exif|data|did|not|on|off|yes|none|unknown|aperture-priority|priority|landscape|portrait)$', re.I)
WORD4 = re.compile(r'^[a-z]{4,}$', re.I)
ALNUM = re.compile(r'\w')

def clean(s):
    s = unquote_plus(s)
    s = TAG.sub(' ', s)
    s = URL.sub(' ', s)
    if '&' in s: s = html.unescape(s)
    s = CONTROL.sub(' ', unicodedata.normalize('NFC', s))
    return SPACES.sub(' ', s).strip()

def is_camera(t): return any(p.search(t) for p in CAMERA)
def is_exif(d):
    if sum(1 for p in EXIF if p.search(d)) < 2: return False
    return sum(1 for w in re.split(r'[\s,;|]+', d) if WORD4.match(w) and not VOCAB.match(w)) <= 3
def ok_len(t): return len(t) >= 6 and sum(1 for w in t.split(' ') if ALNUM.search(w)) >= 3

def main(path):
    with open(path, encoding='utf-8') as f: lines = f.read().split('\n')
    if lines and lines[-1] == '': lines.pop()
    t0, c0 = time.perf_counter(), time.process_time(); survivors = 0
    for line in lines:
        cols = line.split('\t')
        if len(cols) != 25 or not cols[1].isdigit(): continue
        title, desc = clean(cols[8]) if cols[8] else '', clean(cols[9]) if cols[9] else ''
        if title and is_camera(title): title = ''
        if desc and is_exif(desc): desc = ''
        survivors += sum(1 for c in (title, desc) if c and ok_len(c))
    print(json.dumps({'rows': len(lines), 'seconds': time.perf_counter() - t0, 'cpu_seconds': time.process_time() - c0, 'survivors': survivors}))

if __name__ == '__main__': main(sys.argv[1])
