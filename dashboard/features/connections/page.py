"""Connections page (/connections): use against the usable limit over time, the breakdown by
state, application, role, database or client, sessions idle in a transaction and the oldest
ages, with Kasho Ops' own sessions left out unless the sidebar switch shows them; beside them
the pools of every PgBouncer in front of the server (pooling.py). A pgbouncer target shows its
pools only. Layout only: data.py reads, logic.py and charts.py turn the frames into tables
and charts."""

from __future__ import annotations

import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core import store
from dashboard.core.context import current
from dashboard.core.loading import once_per_window, read_together
from dashboard.core.panels import chart_panel, hidden_caption
from dashboard.core.plain import md
from dashboard.core.tables import dataframe
from dashboard.core.timeseries import empty_reason
from dashboard.core.units import format_interval
from dashboard.features.connections import charts, data, logic
from dashboard.features.connections.pooling import poolers_for, render_pooler
from dashboard.features.overview import data as overview_data

BREAKDOWN_PARAM = "by"

ctx = current()
x_range = (ctx.start, ctx.end)
args = (ctx.config.store.dsn, ctx.target, ctx.start, ctx.end)
bucket = ctx.bucket_for("connections")
st.title("Connections")
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC")

poolers = poolers_for(ctx)
if any(p.name == ctx.target for p in poolers):  # a pgbouncer target: its pools are all
    try:
        render_pooler(ctx, poolers[0])
    except StoreUnavailable as exc:
        st.error(md(exc), icon=":material/cloud_off:")
    st.stop()

hidden_databases = () if ctx.show_own else tuple(sorted(ctx.own.databases))
try:
    loaded = read_together({
        "use": lambda: store.connection_use(ctx),
        "collection": lambda: store.collection_for(ctx, "connections"),
        "limits collection": lambda: store.collection_for(ctx, "connection_limits", bucket),
        "ages collection": lambda: store.collection_for(ctx, "session_ages", bucket),
        "limits": lambda: overview_data.connection_limits(*args, bucket),
        "ages": lambda: data.session_ages(*args, bucket, hidden_databases),
    })
    utilization, latest, own_sessions = loaded["use"]
    collection, limits_collection = loaded["collection"], loaded["limits collection"]
    ages_collection, limits, ages = loaded["ages collection"], loaded["limits"], loaded["ages"]
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()

if utilization is None:
    st.info(md(empty_reason(limits_collection, "connection samples", ctx.range_words)),
            icon=":material/hourglass_empty:")
    st.stop()

if utilization.level == "critical":
    st.error(md(utilization.message()), icon=":material/crisis_alert:")
elif utilization.level == "warning":
    st.warning(md(utilization.message()), icon=":material/warning:")

shown = logic.visible_sessions(latest, ctx.show_own)
idle = logic.idle_in_transaction_table(shown)
for place, tile in zip(st.columns(4), logic.tiles(utilization, own_sessions, idle, shown, ages),
                       strict=True):
    place.metric(md(tile.label), md(tile.value), md(tile.delta) if tile.delta else None,
                 tile.delta_color, help=md(tile.help) if tile.help else None,
                 border=True, delta_arrow="off")
st.caption(f"Latest sample {utilization.collected_at:%Y-%m-%d %H:%M:%S} UTC · usable "
           f"{utilization.usable:d} = max_connections {utilization.max_connections:d} − "
           f"{utilization.reserved_connections:d} reserved · charts in "
           f"{format_interval(bucket)} buckets")
if not ctx.show_own:
    hidden_caption(own_sessions, "session")

chart_panel(once_per_window(ctx, "connections.use", lambda: charts.utilization_figure(
                logic.use_on_grid(limits, limits_collection), limits_collection.chart_gaps(),
                x_range)),
            empty_reason(limits_collection, "connection samples", ctx.range_words))

st.subheader("Breakdown")
breakdowns = list(data.BREAKDOWNS)
chosen = st.query_params.get(BREAKDOWN_PARAM)
breakdown = st.segmented_control(
    "Break down by", breakdowns, default=chosen if chosen in breakdowns else "state",
    key="connections_breakdown") or "state"
if st.query_params.get(BREAKDOWN_PARAM) != breakdown:
    st.query_params[BREAKDOWN_PARAM] = breakdown
try:
    over_time = data.connections_by(*args, bucket, breakdown, ctx.own)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()
by_column = data.BREAKDOWNS[breakdown]
left, right = st.columns([3, 2])
with left:
    chart_panel(once_per_window(ctx, "connections.breakdown", lambda: charts.breakdown_figure(
                logic.breakdown_on_grid(over_time, collection, ctx.show_own),
                collection.chart_gaps(), f"Connections by {breakdown}", x_range), breakdown),
                empty_reason(collection, "connections", ctx.range_words,
                             all_hidden=own_sessions > 0 and shown.empty))
with right:
    st.caption(f"At the latest sample, by {md(breakdown)}")
    dataframe(logic.breakdown_table(shown, by_column), hide_index=True, width="stretch",
              placeholder="—", column_config={
                  by_column: st.column_config.TextColumn(breakdown, width="medium"),
                  "connections": st.column_config.NumberColumn(width="small"),
                  "share %": st.column_config.NumberColumn(format="%.0f %%",
                                                           width="small"),
                  "waiting": st.column_config.NumberColumn(
                      width="small", help="Of them, waiting for a lock")})

st.subheader("Idle in transaction and oldest ages")
left, right = st.columns(2)
with left:
    if idle.empty:
        st.success("No session is idle in a transaction at the latest sample.",
                   icon=":material/check_circle:")
    else:
        st.caption("Sessions idle in a transaction at the latest sample, longest first")
        dataframe(idle, hide_index=True, width="stretch", placeholder="—", column_config={
            "longest idle (s)": st.column_config.NumberColumn("longest idle", format="%.0f s")})
with right:
    chart_panel(once_per_window(ctx, "connections.ages", lambda: charts.session_ages_figure(
                logic.ages_on_grid(ages, ages_collection), ages_collection.chart_gaps(),
                x_range)),
                empty_reason(ages_collection, "session ages", ctx.range_words))

for pooler in poolers:
    try:
        render_pooler(ctx, pooler)
    except StoreUnavailable as exc:
        st.error(md(exc), icon=":material/cloud_off:")
