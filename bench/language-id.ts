// Benchmark: precision and recall of "English" for the language identifiers we considered, on the labelled captions
// in fixtures/language/ (all, short titles of <= 60 characters, longer captions), English recall on the Flickr8k-1k
// captions in ../shared (when present; 5 000 plain English sentences), and the cost per caption.
//   node bench/language-id.ts [--show-errors]
// franc-min and tinyld are loaded only here and only if installed (the filter uses eld).
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  readLabelledCaptions,
  precisionRecall,
  SHORT_CAPTION_CHARS,
  type LabelledCaption,
} from '../fixtures/language/labelled-captions.ts';
import { isEnglish, latinShare, loadLanguageIdentifier } from '../src/yfcc/language.ts';

const showErrors = process.argv.includes('--show-errors');
const set = readLabelledCaptions();
const flickrPath = fileURLToPath(new URL('../../shared/data/flickr8k-1k/captions.txt', import.meta.url));
const flickr = existsSync(flickrPath)
  ? readFileSync(flickrPath, 'utf8')
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.slice(l.indexOf(',') + 1).replace(/ \.$/, ''))
  : [];

type Decide = (text: string) => boolean;
const optional = async (name: string): Promise<any> => {
  try {
    return await import(name);
  } catch {
    return undefined;
  }
};
const candidates: Array<[string, Decide | undefined]> = [];
const script =
  (decide: Decide): Decide =>
  (t) =>
    latinShare(t) >= 0.5 && decide(t);

const franc = await optional('franc-min');
// franc-min as the filter used it before: texts under 20 characters and 'und' kept, else English score >= 0.9.
const francRule: Decide | undefined = franc
  ? (t) => {
      if (t.length < 20) return true;
      const all: Array<[string, number]> = franc.francAll(t.slice(0, 200), { minLength: 20 });
      if (all.length === 0 || all[0][0] === 'und') return true;
      return (all.find(([code]) => code === 'eng')?.[1] ?? 0) >= 0.9;
    }
  : undefined;
candidates.push(['franc-min 6.2.0 (the filter before)', francRule]);
candidates.push(['script check + franc-min', francRule && script(francRule)]);
const tinyld = await optional('tinyld');
const tinyRule: Decide | undefined = tinyld ? (t) => tinyld.detectAll(t)[0]?.lang === 'en' : undefined;
candidates.push(['tinyld 1.3.4 (best = en)', tinyRule]);
candidates.push(['script check + tinyld', tinyRule && script(tinyRule)]);
for (const size of ['extrasmall', 'small', 'medium', 'large']) {
  const mod = await optional(`eld/${size}`);
  candidates.push([`eld 2.1.0 ${size} (best = en)`, mod ? (t) => mod.eld.detect(t).language === 'en' : undefined]);
}
const identifier = await loadLanguageIdentifier();
const eldLarge = (await import('eld/large')).eld;
candidates.push([
  'script check + eld large, en >= 0.95 x best',
  script((t) => {
    const s: Record<string, number> = eldLarge.detect(t).getScores();
    const best = Math.max(0, ...Object.values(s));
    return best > 0 && (s.en ?? 0) >= 0.95 * best;
  }),
]);
candidates.push(['chosen: script check + eld large + tl near tie', (t) => isEnglish(identifier.identify(t))]);

const short = set.filter((c) => c.text.length <= SHORT_CAPTION_CHARS),
  long = set.filter((c) => c.text.length > SHORT_CAPTION_CHARS);
const count = (s: LabelledCaption[]) =>
  `${s.filter((c) => c.lang === 'en').length} en + ${s.filter((c) => c.lang !== 'en').length} other`;
console.log(
  `load average: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(
  `labelled set: ${set.length} captions (${count(set)}) in ${new Set(set.map((c) => c.lang)).size} ` +
    `languages; short (<= ${SHORT_CAPTION_CHARS} chars): ${count(short)}; long: ${count(long)}; Flickr8k ` +
    `English captions: ${flickr.length || 'not found'}`,
);
const pct = (x: number) => (100 * x).toFixed(1).padStart(5);
console.log(
  `\n| identifier | precision | recall | short: precision | short: recall | long: precision | long: recall | ` +
    `Flickr8k recall | CPU us/caption |`,
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const [name, decide] of candidates) {
  if (!decide) {
    console.log(`| ${name} | not installed |`);
    continue;
  }
  const all = precisionRecall(set, decide),
    s = precisionRecall(short, decide),
    l = precisionRecall(long, decide);
  // CPU time of this process (steadier than wall time on a shared machine).
  const cpu = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  const c0 = cpu();
  let flickrYes = 0;
  for (const t of flickr) if (decide(t)) flickrYes++;
  const us = flickr.length ? (cpu() - c0) / flickr.length : NaN;
  console.log(
    `| ${name} | ${pct(all.precision)} | ${pct(all.recall)} | ${pct(s.precision)} | ${pct(s.recall)} | ` +
      `${pct(l.precision)} | ${pct(l.recall)} | ${flickr.length ? pct(flickrYes / flickr.length) : '-'} | ` +
      `${us.toFixed(0)} |`,
  );
  if (showErrors) {
    console.log(`  false positives: ${all.falsePositives.map((c) => `${c.lang}: ${c.text}`).join(' | ')}`);
    console.log(`  false negatives: ${all.falseNegatives.map((c) => c.text).join(' | ')}`);
  }
}
