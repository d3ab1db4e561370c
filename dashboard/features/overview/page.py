"""Overview page: headline tiles (latest values, changes over the range), average active
sessions, connections, transactions, cache hit ratio, database growth, the statements
active the most, and data freshness for the chosen target. Kasho Ops' own sessions and
store database are left out unless the sidebar switch shows them. Layout only: data.py
reads, logic.py and charts.py shape it."""

from __future__ import annotations

from functools import partial

import streamlit as st

from collectors.core.errors import StoreUnavailable
from collectors.core.metric_groups import load_catalog
from dashboard.core import freshness, store
from dashboard.core.context import current
from dashboard.core.loading import once_per_window, read_together
from dashboard.core.panels import chart_panel, hidden_caption
from dashboard.core.plain import md
from dashboard.core.tables import dataframe
from dashboard.core.timeseries import empty_reason
from dashboard.features import active_sessions
from dashboard.features.active_sessions import charts as ash_charts
from dashboard.features.active_sessions import data as ash_data
from dashboard.features.active_sessions import logic as ash
from dashboard.features.active_sessions.layout import statements_panel
from dashboard.features.business import tiles as business
from dashboard.features.overview import charts, data, logic

# The groups whose collections the charts complete their buckets with.
GROUPS = ("database_size", "connections", "database_stats", active_sessions.GROUP)

ctx = current()
x_range = (ctx.start, ctx.end)
st.title("Overview")
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC")

intervals = freshness.effective_intervals(
    {name: group.interval_seconds for name, group in load_catalog().items()},
    ctx.config.collector.intervals)
dsn, target, start, end = ctx.config.store.dsn, ctx.target, ctx.start, ctx.end
try:
    loaded = read_together({
        "snapshot": lambda: store.freshness_for(ctx, list(intervals)),
        **{f"collection {group}": partial(store.collection_for, ctx, group)
           for group in GROUPS},
        "use": lambda: store.connection_use(ctx),
        "sizes": lambda: data.database_sizes(dsn, target, start, end,
                                             ctx.bucket_for("database_size")),
        "change": lambda: data.size_change(dsn, target, start, end),
        "connections": lambda: data.connections_by_state(
            dsn, target, start, end, ctx.bucket_for("connections"), ctx.own),
        "limits": lambda: data.connection_limits(dsn, target, start, end,
                                                 ctx.bucket_for("connections")),
        "stats": lambda: data.database_stats(dsn, target, start, end,
                                             ctx.bucket_for("database_stats"), ctx.own,
                                             ctx.show_own),
        "summary": lambda: data.stats_summary(dsn, target, start, end, ctx.own, ctx.show_own),
        "ash": lambda: ash_data.session_seconds(dsn, target, start, end,
                                                ctx.bucket_for(active_sessions.GROUP),
                                                "wait event type", ctx.own),
        "ash_top": lambda: ash_data.top_statements(dsn, target, start, end, ctx.own),
    })
    snapshot = loaded["snapshot"]
    collections = {group: loaded[f"collection {group}"] for group in GROUPS}
    utilization, _, own_sessions = loaded["use"]
    sizes, change, connections = loaded["sizes"], loaded["change"], loaded["connections"]
    limits, stats, summary = loaded["limits"], loaded["stats"], loaded["summary"]
    ash_frame, ash_top = loaded["ash"], loaded["ash_top"]
    ash_collection = collections[active_sessions.GROUP]
    ash_latest = (ash_data.interval_average(dsn, target, ash_collection.last_at, ctx.own)
                  if ash_collection.last_at and ash_collection.last_at > ctx.start else None)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()
groups = freshness.assess(snapshot.rows, intervals, snapshot.store_now,
                          ctx.config.dashboard.stale_after_intervals)

st.markdown(f"Data freshness: {freshness.badges_markdown(groups)}")
if all(c.never_collected for c in collections.values()):
    st.info(f"No data yet for target {md(ctx.target)} — is `kasho-ops collect` running?",
            icon=":material/hourglass_empty:")
    business.headline_row(ctx)  # the business groups read another role: they may be there
else:
    def shaped() -> logic.Shaped:
        """The tiles' inputs and the charts, from this window's reads (once per window)."""
        visible, visible_change, hidden_databases = logic.visible_sizes(
            sizes, change, ctx.own.databases, ctx.show_own)
        active = ash.average_active_sessions(ash_frame, ash_collection, ctx.show_own)
        states, _ = logic.states_on_grid(connections, collections["connections"],
                                         ctx.show_own)
        stats_gaps = collections["database_stats"].chart_gaps()
        rates = logic.rates_on_grid(stats, collections["database_stats"])
        hits = logic.hit_ratio_on_grid(stats, collections["database_stats"])
        return logic.Shaped(
            change=visible_change, hidden_databases=hidden_databases,
            active_peak=ash.peak_average(active),
            active_hidden=active.hidden_session_seconds > 0, connections_empty=states.empty,
            statements=ash.statements_table(ash_top, ctx.own, ctx.show_own,
                                            ash_collection.window_seconds, limit=6),
            figures={
                "active": ash_charts.active_sessions_figure(
                    active.wide, ash_collection.chart_gaps(),
                    "Average active sessions by wait event type", x_range),
                "connections": charts.connections_figure(
                    states, logic.usable_series(limits),
                    collections["connections"].chart_gaps(), x_range),
                "transactions": charts.transactions_figure(rates, stats_gaps, x_range),
                "cache": charts.cache_hit_figure(hits, stats_gaps, x_range),
                "growth": charts.database_growth_figure(
                    logic.growth_frame(visible), f"Database growth {ctx.range_words}", x_range),
            })

    view = once_per_window(ctx, "overview", shaped)
    headline = logic.Headline(
        size=logic.size_change(view.change, collections["database_size"].first_at, ctx.start),
        utilization=utilization, own_sessions=own_sessions,
        stats=logic.stats_summary(summary),
        active_latest=(ash.latest_average(ash_latest, ctx.show_own)
                       if ash_latest is not None else None),
        active_peak=view.active_peak)
    for column, tile in zip(st.columns(5), logic.headline_tiles(headline, ctx.range_phrase),
                            strict=True):
        column.metric(md(tile.label), md(tile.value), md(tile.delta) if tile.delta else None,
                      tile.delta_color, help=md(tile.help) if tile.help else None,
                      border=True, delta_arrow="off")
    hidden_caption(view.hidden_databases, "database (the metrics store)",
                   "databases (the metrics store)")
    hidden_caption(0 if ctx.show_own else own_sessions, "session")

    business.headline_row(ctx)

    def reason(group: str, what: str, all_hidden: bool = False) -> str:
        return empty_reason(collections[group], what, ctx.range_words, all_hidden)

    left, right = st.columns(2)
    with left:
        chart_panel(view.figures["active"],
                    reason(active_sessions.GROUP, "active sessions", view.active_hidden))
    with right:
        chart_panel(view.figures["connections"],
                    reason("connections", "connections",
                           view.connections_empty and own_sessions > 0))
    left, right = st.columns(2)
    with left:
        chart_panel(view.figures["transactions"],
                    reason("database_stats", "transaction counts"))
    with right:
        chart_panel(view.figures["cache"], reason("database_stats", "block reads or hits"))
    left, right = st.columns(2)
    with left:
        chart_panel(view.figures["growth"], reason("database_size", "database size samples"))
    with right, st.container(border=True):
        table, hidden = view.statements
        statements_panel(table, hidden, reason(active_sessions.GROUP, "active statements"))

st.subheader("Data freshness")
st.caption(f"Last successful collection per metric group. Stale (red) when older than "
           f"{ctx.config.dashboard.stale_after_intervals:g} × the group's interval; failing "
           "when its latest run failed.")
dataframe(freshness.freshness_table(groups), hide_index=True,
          width="stretch", height=38 + 35 * len(groups))
