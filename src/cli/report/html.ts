import { formatValue } from '../../harness/scenario.ts';
import type { Block, Chart } from './document.ts';

const escape = (s: string): string => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** Inline markup of the report's text: `code`, **bold**, [text](#anchor), all escaped first. */
export function inline(text: string): string {
  return escape(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/\[([^\]]+)\]\((#[a-z0-9-]+)\)/g, '<a href="$2">$1</a>');
}

const COLOURS = ['#c0392b', '#2471a3', '#7d3c98', '#1e8449'];
const W = 360;
const H = 200;
const PAD = { left: 44, right: 10, top: 22, bottom: 34 };

/**
 * One CDF chart as inline SVG: a step line per profile, y = share of all runs with a value at most
 * x (a curve that stops below 100% means some runs never got there). Times use a log axis from 1 ms
 * (values under it are drawn at its edge): recoveries span milliseconds to minutes.
 */
export function cdfSvg(chart: Chart): string {
  const xs = chart.series.flatMap((s) => s.points.map((p) => p.x));
  const log = chart.unit === 'us';
  const lo = log ? 1000 : Math.min(0, ...xs);
  const hi = Math.max(log ? 10_000 : lo + 1e-9, ...xs);
  const fx = (x: number): number => {
    const t = log ? (Math.log10(Math.max(x, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (x - lo) / (hi - lo);
    return PAD.left + t * (W - PAD.left - PAD.right);
  };
  const fy = (y: number): number => H - PAD.bottom - y * (H - PAD.top - PAD.bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="CDF of ${escape(chart.title)}">`);
  parts.push(`<text x="${PAD.left}" y="14" class="t">${escape(chart.title)}</text>`);
  for (const y of [0, 0.5, 0.95, 1]) {
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${fy(y).toFixed(1)}" y2="${fy(y).toFixed(1)}" class="g"/>`);
    // 95% gets a grid line (the p95) but no label, which would overlap 100%.
    if (y !== 0.95) parts.push(`<text x="${PAD.left - 4}" y="${(fy(y) + 3).toFixed(1)}" class="a" text-anchor="end">${y * 100}%</text>`);
  }
  for (const x of ticks(lo, hi, log)) {
    parts.push(`<line x1="${fx(x).toFixed(1)}" x2="${fx(x).toFixed(1)}" y1="${PAD.top}" y2="${H - PAD.bottom}" class="g"/>`);
    parts.push(`<text x="${fx(x).toFixed(1)}" y="${H - PAD.bottom + 12}" class="a" text-anchor="middle">${escape(formatValue(x, chart.unit).replace(/\.000s$/, 's'))}</text>`);
  }
  chart.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    let d = `M${fx(lo).toFixed(1)},${fy(0).toFixed(1)}`;
    for (const p of thin(s.points)) d += `H${fx(p.x).toFixed(1)}V${fy(p.y).toFixed(1)}`;
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.6"/>`);
    const never = s.never === 0 ? '' : `, never ${s.never}`;
    parts.push(`<text x="${PAD.left + 4 + i * 150}" y="${H - 6}" class="l" fill="${colour}">${escape(s.label)} (${s.runs} runs${never})</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** At most ~200 steps per curve: enough to see its shape, and the page stays small. */
function thin(points: ReadonlyArray<{ x: number; y: number }>): Array<{ x: number; y: number }> {
  if (points.length <= 200) return [...points];
  const step = points.length / 200;
  const out: Array<{ x: number; y: number }> = [];
  for (let i = step - 1; i < points.length; i += step) out.push(points[Math.floor(i)]!);
  if (out.at(-1) !== points.at(-1)) out.push(points.at(-1)!);
  return out;
}

function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let x = 1000; x <= hi; x *= 10) out.push(x);
    return out;
  }
  return [lo, (lo + hi) / 2, hi];
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f3f3f3}code{font-size:12px;background:#f6f6f6;padding:0 2px}h2{border-top:2px solid #ddd;padding-top:.6em;margin-top:2em}
.charts{display:flex;flex-wrap:wrap;gap:8px}svg{border:1px solid #eee;background:#fff}
svg .g{stroke:#eee}svg .a{font-size:10px;fill:#666}svg .t{font-size:12px;font-weight:600}svg .l{font-size:11px}`;

/** The report's blocks as one self-contained HTML page (inline CSS and SVG, no external resources). */
export function renderHtml(blocks: readonly Block[], title: string): string {
  const body: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading': {
        const id = b.id === undefined ? '' : ` id="${escape(b.id)}"`;
        body.push(`<h${b.level}${id}>${inline(b.text)}</h${b.level}>`);
        break;
      }
      case 'paragraph':
        body.push(`<p>${inline(b.text)}</p>`);
        break;
      case 'list':
        body.push(`<ul>${b.items.map((i) => `<li>${inline(i)}</li>`).join('')}</ul>`);
        break;
      case 'table':
        body.push(`<table><thead><tr>${b.head.map((h) => `<th>${inline(h)}</th>`).join('')}</tr></thead><tbody>`
          + b.rows.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('') + '</tbody></table>');
        break;
      case 'charts':
        if (b.charts.length > 0) body.push(`<div class="charts">${b.charts.map(cdfSvg).join('')}</div>`);
        break;
    }
  }
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title><style>${STYLE}</style></head>\n<body>\n${body.join('\n')}\n</body></html>\n`;
}
