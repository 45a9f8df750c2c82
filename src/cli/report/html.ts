import { escapeHtml as escape } from '../html-escape.ts';
import { cdfSvg } from './cdf-chart.ts';
import type { Block } from './document.ts';

/** Inline markup of the report's text: `code`, **bold**, [text](#anchor), all escaped first. */
export function inline(text: string): string {
  return escape(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/\[([^\]]+)\]\((#[a-z0-9-]+)\)/g, '<a href="$2">$1</a>');
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f3f3f3}code{font-size:12px;background:#f6f6f6;padding:0 2px}h2{border-top:2px solid #ddd;padding-top:.6em;margin-top:2em}
.charts{display:flex;flex-wrap:wrap;gap:8px}svg{border:1px solid #eee;background:#fff}
svg .g{stroke:#eee}svg .a{font-size:10px;fill:#666}svg .t{font-size:12px;font-weight:600}svg .l{font-size:11px}
svg .brk{stroke:#999;fill:none}svg .never-col{fill:#f7f7f7;stroke:#ddd;stroke-dasharray:2 2}`;

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
