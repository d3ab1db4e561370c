"""What a readable page is, as one script to evaluate in Chromium (the layout tests' rule)."""

# Legends, titles and axes of every plotly chart on the page, as rectangles; axis labels cut
# by the chart's edge; a plot pushed down under its title (something drawn above it grew the
# top margin, which holds only the title); controls, tile texts cut short, and tables that
# scroll sideways. Returns one line per problem found.
LAYOUT_PROBLEMS = """
(allowScroll) => {
  const problems = [];
  const box = e => e.getBoundingClientRect();
  const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1
                            && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  document.querySelectorAll('.js-plotly-plot').forEach(plot => {
    const name = (plot.querySelector('.gtitle') || {}).textContent || '(untitled chart)';
    const layout = plot._fullLayout;
    if (layout && layout._size.t > layout.margin.t + 2)
      problems.push(`${name}: plot pushed down ${Math.round(layout._size.t - layout.margin.t)} `
                    + 'px under its title');
    const drawn = box(plot.querySelector('.main-svg') || plot);
    plot.querySelectorAll('.xtick text, .ytick text, .g-xtitle text, .g-ytitle text').forEach(t => {
      const b = box(t);
      if (b.width && (b.left < drawn.left - 1 || b.right > drawn.right + 1
                      || b.top < drawn.top - 1 || b.bottom > drawn.bottom + 1))
        problems.push(`${name}: axis label cut: ${t.textContent}`);
    });
    const legend = plot.querySelector('.legend');
    if (!legend) return;
    const area = box(legend.querySelector('.bg') || legend);
    const title = plot.querySelector('.gtitle');
    if (title && overlap(box(title), area)) problems.push(`${name}: legend over the title`);
    plot.querySelectorAll('.xtick text, .g-xtitle text, .nsewdrag').forEach(e => {
      if (overlap(box(e), area)) problems.push(`${name}: legend over the plot or its axis`);
    });
    if (legend.querySelector('.scrollbar') && box(legend.querySelector('.scrollbar')).height > 0)
      problems.push(`${name}: legend scrolls`);
    legend.querySelectorAll('.legendtext').forEach(t => {
      if (box(t).right > area.right + 1)
        problems.push(`${name}: legend entry cut: ${t.textContent}`);
    });
  });
  document.querySelectorAll('[data-testid=stButtonGroup]').forEach(group => {
    const outer = box(group.parentElement);
    group.querySelectorAll('button').forEach(b => {
      if (box(b).right > outer.right + 1 || group.scrollWidth > group.clientWidth + 1)
        problems.push(`control clipped: ${b.textContent}`);
    });
  });
  document.querySelectorAll('[data-testid=stMetric] .stMarkdownEllipsis').forEach(t => {
    if (t.scrollWidth > t.clientWidth + 1) problems.push(`tile text cut: ${t.textContent}`);
  });
  document.querySelectorAll('[data-testid=stDataFrame]').forEach((table, i) => {
    const scroller = table.querySelector('.dvn-scroller');
    if (!scroller || allowScroll) return;
    if (scroller.scrollWidth > scroller.clientWidth + 2)
      problems.push(`table ${i} scrolls sideways (${scroller.scrollWidth} > `
                    + `${scroller.clientWidth})`);
  });
  return problems;
}
"""
