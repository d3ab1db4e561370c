"""Locks page (/locks): lock waits over time and every stored wait, so a past incident can
be reconstructed (who waited for what, behind which root blocker); wait events; deadlocks,
conflicts, rollbacks and temp files per database; prepared transactions. Layout only:
data.py reads, logic.py and charts.py shape it."""

from __future__ import annotations

import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core.context import current
from dashboard.core.units import format_bytes, format_interval, format_seconds
from dashboard.features.locks import charts, data
from dashboard.features.locks import logic as tables

CHART_CONFIG = {"displaylogo": False}

ctx = current()
x_range = (ctx.start, ctx.end)
args = (ctx.config.store.dsn, ctx.target, ctx.start, ctx.end)
st.title("Locks")
st.caption(f"**{ctx.target}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC · "
           f"{format_interval(ctx.bucket_seconds)} buckets")

try:
    history = data.lock_history(*args, ctx.bucket_seconds)
    waits = data.lock_waits(*args)
    waits_by_event = data.wait_events(*args, ctx.bucket_seconds)
    events = data.database_events(*args, ctx.bucket_seconds)
    prepared = data.prepared_transactions(*args)
except StoreUnavailable as exc:
    st.error(str(exc), icon=":material/cloud_off:")
    st.stop()

if history.empty and waits_by_event.empty and events.empty:
    st.info(f"No lock or wait samples for {ctx.target} in the {ctx.range_label.lower()} — is "
            "`kasho-ops collect` running?", icon=":material/hourglass_empty:")
    st.stop()

totals = tables.database_event_totals(events)
tiles = st.columns(4)
tiles[0].metric("Most sessions waiting", f"{history['blocked_sessions'].max():.0f}"
                if not history.empty else "—", border=True,
                help="The most sessions waiting for a lock at one sample in the range")
tiles[1].metric("Longest lock wait", format_seconds(history["longest_wait_seconds"].max())
                if not history.empty else "—", border=True,
                help="The longest wait seen at a sample in the range")
tiles[2].metric("Deadlocks", f"{totals['deadlocks'].sum():.0f}" if not totals.empty else "—",
                border=True, help="Deadlocks the server detected in the range, all databases")
if prepared.empty:
    tiles[3].metric("Prepared transactions", "—", border=True)
else:
    latest = prepared.iloc[0]
    tiles[3].metric("Prepared transactions", f"{latest['prepared']:.0f}",
                    f"oldest {format_seconds(latest['oldest_seconds'])}"
                    if latest["prepared"] else None,
                    delta_color="orange" if latest["prepared"] else "off", delta_arrow="off",
                    border=True, help="Two-phase transactions waiting for COMMIT/ROLLBACK "
                    "PREPARED at the latest sample: they hold locks and the xmin horizon, "
                    f"and survive restarts (max_prepared_transactions "
                    f"{latest['max_prepared_transactions']:.0f})")

left, right = st.columns(2)
for column, figure, what in ((left, charts.lock_history_figure(history, x_range), "lock_waits"),
                             (right, charts.wait_events_figure(waits_by_event, x_range),
                              "wait_events")):
    with column.container(border=True):
        if figure is None:
            st.info(f"No {what} samples in range.", icon=":material/bar_chart:")
        else:
            st.plotly_chart(figure, config=CHART_CONFIG, theme=None)

st.subheader("Lock waits in the range")
if waits.empty:
    st.success("No session waited for a lock at any sample in the range.",
               icon=":material/check_circle:")
else:
    st.caption("Every stored wait, newest sample first (up to 1000). Depth 1 waits directly "
               "on the root blocker; no query text is stored.")
    st.dataframe(tables.lock_waits_table(waits), hide_index=True, width="stretch",
                 column_config={"wait (s)": st.column_config.NumberColumn(format="%.1f s"),
                                "pid": st.column_config.NumberColumn(format="%d")})

st.subheader("Deadlocks, conflicts, rollbacks and temp files")
left, right = st.columns(2)
with left.container(border=True):
    figure = charts.database_events_figure(events, x_range)
    if figure is None:
        st.success("No deadlocks or recovery conflicts in the range.",
                   icon=":material/check_circle:")
    else:
        st.plotly_chart(figure, config=CHART_CONFIG, theme=None)
with right:
    st.caption("Per database over the range")
    shown = totals.assign(**{"temp bytes": totals["temp bytes"].map(format_bytes)})
    st.dataframe(shown, hide_index=True, width="stretch")
