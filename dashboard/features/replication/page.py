"""Replication page (/replication): a primary's standbys and slots, or a standby's own replay,
now and over the range, with the replication states the collector computed. Layout only:
data.py reads, logic.py and charts.py shape it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core import recovery_states
from dashboard.core.context import current
from dashboard.core.plain import chart, md
from dashboard.core.tables import dataframe
from dashboard.core.units import format_bytes, format_seconds
from dashboard.features.replication import charts, data
from dashboard.features.replication import logic as tables

ctx = current()
x_range = (ctx.start, ctx.end)
args = (ctx.config.store.dsn, ctx.target, ctx.start, ctx.end)
st.title("Replication")
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC")

target = ctx.config.target(ctx.target)
recovery_states.stop_unless_server(target)

try:
    states = recovery_states.latest_states(ctx.config.store.dsn, ctx.target)
    recovery = recovery_states.latest_recovery(ctx.config.store.dsn, ctx.target, ctx.end)
    standbys = data.latest_standbys(*args)
    slots = data.latest_slots(*args)
    lag_history = data.standby_lag_history(*args, ctx.bucket_seconds)
    slot_history = data.slot_history(*args, ctx.bucket_seconds)
    replay_history = data.recovery_history(*args, ctx.bucket_seconds)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()

if recovery.empty and lag_history.empty and slot_history.empty:
    st.info(f"No replication samples for {md(ctx.target)} in the {ctx.range_label.lower()} — is "
            "`kasho-ops collect` running?", icon=":material/hourglass_empty:")
    st.stop()

notice = recovery_states.standby_notice(recovery)
if notice:
    st.info(md(notice), icon=":material/sync:")
recovery_states.render(states, recovery_states.REPLICATION_STATES,
                       "Replication lag and slot retention: every check passes.")
if notice:
    row = recovery.iloc[0]
    tiles = st.columns(4)
    tiles[0].metric("Replay delay", format_seconds(row["replay_delay_seconds"]), border=True,
                    help="Now minus the commit time of the last replayed transaction; 0 when "
                         "everything received has been replayed")
    tiles[1].metric("Received, not replayed", format_bytes(
        float(row["receive_replay_lag_bytes"] or 0)), border=True)
    last_replay = row["last_replay_time"]
    tiles[2].metric("Last replayed transaction", "—" if pd.isna(last_replay)
                    else f"{last_replay:%H:%M:%S} UTC", border=True,
                    help="Commit time of the last transaction this standby replayed")
    paused = row["replay_paused"]
    tiles[3].metric("Replay", "PAUSED" if paused else "running",
                    "pg_wal_replay_resume() to continue" if paused else None,
                    delta_color="red" if paused else "off", delta_arrow="off", border=True)
    with st.container(border=True):
        figure = charts.standby_delay_figure(replay_history, x_range)
        if figure is None:
            st.info("No replay samples in the range.", icon=":material/bar_chart:")
        else:
            chart(figure)
    if standbys.empty and slots.empty:
        st.stop()
    st.caption("Standbys and slots of this standby (cascading replication)")
elif not recovery.empty:
    st.caption("This target is a primary (not in recovery).")

inactive = tables.inactive_slots_retaining(slots)
tiles = st.columns(4)
tiles[0].metric("Standbys streaming", f"{len(standbys)}",
                f"{int((standbys['sync_state'] == 'sync').sum())} synchronous"
                if not standbys.empty else None, delta_color="off", delta_arrow="off",
                border=True)
tiles[1].metric("Largest replay lag", format_bytes(float(standbys["replay_lag_bytes"].max()))
                if not standbys.empty else "—",
                format_seconds(standbys["replay_lag_seconds"].max())
                if not standbys.empty and standbys["replay_lag_seconds"].notna().any() else None,
                delta_color="off", delta_arrow="off", border=True)
tiles[2].metric("Replication slots", f"{len(slots)}",
                f"{len(inactive)} inactive keeping WAL" if len(inactive) else None,
                delta_color="red" if len(inactive) else "off", delta_arrow="off", border=True)
tiles[3].metric("WAL kept by slots", format_bytes(float(slots["retained_wal_bytes"].max() or 0))
                if not slots.empty else "—", border=True,
                help="The most WAL one slot keeps on disk (restart_lsn to now)")

st.subheader("Standbys")
if standbys.empty:
    st.info("No standby was streaming from this target at the latest sample.",
            icon=":material/sync_disabled:")
else:
    dataframe(tables.standbys_table(standbys), hide_index=True, width="stretch")
left, right = st.columns(2)
for column, figure, what in (
        (left, charts.lag_bytes_figure(lag_history, x_range), "lag in bytes"),
        (right, charts.lag_seconds_figure(lag_history, x_range), "lag in time")):
    with column.container(border=True):
        if figure is None:
            st.info(f"No standby {what} in the range.", icon=":material/bar_chart:")
        else:
            chart(figure)

st.subheader("Replication slots")
for slot in inactive.itertuples(index=False):
    kept = format_bytes(float(slot.retained_wal_bytes))
    st.warning(md(f"Inactive slot {slot.slot_name} keeps {kept} of WAL (wal_status "
                     f"{slot.wal_status}): pg_wal grows until its consumer reconnects or the "
                     "slot is dropped (pg_drop_replication_slot)."),
               icon=":material/warning:")
if slots.empty:
    st.info("No replication slots at the latest sample.", icon=":material/info:")
else:
    dataframe(tables.slots_table(slots), hide_index=True, width="stretch")
with st.container(border=True):
    figure = charts.slot_retention_figure(slot_history, x_range)
    if figure is None:
        st.info("No slot samples in the range.", icon=":material/bar_chart:")
    else:
        chart(figure)
