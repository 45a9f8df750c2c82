import { escapeHtml } from '../html-escape.ts';

/** Pieces every chart of the HTML pages draws the same way: tick labels that stay inside, legends in rows. */

/** Width of a character of the 10-11 px labels, over-estimated so that an estimate never under-reserves room. */
export const CHAR_PX = 6.4;

/**
 * Tick labels placed so that none leaves the chart or touches its neighbour: a label near an edge is
 * anchored on its inner side, and a label that would overlap the one before it is left out (its grid
 * line stays).
 */
export function tickLabels(ticks: ReadonlyArray<{ x: number; label: string }>, y: number, maxX: number): string[] {
  let right = -Infinity;
  const out: string[] = [];
  for (const t of ticks) {
    if (t.label === '') continue;
    const w = t.label.length * CHAR_PX;
    const anchor = t.x - w / 2 < 2 ? 'start' : t.x + w / 2 > maxX - 2 ? 'end' : 'middle';
    const left = anchor === 'start' ? t.x : anchor === 'end' ? t.x - w : t.x - w / 2;
    if (left < right + 6) continue;
    right = left + w;
    out.push(`<text x="${fixed(t.x)}" y="${y}" class="a tick-label" text-anchor="${anchor}">${escapeHtml(t.label)}</text>`);
  }
  return out;
}

/** One decimal: positions in an SVG, short and byte-stable. */
export const fixed = (v: number): string => v.toFixed(1);

export const LEGEND_ROW = 15;

/**
 * A legend as one row per series from `top`, so that entries cannot overlap whatever their length;
 * an entry too long for `width` is cut with an ellipsis, its whole text in its tooltip.
 */
export function legendRows(items: ReadonlyArray<{ colour: string; text: string }>, x: number, top: number, width: number): string[] {
  const fits = Math.floor((width - 14) / CHAR_PX);
  return items.map((item, i) => {
    const y = top + i * LEGEND_ROW;
    const text = item.text.length <= fits ? escapeHtml(item.text) : `${escapeHtml(item.text.slice(0, fits - 1))}…<title>${escapeHtml(item.text)}</title>`;
    return `<g class="legend-item"><rect x="${x}" y="${y - 9}" width="10" height="10" fill="${item.colour}"/>`
      + `<text x="${x + 14}" y="${y}" class="l">${text}</text></g>`;
  });
}
