"""Overview page: headline tiles (latest values, changes over the range), average active
sessions, connections, transactions, cache hit ratio, database growth, the statements
active the most, and data freshness for the chosen target. Kasho Ops' own sessions and
store database are left out unless the sidebar switch shows them. Layout only: data.py
reads, logic.py and charts.py shape it."""

from __future__ import annotations

import streamlit as st

from collectors.core.errors import StoreUnavailable
from collectors.core.metric_groups import load_catalog
from dashboard.core import freshness, store
from dashboard.core.context import current
from dashboard.core.panels import chart_panel, hidden_caption
from dashboard.core.timeseries import empty_reason
from dashboard.features import active_sessions
from dashboard.features.active_sessions import charts as ash_charts
from dashboard.features.active_sessions import data as ash_data
from dashboard.features.active_sessions import logic as ash
from dashboard.features.active_sessions.layout import statements_panel
from dashboard.features.overview import charts, data, logic

ctx = current()
x_range = (ctx.start, ctx.end)
dsn = ctx.config.store.dsn
st.title("Overview")
st.caption(f"**{ctx.target}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC")

intervals = freshness.effective_intervals(
    {name: group.interval_seconds for name, group in load_catalog().items()},
    ctx.config.collector.intervals)
try:
    snapshot = store.freshness_for(ctx, list(intervals))
    collections = {group: store.collection_for(ctx, group) for group in (
        "database_size", "connections", "database_stats", active_sessions.GROUP)}
    utilization, _, own_sessions = store.connection_use(ctx)
    sizes = data.database_sizes(dsn, ctx.target, ctx.start, ctx.end,
                                ctx.bucket_for("database_size"))
    change = data.size_change(dsn, ctx.target, ctx.start, ctx.end)
    connections = data.connections_by_state(dsn, ctx.target, ctx.start, ctx.end,
                                            ctx.bucket_for("connections"), ctx.own)
    limits = data.connection_limits(dsn, ctx.target, ctx.start, ctx.end,
                                    ctx.bucket_for("connections"))
    stats = data.database_stats(dsn, ctx.target, ctx.start, ctx.end,
                                ctx.bucket_for("database_stats"), ctx.own, ctx.show_own)
    summary = data.stats_summary(dsn, ctx.target, ctx.start, ctx.end, ctx.own, ctx.show_own)
    ash_frame = ash_data.session_seconds(dsn, ctx.target, ctx.start, ctx.end,
                                         ctx.bucket_for(active_sessions.GROUP),
                                         "wait event type", ctx.own)
    ash_top = ash_data.top_statements(dsn, ctx.target, ctx.start, ctx.end, ctx.own)
    ash_collection = collections[active_sessions.GROUP]
    ash_latest = (ash_data.interval_average(dsn, ctx.target, ash_collection.last_at, ctx.own)
                  if ash_collection.last_at and ash_collection.last_at > ctx.start else None)
except StoreUnavailable as exc:
    st.error(str(exc), icon=":material/cloud_off:")
    st.stop()
groups = freshness.assess(snapshot.rows, intervals, snapshot.store_now,
                          ctx.config.dashboard.stale_after_intervals)

st.markdown(f"Data freshness: {freshness.badges_markdown(groups)}")
if all(c.never_collected for c in collections.values()):
    st.info(f"No data yet for target {ctx.target} — is `kasho-ops collect` running?",
            icon=":material/hourglass_empty:")
else:
    sizes, change, hidden_databases = logic.visible_sizes(sizes, change, ctx.own.databases,
                                                          ctx.show_own)
    active = ash.average_active_sessions(ash_frame, ash_collection, ctx.show_own)
    headline = logic.Headline(
        size=logic.size_change(change, collections["database_size"].first_at, ctx.start),
        utilization=utilization, own_sessions=own_sessions,
        stats=logic.stats_summary(summary),
        active_latest=(ash.latest_average(ash_latest, ctx.show_own)
                       if ash_latest is not None else None),
        active_peak=ash.peak_average(active))
    for column, tile in zip(st.columns(5), logic.headline_tiles(headline, ctx.range_phrase),
                            strict=True):
        column.metric(tile.label, tile.value, tile.delta, tile.delta_color, help=tile.help,
                      border=True, delta_arrow="off")
    hidden_caption(hidden_databases, "database (the metrics store)",
                   "databases (the metrics store)")
    states, _ = logic.states_on_grid(connections, collections["connections"],
                                                   ctx.show_own)
    hidden_caption(0 if ctx.show_own else own_sessions, "session")
    usable = logic.usable_series(limits)
    rates = logic.rates_on_grid(stats, collections["database_stats"])
    hits = logic.hit_ratio_on_grid(stats, collections["database_stats"])

    def reason(group: str, what: str, all_hidden: bool = False) -> str:
        return empty_reason(collections[group], what, ctx.range_words, all_hidden)

    left, right = st.columns(2)
    with left:
        chart_panel(ash_charts.active_sessions_figure(
            active.wide, ash_collection.chart_gaps(),
            "Average active sessions by wait event type", x_range),
            reason(active_sessions.GROUP, "active sessions",
                   active.hidden_session_seconds > 0))
    with right:
        chart_panel(charts.connections_figure(states, usable,
                                              collections["connections"].chart_gaps(),
                                              x_range),
                    reason("connections", "connections", states.empty and own_sessions > 0))
    left, right = st.columns(2)
    with left:
        chart_panel(charts.transactions_figure(rates, collections["database_stats"]
                                               .chart_gaps(), x_range),
                    reason("database_stats", "transaction counts"))
    with right:
        chart_panel(charts.cache_hit_figure(hits, collections["database_stats"].chart_gaps(),
                                            x_range),
                    reason("database_stats", "block reads or hits"))
    left, right = st.columns(2)
    with left:
        chart_panel(charts.database_growth_figure(
            logic.growth_frame(sizes), f"Database growth {ctx.range_words}", x_range),
            reason("database_size", "database size samples"))
    with right, st.container(border=True):
        table, hidden = ash.statements_table(ash_top, ctx.own, ctx.show_own,
                                             ash_collection.window_seconds, limit=6)
        statements_panel(table, hidden, reason(active_sessions.GROUP, "active statements"))

st.subheader("Data freshness")
st.caption(f"Last successful collection per metric group. Stale (red) when older than "
           f"{ctx.config.dashboard.stale_after_intervals:g} × the group's interval; failing "
           "when its latest run failed.")
st.dataframe(freshness.styled_table(freshness.freshness_table(groups)), hide_index=True,
             width="stretch", height=38 + 35 * len(groups))
