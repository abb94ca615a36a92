// A dependency-free SVG grouped bar chart with error bars (e.g. mean ± std over seeds): one group per x label, one
// bar per series inside each group, a legend below the plot, an optional dashed reference line (chance level).
import { escapeXml, legendSvg, niceTicks, palette, tickLabel, titleSvg } from './line-chart-svg.ts';

export interface BarGroup {
  label: string;
  /** One bar per series name; a missing series leaves a gap; NaN values draw no bar. */
  bars: Array<{ series: string; value: number; error?: number }>;
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  width?: number;
  height?: number;
  yRange?: [number, number];
  reference?: { y: number; label: string };
  /** Colour per series name (default: palette order of first appearance). */
  colors?: Record<string, string>;
}

export function barChartSvg(groups: BarGroup[], o: BarChartOptions): string {
  const series = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const colorOf = (s: string) => o.colors?.[s] ?? palette[series.indexOf(s) % palette.length];
  const W = o.width ?? Math.max(560, 90 + groups.length * (series.length * 16 + 24));
  const plotH = o.height ?? 340;
  const m = { l: 70, r: 16, t: 36, b: 60 };
  const legend = legendSvg(
    series.map((s) => ({ name: s, color: colorOf(s), swatch: 'box' as const })),
    m.l,
    plotH + 2,
    W - m.l - m.r,
  );
  const H = plotH + legend.height;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    titleSvg(o.title, W),
  ];
  const values = groups.flatMap((g) =>
    g.bars.filter((b) => Number.isFinite(b.value)).flatMap((b) => [b.value + (b.error ?? 0), b.value - (b.error ?? 0)]),
  );
  if (values.length === 0) {
    parts.push(
      `<text x="${W / 2}" y="${plotH / 2}" text-anchor="middle" font-size="13" fill="#666">no data</text></svg>`,
    );
    return parts.join('');
  }
  let [y0, y1] = o.yRange ?? [Math.min(0, ...values), Math.max(...values, o.reference?.y ?? -Infinity)];
  const yt = niceTicks(y0, y1);
  y0 = Math.min(y0, yt[0]);
  y1 = Math.max(y1, yt.at(-1)!);
  const py = (v: number) => plotH - m.b - ((v - y0) / (y1 - y0 || 1)) * (plotH - m.t - m.b);
  for (const t of yt)
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`,
      `<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end" font-size="11">${tickLabel(t)}</text>`,
    );
  const groupW = (W - m.l - m.r) / groups.length;
  const barW = Math.max(3, Math.min(22, (groupW - 12) / Math.max(1, series.length)));
  groups.forEach((g, gi) => {
    const gx = m.l + gi * groupW + (groupW - barW * series.length) / 2;
    for (const b of g.bars) {
      if (!Number.isFinite(b.value)) continue;
      const x = gx + series.indexOf(b.series) * barW;
      const top = py(Math.max(b.value, 0));
      const bottom = py(Math.min(b.value, 0));
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${Math.max(0.5, bottom - top).toFixed(1)}" fill="${colorOf(b.series)}"><title>${escapeXml(`${g.label} ${b.series}: ${tickLabel(b.value)}${b.error ? ` ± ${tickLabel(b.error)}` : ''}`)}</title></rect>`,
      );
      if (b.error && Number.isFinite(b.error) && b.error > 0) {
        const cx = x + (barW - 1) / 2;
        const [e0, e1] = [py(b.value - b.error), py(b.value + b.error)];
        parts.push(
          `<path d="M${cx.toFixed(1)} ${e0.toFixed(1)}V${e1.toFixed(1)}M${(cx - 3).toFixed(1)} ${e0.toFixed(1)}h6M${(cx - 3).toFixed(1)} ${e1.toFixed(1)}h6" stroke="#222" stroke-width="1"/>`,
        );
      }
    }
    parts.push(
      `<text x="${(m.l + (gi + 0.5) * groupW).toFixed(1)}" y="${plotH - m.b + 16}" text-anchor="middle" font-size="11">${escapeXml(g.label)}</text>`,
    );
  });
  parts.push(
    `<line x1="${m.l}" x2="${W - m.r}" y1="${py(Math.max(y0, 0))}" y2="${py(Math.max(y0, 0))}" stroke="#333"/>`,
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${plotH - m.b}" stroke="#333"/>`,
    `<text transform="translate(16 ${(m.t + plotH - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(o.yLabel)}</text>`,
  );
  if (o.reference) {
    const y = py(o.reference.y);
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}" stroke="#888" stroke-dasharray="5 4"/>`,
      `<text x="${W - m.r - 4}" y="${y - 4}" text-anchor="end" font-size="11" fill="#666">${escapeXml(o.reference.label)}</text>`,
    );
  }
  parts.push(legend.svg, '</svg>');
  return parts.join('');
}
