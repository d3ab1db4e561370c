"""I/O and checkpoints page (/io): are checkpoints forced by WAL volume, how long they write
and sync, who writes the buffers (backends doing it themselves is the warning sign), I/O by
backend type and context, and the statements with the most I/O time. Layout only: data.py
reads, logic.py and charts.py shape it."""

from __future__ import annotations

import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core.context import current
from dashboard.core.plain import chart, md
from dashboard.core.tables import dataframe
from dashboard.core.units import format_interval, format_seconds
from dashboard.features.io import charts, data, logic

ctx = current()
x_range = (ctx.start, ctx.end)
args = (ctx.config.store.dsn, ctx.target, ctx.start, ctx.end)
st.title("I/O and checkpoints")
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC · "
           f"{format_interval(ctx.bucket_seconds)} buckets")

try:
    checkpoints = data.checkpoint_history(*args, ctx.bucket_seconds)
    io = data.io_history(*args, ctx.bucket_seconds)
    io_totals = data.io_totals(*args)
    statements = data.statement_io(*args)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()

if checkpoints.empty and io.empty:
    st.info(f"No checkpoint or I/O samples for {md(ctx.target)} in the "
            f"{ctx.range_label.lower()} — is `kasho-ops collect` running?",
            icon=":material/hourglass_empty:")
    st.stop()

summary = logic.checkpoint_summary(checkpoints)
buffers = logic.buffers_by_writer(checkpoints, io)
backend_share = logic.backend_write_share(buffers)
tiles = st.columns(4)
if summary is not None:
    share = summary.requested_share
    tiles[0].metric("Checkpoints", f"{summary.timed + summary.requested:,.0f}",
                    f"{share:.0%} requested" if share is not None else None,
                    delta_color="orange" if share and share > 0.1 else "off",
                    delta_arrow="off", border=True,
                    help="Timed checkpoints come from checkpoint_timeout; requested ones from "
                    "max_wal_size being reached (or CHECKPOINT). Many requested: raise "
                    "max_wal_size")
    tiles[1].metric("Checkpoint write time", format_seconds(summary.write_seconds),
                    border=True, help="Time spent writing dirty buffers, spread over "
                    "checkpoint_completion_target")
    tiles[2].metric("Checkpoint sync time", format_seconds(summary.sync_seconds),
                    border=True, help="Time spent in fsync at the end of checkpoints: high "
                    "means the storage is slow to flush")
tiles[3].metric("Written by backends",
                f"{backend_share:.0%}" if backend_share is not None else "—",
                border=True, help="Share of buffer writes that client backends did "
                "themselves instead of the checkpointer or background writer: shared_buffers "
                "may be too small or bgwriter_lru_maxpages too low")

left, right = st.columns(2)
for column, figure, what in (
        (left, charts.checkpoints_figure(checkpoints, x_range), "checkpointer"),
        (right, charts.checkpoint_time_figure(checkpoints, x_range), "checkpointer"),
        (left, charts.buffers_figure(buffers, x_range), "checkpointer"),
        (right, charts.io_bytes_figure(io, "read_bytes", "Bytes read, by backend type",
                                       x_range), "io_stats")):
    with column.container(border=True):
        if figure is None:
            st.info(f"No {what} samples with activity in range.", icon=":material/bar_chart:")
        else:
            chart(figure)

st.subheader("I/O by backend type, object and context")
table = logic.io_table(io_totals)
if table.empty:
    st.info("No pg_stat_io samples in range: pg_stat_io exists from PostgreSQL 16 on (older "
            "servers: the checkpointer's counters above are all there is).",
            icon=":material/info:")
else:
    with st.container(border=True):
        figure = charts.io_bytes_figure(io, "write_bytes", "Bytes written, by backend type",
                                        x_range)
        if figure is not None:
            chart(figure)
    dataframe(table, hide_index=True, width="stretch",
              column_config={"hit ratio": st.column_config.NumberColumn(format="%.2f")})

st.subheader("Statements by I/O time")
if statements.empty:
    st.info("No statement statistics in range (group query_stats).", icon=":material/info:")
else:
    st.caption("Top-level statements with the most block read/write time (shared, local and "
               "temp; needs track_io_timing), with their WAL volume, full-page images, WAL "
               "buffers full (18+) and parallel workers planned vs launched (18+). "
               "— means the server's version does not count it.")
    dataframe(logic.statement_io_table(statements), hide_index=True, width="stretch")
