import { scaleLinear } from 'd3-scale';
import { formatTime, SECOND, type Micros } from '../../sim-cluster/index.ts';
import { escapeHtml } from '../html-escape.ts';
import type { FaultBand } from './fault-bands.ts';
import type { Lane, Narrated } from '../../contract/explain.ts';
import type { MessageArrow } from './messages.ts';

/** A vertical line across the whole figure: the heal, the recovery bound, the violation. */
export interface Mark {
  t: Micros;
  label: string;
  detail: string;
  tone: 'heal' | 'bound' | 'healthy' | 'violation';
}

export interface FigureInput {
  lanes: readonly Lane[];
  bands: readonly FaultBand[];
  /** Key events drawn on the lane of the process they concern. */
  markers: readonly Narrated[];
  arrows: readonly MessageArrow[];
  marks: readonly Mark[];
  end: Micros;
  /** Horizontal scales the page offers (pixels per simulated second), and the initial one's index. */
  scales: readonly number[];
  level: number;
  /** Where the violation's mark links to: the violated command's life, when the page tells it. */
  violationHref?: string;
}

export const LABEL_WIDTH = 190;
const ROW = 22;
const GROUP_GAP = 10;
export const AXIS = 18;
const MARK_ROW = 16;
const BAND_ROW = 15;
const CHAR_PX = 6.2;
/** Room left and right of the run, so that markers at its first and last instants show whole. */
export const PAD = 10;

/** Ticks are about this far apart at every zoom level. */
const TICK_MIN_PX = 70;
/** Room a tick's label needs right of its line. */
const TICK_LABEL_PX = 40;
/** Bands and instants narrower than this are widened so they can be seen and hovered. */
export const MIN_WIDTH_PX = 2;

const x = (t: Micros, k: number, dx = 0): string => (Math.round(((t / SECOND) * k + dx) * 10) / 10).toString();
const title = (text: string): string => `<title>${escapeHtml(text)}</title>`;

/**
 * The time axis's ticks at every zoom level, in seconds: d3-scale's nice ticks (1-2-5 steps) for the
 * run's length at that level's width. The page draws the current level's; its script redraws them
 * from this table when the zoom changes (a table, not an element per tick and level: a long run at
 * the closest zoom has a thousand ticks).
 */
export function zoomTicks(end: Micros, scales: readonly number[]): number[][] {
  const seconds = Math.max(end / SECOND, 1);
  return scales.map((k) => {
    const count = Math.max(2, Math.floor((seconds * k) / TICK_MIN_PX));
    // A tick whose label would run past the run's end is left out at that level: it would be clipped.
    return scaleLinear().domain([0, seconds]).ticks(count).filter((v) => (seconds - v) * k >= TICK_LABEL_PX);
  });
}

/** One tick of the time axis; the page's script makes the same markup (`tick` in html.ts's SCRIPT). */
function tick(s: number, k: number, height: number): string {
  const t = Math.round(s * SECOND);
  return `<g class="tick"><line data-t="${t}" x1="${x(t, k)}" x2="${x(t, k)}" y1="${AXIS - 4}" y2="${height}"/><text data-t="${t}" data-dx="2" x="${x(t, k, 2)}" y="12" class="tick-label">${Number(s.toPrecision(6))}s</text></g>`;
}

/** A horizontal interval; the page's script re-lays it out from `data-a`/`data-b` on zoom. */
function span(from: Micros, to: Micros, k: number, attrs: string, inner: string): string {
  const w = Math.max(MIN_WIDTH_PX, ((to - from) / SECOND) * k);
  return `<rect data-a="${from}" data-b="${to}" x="${x(from, k)}" width="${Math.round(w * 10) / 10}" ${attrs}>${inner}</rect>`;
}

/** How many distinct holder colours the page's stylesheet defines (`.c0` ...). */
export const PALETTE_SIZE = 8;

/**
 * A colour per holder (a pod or replica name), the same in every lane, so that a Redis mapping to a
 * pod other than the one holding the connection stands out. Assigned in name order, for stability.
 */
function holderColours(lanes: readonly Lane[]): Map<string, number> {
  const names = new Set<string>();
  for (const lane of lanes) for (const s of lane.segments) if (s.tone === 'value' && !s.label.includes(' + ')) names.add(s.label);
  return new Map([...names].sort().map((name, i) => [name, i % PALETTE_SIZE]));
}

/** Stacks labels in rows so that none overlaps another at the initial scale. */
function stackRows(items: readonly { t: Micros; label: string }[], k: number, end: Micros): number[] {
  const rowEnds: number[] = [];
  return items.map((item) => {
    const width = item.label.length * CHAR_PX + 8;
    const anchor = (item.t / SECOND) * k;
    const left = nearEnd(item.t, end) ? anchor - width : anchor;
    let row = rowEnds.findIndex((right) => right <= left);
    if (row === -1) row = rowEnds.push(0) - 1;
    rowEnds[row] = left + width;
    return row;
  });
}

/** Labels in the last part of the run are written leftwards from their instant, so they stay on the page. */
function nearEnd(t: Micros, end: Micros): boolean {
  return t > end * 0.85;
}

/** A label at instant `t`; the page's script moves it on zoom. */
function label(t: Micros, y: number, k: number, end: Micros, cls: string, text: string, tip: string): string {
  const leftwards = nearEnd(t, end);
  const dx = leftwards ? -3 : 3;
  return `<text data-t="${t}" data-dx="${dx}" x="${x(t, k, dx)}" y="${y}" class="${cls}"${leftwards ? ' text-anchor="end"' : ''}>${escapeHtml(text)}${title(tip)}</text>`;
}

/**
 * The timeline figure: lane labels (a fixed column) and the time-scaled SVG. Returns both so the
 * page can keep the labels in view while the timeline scrolls.
 */
export function renderFigure(f: FigureInput): { labels: string; timeline: string; height: number } {
  const k = f.scales[f.level]!;
  const markRows = stackRows(f.marks.map((m) => ({ t: m.t, label: m.label })), k, f.end);
  const bandTop = AXIS + (markRows.length === 0 ? 0 : Math.max(...markRows) + 1) * MARK_ROW;
  const rows = stackRows(f.bands.map((b) => ({ t: b.from, label: b.label })), k, f.end);
  const lanesTop = bandTop + (rows.length === 0 ? 0 : Math.max(...rows) + 1) * BAND_ROW + 4;
  const tops = new Map<string, number>();
  let y = lanesTop;
  f.lanes.forEach((lane, i) => {
    // The holder lanes (Lease, connection, routing) stand apart from the process lanes.
    if (i > 0 && (lane.kind === 'process') !== (f.lanes[i - 1]!.kind === 'process')) y += GROUP_GAP;
    tops.set(lane.name, y);
    y += ROW;
  });
  const height = y + 6;
  const width = Math.ceil((f.end / SECOND) * k) + PAD * 2;
  const mid = (p: string): number | undefined => (tops.has(p) ? tops.get(p)! + ROW / 2 : undefined);

  const colours = holderColours(f.lanes);
  const labels = f.lanes.map((lane) => {
    const top = tops.get(lane.name)!;
    const colour = colours.get(lane.name);
    const swatch = colour === undefined ? '' : `<rect x="6" y="${top + 6}" width="10" height="10" class="c${colour}"/>`;
    return `${swatch}<text x="${LABEL_WIDTH - 8}" y="${top + 15}" class="lane-label ${lane.kind}">${escapeHtml(lane.name)}${title(lane.title)}</text>`;
  });

  const tickTable = zoomTicks(f.end, f.scales);
  const ticks = tickTable[f.level]!.map((s) => tick(s, k, height));

  const bands = f.bands.map((b, i) => {
    const ly = bandTop + rows[i]! * BAND_ROW;
    return `<g class="band">${span(b.from, b.to, k, `y="${ly}" height="${height - ly}" class="band-area" tabindex="0"`, title(b.detail))}`
      + `${label(b.from, ly + 11, k, f.end, 'band-label', b.label, b.detail)}</g>`;
  });

  const lanes = f.lanes.map((lane) => {
    const top = tops.get(lane.name)!;
    const segs = lane.segments.map((s) => {
      const colour = colours.get(s.label);
      const cls = s.tone !== 'value' ? s.tone : colour === undefined ? 'conflict' : `c${colour}`;
      const labelW = Math.ceil(s.label.length * CHAR_PX + 6);
      const shown = ((s.to - s.from) / SECOND) * k >= labelW ? '' : ' style="display:none"';
      return span(s.from, s.to, k, `y="${top + 2}" height="${ROW - 4}" class="seg ${cls}"`, title(s.detail))
        + `<text data-t="${s.from}" data-dx="3" data-span="${s.to - s.from}" data-w="${labelW}" x="${x(s.from, k)}" y="${top + 15}" class="seg-label"${shown}>${escapeHtml(s.label)}</text>`;
    });
    return `<g class="lane"><rect x="${-PAD}" y="${top}" width="100%" height="${ROW}" class="lane-bg"/>${segs.join('')}</g>`;
  });

  const markers = f.markers.flatMap((m) => {
    const cy = mid(m.p);
    if (cy === undefined) return [];
    return [`<circle data-t="${m.t}" cx="${x(m.t, k)}" cy="${cy + 5}" r="3.5" class="marker ${m.topic}" tabindex="0">${title(`${formatTime(m.t)} ${m.what}`)}</circle>`];
  });

  const arrows = f.arrows.flatMap((a) => {
    const y1 = mid(a.from);
    const y2 = mid(a.to);
    if (y1 === undefined || y2 === undefined || y1 === y2) return [];
    // A dropped message stops halfway to its receiver, with a cross; a delivered one ends at it, one arrowhead short.
    const end = a.dropped === null ? y2 + (y2 > y1 ? -4 : 4) : (y1 + y2) / 2;
    const cls = a.dropped === null ? '' : ' class="dropped"';
    // Positioned by the page's script when shown: arrows are hidden at first.
    return [`<line data-t1="${a.sent}" data-t="${a.t}" y1="${y1}" y2="${end}"${cls}>${title(a.detail)}</line>`];
  });

  const marks = f.marks.map((m, i) => {
    const ly = AXIS + markRows[i]! * MARK_ROW;
    const text = label(m.t, ly + 12, k, f.end, '', m.label, m.detail);
    // The violation's label links to the violated command's whole life (a table under the figure).
    const linked = m.tone === 'violation' && f.violationHref !== undefined ? `<a href="${escapeHtml(f.violationHref)}" class="to-life">${text}</a>` : text;
    return `<g class="mark ${m.tone}"><line data-t="${m.t}" x1="${x(m.t, k)}" x2="${x(m.t, k)}" y1="${ly}" y2="${height}" tabindex="0">${title(m.detail)}</line>${linked}</g>`;
  });

  // A group, not an image: its key events, faults and marks are focusable, each with its tooltip.
  const timeline = `<svg id="timeline" width="${width}" height="${height}" data-end="${f.end}" data-scales="${JSON.stringify(f.scales)}" data-level="${f.level}" role="group" aria-label="timeline">`
    + '<defs><marker id="head" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0L6,3L0,6z" class="head"/></marker>'
    + '<marker id="cross" viewBox="0 0 8 8" refX="4" refY="4" markerWidth="8" markerHeight="8"><path d="M1,1L7,7M7,1L1,7" class="cross"/></marker></defs>'
    + `<g transform="translate(${PAD},0)"><g id="grid" data-ticks="${JSON.stringify(tickTable)}" data-y2="${height}">${ticks.join('')}</g><g id="lanes">${lanes.join('')}</g><g id="bands">${bands.join('')}</g>`
    + `<g id="markers">${markers.join('')}</g><g id="arrows" style="display:none">${arrows.join('')}</g><g id="marks">${marks.join('')}</g></g></svg>`;
  return { labels: `<svg class="labels" width="${LABEL_WIDTH}" height="${height}">${labels.join('')}</svg>`, timeline, height };
}
