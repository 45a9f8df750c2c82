import { scaleLinear } from 'd3-scale';
import { escapeHtml } from '../html-escape.ts';
import { EDGE_AT, fractionAxis, timeAxis, type Axis } from './axes.ts';
import { fixed, LEGEND_ROW, legendRows, tickLabels } from './chart-parts.ts';
import type { Chart } from './document.ts';

const COLOURS = ['#c0392b', '#2471a3', '#7d3c98', '#1e8449'];
const W = 400;
const PLOT_TOP = 24;
const PLOT_H = 140;
const LEFT = 42;
const RIGHT = 14;
/** The column right of the plot where the runs in which the thing never happened are drawn. */
const NEVER_W = 40;
/** At most ~200 steps per curve: enough to see its shape, and the page stays small. */
function thin(points: ReadonlyArray<{ x: number; y: number }>): Array<{ x: number; y: number }> {
  if (points.length <= 200) return [...points];
  const step = points.length / 200;
  const out: Array<{ x: number; y: number }> = [];
  for (let i = step - 1; i < points.length; i += step) out.push(points[Math.floor(i)]!);
  if (out.at(-1) !== points.at(-1)) out.push(points.at(-1)!);
  return out;
}

function axisFor(chart: Chart): Axis {
  if (chart.unit === 'fraction') return fractionAxis(chart.series.map((s) => s.points.map((p) => p.x)));
  return timeAxis(chart.series.flatMap((s) => s.points.map((p) => p.x)));
}

/**
 * One CDF chart as inline SVG: a step curve per profile, y = share of all runs with a value at most
 * x. Runs in which the thing never happened are not hidden in a curve that stops short: a column
 * labelled "never" right of the plot shows each profile's share of them as a bar. The legend is one
 * row per profile under the axis, so it cannot overlap itself or the plot, however long its text.
 */
export function cdfSvg(chart: Chart): string {
  const axis = axisFor(chart);
  const anyNever = chart.series.some((s) => s.never > 0);
  const plotRight = W - RIGHT - (anyNever ? NEVER_W : 0);
  const fx = (v: number): number => LEFT + axis.at(v) * (plotRight - LEFT);
  const fy = scaleLinear().domain([0, 1]).range([PLOT_TOP + PLOT_H, PLOT_TOP]);
  const bottom = PLOT_TOP + PLOT_H;
  const legendTop = bottom + 46;
  const H = legendTop + chart.series.length * LEGEND_ROW + 4;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="cdf" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="CDF of ${escapeHtml(chart.title)}">`);
  parts.push(`<text x="${LEFT}" y="14" class="t">${escapeHtml(chart.title)}</text>`);
  for (const y of fy.ticks(5)) {
    parts.push(`<line x1="${LEFT}" x2="${plotRight}" y1="${fixed(fy(y))}" y2="${fixed(fy(y))}" class="g"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${fixed(fy(y) + 3)}" class="a tick-label" text-anchor="end">${Math.round(y * 100)}%</text>`);
  }
  const xTicks = axis.ticks.map((t) => ({ x: LEFT + t.at * (plotRight - LEFT), label: t.label }));
  if (axis.edge !== undefined) xTicks.push({ x: plotRight, label: axis.edge.label });
  for (const t of xTicks) parts.push(`<line x1="${fixed(t.x)}" x2="${fixed(t.x)}" y1="${PLOT_TOP}" y2="${bottom}" class="g"/>`);
  if (axis.edge !== undefined) {
    // A break in the axis before exactly 100%, which a log of the unavailability cannot place.
    const bx = LEFT + (EDGE_AT + 1) / 2 * (plotRight - LEFT);
    parts.push(`<path d="M${fixed(bx - 4)},${bottom + 4}L${fixed(bx)},${bottom - 4}M${fixed(bx)},${bottom + 4}L${fixed(bx + 4)},${bottom - 4}" class="brk"/>`);
  }
  // With a never column, the axis's labels end where it begins.
  parts.push(...tickLabels(xTicks, bottom + 16, anyNever ? plotRight + 6 : W));
  if (anyNever) {
    const nx = plotRight + NEVER_W / 2;
    parts.push(`<rect x="${plotRight + 6}" y="${PLOT_TOP}" width="${NEVER_W - 8}" height="${PLOT_H}" class="never-col"/>`);
    parts.push(`<text x="${nx}" y="${bottom + 16}" class="a tick-label" text-anchor="middle">never</text>`);
  }
  parts.push(`<text x="${LEFT}" y="${bottom + 30}" class="a cap">${escapeHtml(axis.caption)}; y: share of runs</text>`);
  chart.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const points = thin(s.points);
    let d = `M${fixed(points.length === 0 ? LEFT : fx(points[0]!.x))},${fixed(fy(0))}`;
    for (const p of points) d += `H${fixed(fx(p.x))}V${fixed(fy(p.y))}`;
    if (s.never > 0) d += `H${plotRight}`;
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.6"><title>${escapeHtml(s.label)}</title></path>`);
    if (s.never > 0) {
      const bx = plotRight + 12 + i * 7;
      const reached = s.runs === 0 ? 0 : 1 - s.never / s.runs;
      parts.push(`<rect x="${bx}" y="${fixed(fy(1))}" width="5" height="${fixed(fy(reached) - fy(1))}" fill="${colour}" class="never-bar"><title>${escapeHtml(`${s.label}: never in ${s.never} of ${s.runs} runs`)}</title></rect>`);
    }
  });
  parts.push(...legendRows(chart.series.map((s, i) => ({ colour: COLOURS[i % COLOURS.length]!, text: `${s.label}: ${s.runs} runs${s.never === 0 ? '' : `, never in ${s.never}`}` })), LEFT, legendTop, W - LEFT - 4));
  parts.push('</svg>');
  return parts.join('');
}
