"""Connections page (/connections): use against the limit over time, the breakdown by
state, application, role, database or client, sessions idle in a transaction and the oldest
ages; beside them the pools of every PgBouncer in front of the server (pooling.py). A
pgbouncer target shows its pools only. Layout only: data.py reads, logic.py and charts.py
turn the frames into tables and charts."""

from __future__ import annotations

import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core.context import current
from dashboard.core.figures import DeltaColor
from dashboard.core.units import format_interval, format_seconds
from dashboard.features.connections import charts, data
from dashboard.features.connections import logic as tables
from dashboard.features.connections.pooling import poolers_for, render_pooler
from dashboard.features.overview import data as overview_data

CHART_CONFIG = {"displaylogo": False}
BREAKDOWN_PARAM = "by"
LEVEL_COLORS: dict[str, DeltaColor] = {"critical": "red", "warning": "orange"}

ctx = current()
x_range = (ctx.start, ctx.end)
args = (ctx.config.store.dsn, ctx.target, ctx.start, ctx.end)
st.title("Connections")
st.caption(f"**{ctx.target}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC")

poolers = poolers_for(ctx)
if any(p.name == ctx.target for p in poolers):  # a pgbouncer target: its pools are all
    try:
        render_pooler(ctx, poolers[0])
    except StoreUnavailable as exc:
        st.error(str(exc), icon=":material/cloud_off:")
    st.stop()

try:
    limits = overview_data.connection_limits(*args, ctx.bucket_seconds)
    latest_limits = data.latest_limits(*args)
    latest = data.latest_connections(*args)
    ages = data.session_ages(*args, ctx.bucket_seconds)
except StoreUnavailable as exc:
    st.error(str(exc), icon=":material/cloud_off:")
    st.stop()

utilization = tables.latest_utilization(latest_limits)
if utilization is None:
    st.info(f"No connection samples for {ctx.target} in the {ctx.range_label.lower()} — is "
            "`kasho-ops collect` running?", icon=":material/hourglass_empty:")
    st.stop()

if utilization.level == "critical":
    st.error(utilization.message(), icon=":material/crisis_alert:")
elif utilization.level == "warning":
    st.warning(utilization.message(), icon=":material/warning:")

idle = tables.idle_in_transaction_table(latest)
latest_ages = ages.sort_values("collected_at").iloc[-1] if not ages.empty else None
tiles = st.columns(4)
tiles[0].metric("In use", f"{utilization.client_connections} / {utilization.usable}",
                f"{utilization.percent:.0f} % of the limit", delta_arrow="off", border=True,
                delta_color=LEVEL_COLORS.get(utilization.level, "green"),
                help="Client backends at the latest sample against max_connections minus "
                     "the reserved slots, which ordinary roles cannot use")
tiles[1].metric("Idle in transaction", f"{int(idle['sessions'].sum())}",
                (f"longest {format_seconds(idle['longest idle (s)'].max())}"
                 if not idle.empty else None), delta_arrow="off", delta_color="off",
                border=True, help="Sessions holding a transaction open without running a "
                                  "query, at the latest sample: they keep locks and hold "
                                  "back vacuum")
tiles[2].metric("Waiting on a lock", f"{int(latest['waiting_on_lock'].sum())}" if not
                latest.empty else "—", border=True,
                help="Client backends waiting for a heavyweight lock at the latest sample; "
                     "see the Locks and Activity pages")
tiles[3].metric("Oldest transaction",
                format_seconds(latest_ages["longest_transaction_seconds"])
                if latest_ages is not None else "—", border=True,
                help="Age of the oldest open transaction at the latest sample in range")
st.caption(f"Latest sample {utilization.collected_at:%Y-%m-%d %H:%M:%S} UTC · limit "
           f"{utilization.usable} = max_connections {utilization.max_connections} − "
           f"{utilization.reserved_connections} reserved · charts in "
           f"{format_interval(ctx.bucket_seconds)} buckets")

with st.container(border=True):
    st.plotly_chart(charts.utilization_figure(limits, x_range), config=CHART_CONFIG,
                    theme=None)

st.subheader("Breakdown")
breakdowns = list(data.BREAKDOWNS)
chosen = st.query_params.get(BREAKDOWN_PARAM)
breakdown = st.segmented_control(
    "Break down by", breakdowns, default=chosen if chosen in breakdowns else "state",
    key="connections_breakdown") or "state"
if st.query_params.get(BREAKDOWN_PARAM) != breakdown:
    st.query_params[BREAKDOWN_PARAM] = breakdown
over_time = data.connections_by(*args, ctx.bucket_seconds, breakdown)
column = data.BREAKDOWNS[breakdown]
left, right = st.columns([3, 2])
with left.container(border=True):
    figure = charts.breakdown_figure(over_time, f"Connections by {breakdown}", x_range)
    if figure is None:
        st.info("No connections samples in range.", icon=":material/bar_chart:")
    else:
        st.plotly_chart(figure, config=CHART_CONFIG, theme=None)
with right:
    st.caption(f"At the latest sample, by {breakdown}")
    st.dataframe(tables.breakdown_table(latest, column), hide_index=True, width="stretch",
                 column_config={column: st.column_config.TextColumn(breakdown),
                                "share %": st.column_config.NumberColumn(format="%.0f %%")})

st.subheader("Idle in transaction and oldest ages")
left, right = st.columns(2)
with left:
    if idle.empty:
        st.success("No session is idle in a transaction at the latest sample.",
                   icon=":material/check_circle:")
    else:
        st.caption("Sessions idle in a transaction at the latest sample, longest first")
        st.dataframe(idle, hide_index=True, width="stretch", column_config={
            "longest idle (s)": st.column_config.NumberColumn(format="%.0f s")})
with right.container(border=True):
    figure = charts.session_ages_figure(ages, x_range)
    if figure is None:
        st.info("No session_ages samples in range.", icon=":material/bar_chart:")
    else:
        st.plotly_chart(figure, config=CHART_CONFIG, theme=None)

for pooler in poolers:
    try:
        render_pooler(ctx, pooler)
    except StoreUnavailable as exc:
        st.error(str(exc), icon=":material/cloud_off:")
