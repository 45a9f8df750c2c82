import type { Block } from './document.ts';

const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The report's blocks as GitHub-flavoured Markdown (charts are HTML-only and left out). */
export function renderMarkdown(blocks: readonly Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${b.text}`, '');
        break;
      case 'paragraph':
        out.push(b.text, '');
        break;
      case 'list':
        out.push(...b.items.map((i) => `- ${i}`), '');
        break;
      case 'table':
        out.push(`| ${b.head.map(cell).join(' | ')} |`, `|${b.head.map(() => '---').join('|')}|`);
        out.push(...b.rows.map((r) => `| ${r.map(cell).join(' | ')} |`), '');
        break;
      case 'charts':
        break;
    }
  }
  return out.join('\n');
}
