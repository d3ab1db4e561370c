"""Kasho Ops page (/kasho-ops): Kasho Ops watching itself — collectors alive and the targets
each holds, runs per metric group (duration, lateness, failures, latest errors), the store's
size per table and day, the retention in force and the growth forecast. Layout only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core.context import current
from dashboard.core.loading import once_per_window
from dashboard.core.plain import chart, md
from dashboard.core.tables import dataframe
from dashboard.core.units import format_bytes, format_interval
from dashboard.features.kasho_ops import charts, data, logic

RUNS_WINDOW = timedelta(hours=24)

ctx = current()
dsn = ctx.config.store.dsn
# Runs are read raw (percentiles over every run of every target): at most the last day, which
# is what "is the collector healthy now" needs, and stays fast with 100 targets.
runs_start = max(ctx.start, ctx.end - RUNS_WINDOW)
x_range = (runs_start, ctx.end)
today = datetime.now(UTC).date()
st.title("Kasho Ops")
st.caption(f"The collectors and the metrics store themselves, all targets · {ctx.range_label} "
           f"· {format_interval(ctx.bucket_seconds)} buckets")

try:
    stats = data.run_stats(dsn, runs_start, ctx.end)
    history = data.run_history(dsn, runs_start, ctx.end, min(ctx.bucket_seconds, 900))
    errors = data.recent_errors(dsn, runs_start, ctx.end)
    collectors = data.collectors(dsn)
    sizes = data.partition_sizes(dsn)
    whole = data.unpartitioned_bytes(dsn)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()

retention_for = ctx.config.store.retention_for
sizes_by_table = once_per_window(ctx, "kasho_ops.sizes",
                                 lambda: logic.size_table(sizes, retention_for, today), today)
fixed = float(whole["bytes"].sum()) if not whole.empty else 0.0
steady = float(sizes_by_table["steady_bytes"].sum()) + fixed
total_now = float(sizes["bytes"].sum()) + fixed if not sizes.empty else fixed
runs = float(stats["runs"].sum()) if not stats.empty else 0.0
failed = float(stats["failed"].sum()) if not stats.empty else 0.0

tiles = st.columns(4)
tiles[0].metric("Collectors alive", f"{logic.live_collectors(collectors):d}", border=True,
                help="Collector processes whose heartbeat (lease renewal) has not expired")
tiles[1].metric("Runs failed", f"{failed:,.0f} of {runs:,.0f}", border=True,
                help="Collector runs in the range that recorded an error, all targets")
tiles[2].metric("Store size", format_bytes(total_now), border=True,
                help="Every kasho_ops table with its indexes")
tiles[3].metric("Steady state", format_bytes(steady), border=True,
                help="The store's size once every table holds its full retention window, at "
                     "the last days' growth")

st.subheader("Collectors")
if collectors.empty:
    st.info("No collector has registered yet: `kasho-ops collect` writes a heartbeat here "
            "(`collect --once` does not).", icon=":material/info:")
else:
    dataframe(collectors, hide_index=True, width="stretch")

st.subheader("Collector runs per group")
if runs_start > ctx.start:
    st.caption("Runs of the last 24 hours (the longest range this section reads)")
if stats.empty:
    st.info(f"No collector runs since {runs_start:%Y-%m-%d %H:%M} UTC — is `kasho-ops "
            "collect` running?", icon=":material/hourglass_empty:")
else:
    dataframe(logic.runs_table(stats), hide_index=True, width="stretch")
    left, right = st.columns(2)
    durations = once_per_window(ctx, "kasho_ops.durations", lambda: charts.per_group_figure(
        history, "duration_p95_ms", "Run duration, 95th percentile", x_range))
    lateness = once_per_window(ctx, "kasho_ops.lateness", lambda: charts.per_group_figure(
        history, "lateness_p95_ms", "Start lateness against the schedule, 95th percentile",
        x_range))
    for column, figure, what in ((left, durations, "runs"),
                                 (right, lateness, "scheduled runs")):
        with column.container(border=True):
            if figure is None:
                st.info(f"No {what} in range.", icon=":material/bar_chart:")
            else:
                chart(figure)
if not errors.empty:
    st.caption("Latest errors (newest first)")
    dataframe(errors, hide_index=True, width="stretch")

st.subheader("Store size and retention")
left, right = st.columns([3, 2])
with left.container(border=True):
    figure = once_per_window(ctx, "kasho_ops.store", lambda: charts.store_size_figure(sizes))
    if figure is None:
        st.info("No partitions in the store yet.", icon=":material/bar_chart:")
    else:
        chart(figure)
with right:
    st.caption("Per table: size now, retention in force (days of daily partitions kept) and "
               "the size once its window is full")
    dataframe(sizes_by_table.drop(columns=["size_bytes", "steady_bytes"]),
              hide_index=True, width="stretch")
    if not whole.empty:
        st.caption("Kept whole (statement texts are pruned with their last rows)")
        dataframe(whole.assign(size=whole["bytes"].map(format_bytes))
                  .drop(columns=["bytes"]), hide_index=True, width="stretch")

with st.container(border=True):
    figure = once_per_window(ctx, "kasho_ops.forecast", lambda: charts.forecast_figure(
        logic.growth_forecast(sizes, fixed, retention_for, today), steady), today)
    if figure is None:
        st.info("No growth to forecast yet.", icon=":material/bar_chart:")
    else:
        chart(figure)
