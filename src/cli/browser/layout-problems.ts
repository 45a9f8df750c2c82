/**
 * What the browser tests measure in a page, as an expression evaluated in it (plain JavaScript: it
 * runs in the browser, not here). From the texts' bounding boxes as laid out: in a chart (any SVG
 * but the timeline), no two texts overlap (legend entries, tick labels, title, caption) and none
 * reaches outside the SVG; a legend entry (`.legend-item`, its swatch included) overlaps no other
 * legend entry or text. In the timeline, whose lanes carry labels by design, the tick labels alone
 * are held to this. Evaluates to a list of problems in words, empty when there are none; hidden
 * elements (zoom levels not shown, labels too wide for their segment) are skipped.
 */
export const LAYOUT_PROBLEMS = `(() => {
  const problems = [];
  const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).display !== 'none' && getComputedStyle(el).visibility !== 'hidden';
  const box = (el) => ({ el, text: el.textContent, r: el.getBoundingClientRect() });
  document.querySelectorAll('svg').forEach((svg, n) => {
    const name = svg.getAttribute('aria-label') || svg.id || 'svg ' + n;
    const edge = svg.getBoundingClientRect();
    const legend = [...svg.querySelectorAll('.legend-item')].filter(shown).map(box);
    const texts = [...svg.querySelectorAll(svg.id === 'timeline' ? '.tick-label' : 'text')].filter(shown).map(box);
    for (let i = 0; i < legend.length; i++) for (let j = i + 1; j < legend.length; j++) {
      if (overlap(legend[i].r, legend[j].r)) problems.push(name + ': legend entries "' + legend[i].text + '" and "' + legend[j].text + '" overlap');
    }
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      if (t.r.left < edge.left - 0.5 || t.r.right > edge.right + 0.5 || t.r.top < edge.top - 0.5 || t.r.bottom > edge.bottom + 0.5) problems.push(name + ': "' + t.text + '" is clipped by the chart\\'s edge');
      for (let j = i + 1; j < texts.length; j++) if (overlap(t.r, texts[j].r)) problems.push(name + ': "' + t.text + '" and "' + texts[j].text + '" overlap');
      for (const l of legend) if (!l.el.contains(t.el) && overlap(t.r, l.r)) problems.push(name + ': "' + t.text + '" overlaps legend entry "' + l.text + '"');
    }
  });
  return problems;
})()`;
