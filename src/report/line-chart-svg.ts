// A small, dependency-free SVG line chart: axes with nice ticks, one polyline per series, and a legend BELOW the
// plot area (it never covers a curve, however many series there are). Series may set their colour and dash so a
// chart can encode two things at once (e.g. colour = method, dash = model). Rendered to PNG by sharp where needed.

export interface Series {
  name: string;
  points: Array<[number, number]>;
  /** CSS colour; default: the palette colour of the series' position. */
  color?: string;
  /** SVG stroke-dasharray, e.g. '6 3'; default: solid. */
  dash?: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  logY?: boolean;
  /** Horizontal reference line (e.g. chance accuracy). */
  reference?: { y: number; label: string };
  /** Fixed y range (e.g. [0, 100] for accuracies). */
  yRange?: [number, number];
}

export const palette = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
];
export const dashes = ['', '7 4', '2 3', '9 3 2 3'];

export const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** 4-7 "nice" ticks covering [lo, hi]. */
export function niceTicks(lo: number, hi: number): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => (hi - lo) / s <= 6)!;
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++)
    ticks.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return ticks;
}

export const tickLabel = (v: number) =>
  v === 0 ? '0' : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2 ? v.toExponential(1) : String(Number(v.toPrecision(4)));

/** The chart title, centred, its font shrunk so that a long title still fits the width. */
export function titleSvg(title: string, width: number): string {
  const size = Math.min(15, Math.floor((width - 16) / (0.62 * Math.max(1, title.length))));
  return `<text x="${width / 2}" y="22" text-anchor="middle" font-size="${size}" font-weight="bold">${escapeXml(title)}</text>`;
}

/** Legend entries laid out in rows under the plot: returns the SVG and the height it needs. */
export function legendSvg(
  entries: Array<{ name: string; color: string; dash?: string; swatch?: 'line' | 'box' }>,
  x0: number,
  y0: number,
  width: number,
): { svg: string; height: number } {
  if (entries.length === 0) return { svg: '', height: 0 };
  const colWidth = Math.min(width, Math.max(90, 34 + 6.4 * Math.max(...entries.map((e) => e.name.length))));
  const perRow = Math.max(1, Math.floor(width / colWidth));
  const parts: string[] = [];
  entries.forEach((e, i) => {
    const x = x0 + (i % perRow) * colWidth;
    const y = y0 + Math.floor(i / perRow) * 16;
    parts.push(
      e.swatch === 'box'
        ? `<rect x="${x}" y="${y + 2}" width="12" height="9" fill="${e.color}"/>`
        : `<line x1="${x}" x2="${x + 20}" y1="${y + 6}" y2="${y + 6}" stroke="${e.color}" stroke-width="2"${e.dash ? ` stroke-dasharray="${e.dash}"` : ''}/>`,
      `<text x="${x + 24}" y="${y + 10}" font-size="11">${escapeXml(e.name)}</text>`,
    );
  });
  return { svg: parts.join(''), height: Math.ceil(entries.length / perRow) * 16 + 6 };
}

export function lineChartSvg(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 640;
  const plotH = o.height ?? 360;
  const m = { l: 70, r: 20, t: 36, b: 48 };
  const colorOf = (s: Series, i: number) => s.color ?? palette[i % palette.length];
  const legend = legendSvg(
    series.map((s, i) => ({ name: s.name, color: colorOf(s, i), dash: s.dash })),
    m.l,
    plotH + 2,
    W - m.l - m.r,
  );
  const H = plotH + legend.height;
  const tf = (y: number) => (o.logY ? Math.log10(Math.max(y, 1e-12)) : y);
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    titleSvg(o.title, W),
  ];
  if (pts.length === 0) {
    parts.push(
      `<text x="${W / 2}" y="${plotH / 2}" text-anchor="middle" font-size="13" fill="#666">no data</text></svg>`,
    );
    return parts.join('');
  }
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  const ys = pts.map((p) => tf(p[1])).concat(o.reference ? [tf(o.reference.y)] : []);
  let [y0, y1] = o.yRange ? [tf(o.yRange[0]), tf(o.yRange[1])] : [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) {
    x0 -= 1;
    x1 += 1;
  }
  const xt = niceTicks(x0, x1);
  const yt = niceTicks(y0, y1);
  x0 = Math.min(x0, xt[0]);
  x1 = Math.max(x1, xt.at(-1)!);
  y0 = Math.min(y0, yt[0]);
  y1 = Math.max(y1, yt.at(-1)!);
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => plotH - m.b - ((tf(y) - y0) / (y1 - y0 || 1)) * (plotH - m.t - m.b);
  const pyRaw = (v: number) => plotH - m.b - ((v - y0) / (y1 - y0 || 1)) * (plotH - m.t - m.b);
  for (const t of yt) {
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${pyRaw(t)}" y2="${pyRaw(t)}" stroke="#e5e5e5"/>`,
      `<text x="${m.l - 6}" y="${pyRaw(t) + 4}" text-anchor="end" font-size="11">${o.logY ? tickLabel(10 ** t) : tickLabel(t)}</text>`,
    );
  }
  for (const t of xt)
    parts.push(`<text x="${px(t)}" y="${plotH - m.b + 16}" text-anchor="middle" font-size="11">${tickLabel(t)}</text>`);
  parts.push(
    `<line x1="${m.l}" x2="${W - m.r}" y1="${plotH - m.b}" y2="${plotH - m.b}" stroke="#333"/>`,
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${plotH - m.b}" stroke="#333"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${plotH - 12}" text-anchor="middle" font-size="12">${escapeXml(o.xLabel)}</text>`,
    `<text transform="translate(16 ${(m.t + plotH - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(o.yLabel)}${o.logY ? ' (log)' : ''}</text>`,
  );
  if (o.reference) {
    const y = py(o.reference.y);
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="5 4"/>`,
      `<text x="${W - m.r - 4}" y="${y - 4}" text-anchor="end" font-size="11" fill="#666">${escapeXml(o.reference.label)}</text>`,
    );
  }
  series.forEach((s, i) => {
    const color = colorOf(s, i);
    const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (good.length === 1)
      parts.push(`<circle cx="${px(good[0][0])}" cy="${py(good[0][1])}" r="3.5" fill="${color}"/>`);
    else if (good.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1.6"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${good.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
      );
    if (good.length <= 30)
      for (const [x, y] of good) parts.push(`<circle cx="${px(x)}" cy="${py(y)}" r="2.5" fill="${color}"/>`);
  });
  parts.push(legend.svg, '</svg>');
  return parts.join('');
}
