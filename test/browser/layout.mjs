// layout checks the page's geometry in the browser (passed to page.evaluate): the visible
// controls, texts, tables and charts that overlap one another (neither containing the other),
// and whether the page is wider than the window.
export function overlaps() {
  const sel = 'label, button, select, input, progress, h1, h2, h3, p, table, .chart, #drop, img, #collapse';
  const els = [...document.querySelectorAll(sel)].filter((e) => {
    const r = e.getBoundingClientRect();
    return e.offsetParent !== null && r.width > 0 && r.height > 0;
  });
  const name = (e) => e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}${e.className ? '.' + e.className : ''}("${(e.textContent || '').trim().slice(0, 24)}")`;
  const found = [];
  for (let i = 0; i < els.length; i++) {
    const a = els[i].getBoundingClientRect();
    for (let j = i + 1; j < els.length; j++) {
      if (els[i].contains(els[j]) || els[j].contains(els[i])) continue;
      const b = els[j].getBoundingClientRect();
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) found.push(`${name(els[i])} × ${name(els[j])}`);
    }
  }
  const wide = els.filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).map(name);
  return { overlaps: found, tooWide: document.documentElement.scrollWidth > window.innerWidth + 1, scrollWidth: document.documentElement.scrollWidth, wide };
}
