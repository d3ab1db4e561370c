"""Overview page: headline metrics, size / connections / transactions / cache charts, and
data freshness for the chosen target. Layout only: data.py reads, logic.py and charts.py
shape it."""

from __future__ import annotations

import streamlit as st

from collectors.core.errors import StoreUnavailable
from collectors.core.metric_groups import load_catalog
from dashboard.core import freshness, store
from dashboard.core.context import current
from dashboard.core.plain import chart, md
from dashboard.features.business import tiles as business
from dashboard.features.overview import charts, data
from dashboard.features.overview.logic import headline, headline_tiles

ctx = current()
x_range = (ctx.start, ctx.end)
st.title("Overview")
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC")

intervals = freshness.effective_intervals(
    {name: group.interval_seconds for name, group in load_catalog().items()},
    ctx.config.collector.intervals)
try:
    overview = data.overview(ctx)
    snapshot = store.freshness_for(ctx, list(intervals))
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()
groups = freshness.assess(snapshot.rows, intervals, snapshot.store_now,
                          ctx.config.dashboard.stale_after_intervals)

st.markdown(f"Data freshness: {freshness.badges_markdown(groups)}")
if overview.empty:
    st.info(f"No data yet for target {md(ctx.target)} — is `kasho-ops collect` running?",
            icon=":material/hourglass_empty:")
else:
    for column, tile in zip(st.columns(4), headline_tiles(
            headline(overview.sizes, overview.limits, overview.stats)), strict=True):
        column.metric(md(tile.label), md(tile.value), md(tile.delta) if tile.delta else None,
                      tile.delta_color, help=md(tile.help) if tile.help else None,
                      border=True, delta_arrow="off")

    business.headline_row(ctx)

    figures = [
        ("database size", charts.database_size_figure(overview.sizes, x_range)),
        ("connections", charts.connections_figure(overview.connections, overview.limits,
                                                  x_range)),
        ("transactions", charts.transactions_figure(overview.stats, x_range)),
        ("cache hit", charts.cache_hit_figure(overview.stats, x_range)),
    ]
    for row in (figures[:2], figures[2:]):
        for column, (what, figure) in zip(st.columns(2), row, strict=True):
            with column.container(border=True):
                if figure is None:
                    st.info(f"No {md(what)} samples for {md(ctx.target)} in the "
                            f"{ctx.range_label.lower()}.", icon=":material/bar_chart:")
                else:
                    chart(figure)

st.subheader("Data freshness")
st.caption(f"Last successful collection per metric group. Stale (red) when older than "
           f"{ctx.config.dashboard.stale_after_intervals:g} × the group's interval; failing "
           "when its latest run failed.")
st.dataframe(freshness.styled_table(freshness.freshness_table(groups)), hide_index=True,
             width="stretch")
