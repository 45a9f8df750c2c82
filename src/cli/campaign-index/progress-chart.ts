import { scaleLinear } from 'd3-scale';
import { escapeHtml } from '../html-escape.ts';
import { fixed, LEGEND_ROW, legendRows, tickLabels } from '../report/chart-parts.ts';

/** A cumulative count over the campaign's seeds: the value after each seed, in seed order. */
export interface ProgressSeries {
  label: string;
  /** `[seedsRun, count]` steps, ascending in seedsRun; the count holds until the next step. */
  steps: Array<[number, number]>;
}

const COLOURS = ['#c0392b', '#2471a3', '#7d3c98', '#1e8449', '#b9770e', '#117a65'];
const W = 560;
const LEFT = 46;
const RIGHT = 16;
const TOP = 24;
const PLOT_H = 170;

/**
 * Failing seeds and distinct bugs as the campaign went along: how many were found within the first
 * n seeds. A bug line that flattens early says more seeds would mostly find the same bugs again.
 * Linear scales with nice ticks from d3-scale; the legend is one row per series.
 */
export function progressSvg(title: string, seeds: number, series: readonly ProgressSeries[]): string {
  const max = Math.max(1, ...series.flatMap((s) => s.steps.map(([, n]) => n)));
  const fx = scaleLinear().domain([0, Math.max(1, seeds)]).nice(6).range([LEFT, W - RIGHT]);
  const fy = scaleLinear().domain([0, max]).nice(5).range([TOP + PLOT_H, TOP]);
  const bottom = TOP + PLOT_H;
  const legendTop = bottom + 46;
  const H = legendTop + series.length * LEGEND_ROW + 4;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" class="progress" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">`];
  parts.push(`<text x="${LEFT}" y="14" class="t">${escapeHtml(title)}</text>`);
  for (const y of fy.ticks(5).filter(Number.isInteger)) {
    parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${fixed(fy(y))}" y2="${fixed(fy(y))}" class="g"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${fixed(fy(y) + 3)}" class="a tick-label" text-anchor="end">${y}</text>`);
  }
  const xTicks = fx.ticks(6).filter(Number.isInteger).map((v) => ({ x: fx(v), label: String(v) }));
  for (const t of xTicks) parts.push(`<line x1="${fixed(t.x)}" x2="${fixed(t.x)}" y1="${TOP}" y2="${bottom}" class="g"/>`);
  parts.push(...tickLabels(xTicks, bottom + 16, W));
  parts.push(`<text x="${LEFT}" y="${bottom + 30}" class="a cap">x: seeds run, in seed order; y: found within them</text>`);
  series.forEach((s, i) => {
    let d = `M${fixed(fx(0))},${fixed(fy(0))}`;
    for (const [at, n] of s.steps) d += `H${fixed(fx(at))}V${fixed(fy(n))}`;
    d += `H${fixed(fx(seeds))}`;
    parts.push(`<path d="${d}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.6"><title>${escapeHtml(s.label)}</title></path>`);
  });
  const last = (s: ProgressSeries): number => s.steps.at(-1)?.[1] ?? 0;
  parts.push(...legendRows(series.map((s, i) => ({ colour: COLOURS[i % COLOURS.length]!, text: `${s.label}: ${last(s)}` })), LEFT, legendTop, W - LEFT - 4));
  parts.push('</svg>');
  return parts.join('');
}
