"""Locks page (/locks): lock waits over time and every stored wait, so a past incident can
be reconstructed (who waited for what, behind which root blocker); average active sessions
by wait event type; deadlocks, conflicts, rollbacks and temp files per database; prepared
transactions. Kasho Ops' own waits and store database are left out unless the sidebar switch
shows them. Layout only: data.py reads, logic.py and charts.py shape it."""

from __future__ import annotations

import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core import store
from dashboard.core.context import current
from dashboard.core.loading import once_per_window, read_together
from dashboard.core.panels import chart_panel, hidden_caption
from dashboard.core.plain import chart, md
from dashboard.core.tables import dataframe
from dashboard.core.timeseries import empty_reason
from dashboard.core.units import format_bytes, format_interval
from dashboard.features import active_sessions
from dashboard.features.active_sessions import data as ash_data
from dashboard.features.active_sessions.layout import active_sessions_chart
from dashboard.features.locks import charts, data, logic

ctx = current()
x_range = (ctx.start, ctx.end)
args = (ctx.config.store.dsn, ctx.target, ctx.start, ctx.end)
bucket = ctx.bucket_for("lock_waits")
st.title("Locks")
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC · "
           f"{format_interval(bucket)} buckets")

try:
    loaded = read_together({
        "locks": lambda: store.collection_for(ctx, "lock_waits"),
        "stats": lambda: store.collection_for(ctx, "database_stats"),
        "ash": lambda: store.collection_for(ctx, active_sessions.GROUP),
        "history": lambda: data.lock_history(*args, bucket, ctx.own, ctx.show_own),
        "waits": lambda: data.lock_waits(*args, ctx.own),
        "ash frame": lambda: ash_data.session_seconds(
            *args, ctx.bucket_for(active_sessions.GROUP), "wait event type", ctx.own),
        "events": lambda: data.database_events(*args, ctx.bucket_for("database_stats")),
        "prepared": lambda: data.prepared_transactions(*args),
    })
    lock_collection, stats_collection = loaded["locks"], loaded["stats"]
    ash_collection, history, waits = loaded["ash"], loaded["history"], loaded["waits"]
    ash_frame, events, prepared = loaded["ash frame"], loaded["events"], loaded["prepared"]
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()

if lock_collection.never_collected and stats_collection.never_collected:
    st.info(f"No lock or wait samples for {md(ctx.target)} yet — is `kasho-ops collect` running?",
            icon=":material/hourglass_empty:")
    st.stop()

events, hidden_databases = logic.visible_events(events, ctx.own.databases, ctx.show_own)
waits, hidden_waits = logic.visible_waits(waits, ctx.show_own)
totals = logic.database_event_totals(events)
for column, tile in zip(st.columns(4), logic.tiles(history, totals, prepared,
                                                   ctx.range_phrase), strict=True):
    column.metric(md(tile.label), md(tile.value), md(tile.delta) if tile.delta else None,
                  tile.delta_color, help=md(tile.help) if tile.help else None,
                  border=True, delta_arrow="off")



left, right = st.columns(2)
with left:
    chart_panel(once_per_window(ctx, "locks.history", lambda: charts.lock_history_figure(
                    logic.history_on_grid(history, lock_collection),
                    lock_collection.chart_gaps(), x_range)),
                empty_reason(lock_collection, "lock wait samples", ctx.range_words))
with right:
    ash_figure, all_hidden = active_sessions_chart(
        ctx, ash_frame, ash_collection, "Average active sessions by wait event type")
    chart_panel(ash_figure, empty_reason(ash_collection, "active sessions", ctx.range_words,
                                         all_hidden))

st.subheader("Lock waits in the range")
if waits.empty:
    st.success("No session waited for a lock at any sample in the range.",
               icon=":material/check_circle:")
else:
    st.caption("Every stored wait, newest sample first (up to 1000). Depth 1 waits directly "
               "on the root blocker; no query text is stored.")
    dataframe(once_per_window(ctx, "locks.waits", lambda: logic.lock_waits_table(waits)),
              hide_index=True, width="stretch",
              placeholder="—", column_config={
                  "wait (s)": st.column_config.NumberColumn("wait", format="%.1f s"),
                  "pid": st.column_config.NumberColumn(format="%d", width="small"),
                  "depth": st.column_config.NumberColumn(width="small"),
                  "root blocker": st.column_config.TextColumn(width="medium"),
                  "waits for": st.column_config.TextColumn(width="medium")})
hidden_caption(hidden_waits, "lock wait")

st.subheader("Deadlocks, conflicts, rollbacks and temp files")
left, right = st.columns(2)
with left.container(border=True):
    figure = once_per_window(ctx, "locks.events", lambda: charts.database_events_figure(
        logic.events_on_grid(events, stats_collection), stats_collection.chart_gaps(),
        x_range))
    if figure is None:
        st.success("No deadlocks or recovery conflicts in the range.",
                   icon=":material/check_circle:")
    else:
        chart(figure)
with right:
    st.caption("Per database over the range")
    shown = totals.assign(**{"temp bytes": totals["temp bytes"].map(format_bytes)})
    dataframe(shown, hide_index=True, width="stretch", placeholder="—")
    hidden_caption(hidden_databases, "database (the metrics store)",
                   "databases (the metrics store)")
