// Caption candidates and the caption policy. A row carries one candidate per caption source the
// policy asks for; text filters (min length, language) remove candidates, and a row with no
// candidate left is dropped. Policies:
//   title | description   that field only
//   concat                title and description joined into one caption ("Title. Description")
//   keep-both (default)   title and description kept as separate candidates, each filtered on its
//                         own; the table/.json keeps `captions` so a loader can choose per sample at
//                         load time (as SLIP does), and `caption`/.txt holds the first (title first).

export type CaptionPolicy = 'title' | 'description' | 'concat' | 'keep-both';
export const CAPTION_POLICIES: readonly CaptionPolicy[] = ['title', 'description', 'concat', 'keep-both'];

export interface CaptionCandidate {
  source: 'title' | 'description' | 'concat';
  text: string;
  lang?: string;
  engScore?: number;
}

export function parseCaptionPolicy(s: string): CaptionPolicy {
  if ((CAPTION_POLICIES as readonly string[]).includes(s)) return s as CaptionPolicy;
  throw new Error(`--caption: expected one of ${CAPTION_POLICIES.join(', ')}, got ${JSON.stringify(s)}`);
}

/** Build the candidates of a row from its cleaned (and camera/EXIF-screened) title and description. */
export function captionCandidates(policy: CaptionPolicy, title: string, description: string): CaptionCandidate[] {
  const out: CaptionCandidate[] = [];
  if ((policy === 'title' || policy === 'keep-both') && title) out.push({ source: 'title', text: title });
  if ((policy === 'description' || policy === 'keep-both') && description)
    out.push({ source: 'description', text: description });
  if (policy === 'concat') {
    const text =
      title && description
        ? /[.!?:]$/.test(title)
          ? `${title} ${description}`
          : `${title}. ${description}`
        : title || description;
    if (text) out.push({ source: 'concat', text });
  }
  return out;
}

/** Word and character counts used by the minimum-length filter (DataComp: > 2 words, > 5 chars). */
export function countWords(text: string): number {
  let n = 0;
  for (const w of text.split(' ')) if (/[\p{L}\p{N}]/u.test(w)) n++;
  return n;
}

export function passesMinLength(text: string, minWords: number, minChars: number): boolean {
  return [...text].length >= minChars && countWords(text) >= minWords;
}
