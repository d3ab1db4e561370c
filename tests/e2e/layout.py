"""What a readable page is, as one script to evaluate in Chromium (the layout tests' rule)."""

from typing import Any

# Legends, titles and axes of every plotly chart on the page, as rectangles; axis labels cut
# by the chart's edge; a plot pushed down under its title (something drawn above it grew the
# top margin, which holds only the title); controls, tile texts cut short, and tables that
# scroll sideways: with TABLES_FIT any such table, with TABLES_PINNED one whose first column
# does not stay in view. Returns one line per problem found.
TABLES_FIT = "fit"
TABLES_PINNED = "pinned"
LAYOUT_PROBLEMS = """
async (tableRule) => {
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
  const tables = [...document.querySelectorAll('[data-testid=stDataFrame]')];
  for (const [i, table] of tables.entries()) {
    const scroller = table.querySelector('.dvn-scroller');
    if (!scroller || scroller.scrollWidth <= scroller.clientWidth + 2) continue;
    const wide = `table ${i} scrolls sideways (${scroller.scrollWidth} > ${scroller.clientWidth})`;
    if (tableRule !== 'pinned') { problems.push(wide); continue; }
    // Scrolled to its right edge, the grid's accessible twin lists the columns in view (once
    // it has caught up with the scroll): the first one is among them only when it is pinned.
    const listed = () => [...table.querySelectorAll('[role=columnheader]')]
      .map(h => h.getAttribute('aria-colindex')).join();
    const before = scroller.scrollLeft, wasListed = listed();
    scroller.scrollLeft = scroller.scrollWidth;
    for (let waited = 0; waited < 1500 && listed() === wasListed; waited += 50)
      await new Promise(resolve => setTimeout(resolve, 50));
    const named = table.querySelector('[role=columnheader][aria-colindex="1"]');
    scroller.scrollLeft = before;  // and back, for whatever reads the grid next
    for (let waited = 0; waited < 1500 && listed() !== wasListed; waited += 50)
      await new Promise(resolve => setTimeout(resolve, 50));
    if (!named) problems.push(`${wide} without its first column pinned`);
  }
  return problems;
}
"""

# Plotly lays out legends and text in the frames after it draws a chart.
SETTLE_MS = 1500


def layout_problems(page: Any, tables: str = TABLES_PINNED) -> list[str]:
    """The layout rule's findings on the page as drawn, once its charts have settled."""
    page.wait_for_timeout(SETTLE_MS)
    problems: list[str] = page.evaluate(LAYOUT_PROBLEMS, tables)
    return problems
