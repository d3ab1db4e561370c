"""Storage page (/storage): disk usage and its forecast, sizes per tablespace, WAL, database,
schema and table, the largest and fastest-growing tables, disk reads and shared buffers.
Layout only: data.py and dashboard/core/relations.py read, logic.py and charts.py shape it.
Values from the monitored server reach the page only through dataframes, st.text,
dashboard.core.plain's chart and md (escaped), never as markdown."""

from __future__ import annotations

from typing import Literal

import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core import relations
from dashboard.core.context import current
from dashboard.core.loading import once_per_window
from dashboard.core.plain import chart, md
from dashboard.core.tables import dataframe
from dashboard.core.units import format_bytes, format_bytes_column
from dashboard.features.storage import charts, data, logic

CHART_CONFIG = {"displaylogo": False}
PERCENT = st.column_config.NumberColumn(format="percent")
SEVERITY_COLORS: dict[str, Literal["red", "orange", "off"]] = {"critical": "red",
                                                                 "warning": "orange"}

ctx = current()
dsn, x_range = ctx.config.store.dsn, (ctx.start, ctx.end)
st.title("Storage")
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC")

try:
    reads = data.storage_reads(dsn, ctx.target, ctx.start, ctx.end, ctx.bucket_seconds)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()
history, disk, capacity, forecast = (reads.disk_history, reads.disk_now, reads.capacity,
                                     reads.forecast)
databases, schemas, tables, summary = (reads.databases, reads.schemas, reads.tables,
                                       reads.summary)
extensions, buffers = reads.extensions, reads.buffers

if disk.empty and tables.empty and databases.empty:
    st.info(f"No storage samples for {md(ctx.target)} yet — is `kasho-ops collect` running?",
            icon=":material/hourglass_empty:")
    st.stop()

texts = logic.forecast_texts(forecast, capacity)
primary = logic.soonest(texts)
used_now = float(disk["size_bytes"].sum()) if not disk.empty else None
wal_now = disk.loc[disk["area"] == "wal", "size_bytes"].sum() if not disk.empty else None
growth = logic.forecast_row(forecast, "configured capacity")
tiles = st.columns(4)
tiles[0].metric("On disk", format_bytes(used_now) if used_now is not None else "—",
                border=True, help="Every tablespace (all databases) plus the WAL directory, "
                "at the latest sample")
tiles[1].metric("Growth", md(logic.growth_text(growth)), border=True,
                help="The fitted rate over the last 7 days (at least 24 h of history)")
tiles[2].metric("WAL", format_bytes(float(wal_now)) if wal_now is not None else "—",
                border=True, help="pg_wal: grows with write bursts, replication slots that "
                "lag and failing archiving")
tiles[3].metric("Disk full", md(primary.short), md(primary.basis), border=True, delta_arrow="off",
                delta_color=SEVERITY_COLORS.get(primary.severity, "off"),
                help="The sooner of the two forecasts below (configured capacity, host "
                     "filesystem); see them for the range and how sure it is")

st.subheader("Disk-full forecast")
for column, text in zip(st.columns(len(texts)), texts, strict=True):
    with column.container(border=True):
        st.markdown(f"**{md(text.basis.capitalize())}** · {md(text.headline)}")
        st.text(text.detail)  # may carry a path from the server: plain text
        st.caption(f"Confidence: {md(text.confidence)}")
with st.container(border=True):
    figure = once_per_window(ctx, "storage.disk",
                             lambda: charts.disk_usage_figure(history, growth, x_range))
    if figure is None:
        st.info("No disk_usage samples in range.", icon=":material/bar_chart:")
    else:
        chart(figure, config=CHART_CONFIG)

left, right = st.columns(2)
with left:
    st.subheader("Tablespaces and WAL")
    if disk.empty:
        st.info("No disk_usage sample yet.", icon=":material/hourglass_empty:")
    else:
        shown = disk.sort_values("size_bytes", ascending=False)
        # A data directory's path is long: the location column gets what the others leave.
        dataframe(shown[["area", "name", "location"]].assign(
                      size=format_bytes_column(shown["size_bytes"]),
                      **{"WAL files": shown["files"]}),
                  hide_index=True, width="stretch", placeholder="—",
                  column_config={"location": st.column_config.TextColumn(width=210)})
with right:
    st.subheader("Databases")
    dataframe(logic.as_text(logic.sizes_with_growth(databases, "database")),
              hide_index=True, width="stretch")

st.subheader("Schemas")
schema_table = logic.sizes_with_growth(schemas, "schema")
if not schemas.empty:
    parts = schemas.set_index("name")[["table_bytes", "index_bytes", "tables",
                                       "tables_skipped_locked"]]
    schema_table = schema_table.join(parts, on="schema")
dataframe(logic.as_text(schema_table.rename(columns={
              "table_bytes": "tables (heap + TOAST)", "index_bytes": "indexes",
              "tables_skipped_locked": "skipped (locked)"})), hide_index=True,
          width="stretch",
          column_config={"skipped (locked)": st.column_config.NumberColumn(
              help="Tables someone held an ACCESS EXCLUSIVE lock on at collection: their "
                   "sizes are left out of this row rather than waited for")})

st.subheader("Tables")
st.caption(md(logic.tracking_note(ctx.config.collector.top_tables, len(tables), summary)))
sizes = logic.table_sizes(tables)
left, right = st.columns([3, 2])
with left.container(border=True):
    figure = once_per_window(ctx, "storage.tables",
                             lambda: charts.table_size_figure(reads.table_history, x_range))
    if figure is None:
        st.info("No table samples in range.", icon=":material/bar_chart:")
    else:
        chart(figure, config=CHART_CONFIG)
with right:
    st.markdown("**Fastest growing** over the range")
    growing = logic.fastest_growing(tables)
    if growing.empty:
        st.caption("No tracked table grew over the range (or each has one sample in it).")
    else:
        dataframe(logic.as_text(growing[["table", "total", "growth per day"]]),
                  hide_index=True, width="stretch")
dataframe(logic.as_text(sizes), hide_index=True, width="stretch",
          column_config={"live rows": st.column_config.NumberColumn(format="compact")})

st.subheader("Disk reads and cache")
left, right = st.columns(2)
with left:
    st.markdown("**Tables read most from disk** (not found in shared buffers)")
    reads = logic.disk_reads(tables)
    if reads.empty:
        st.caption("No tracked table read blocks from disk.")
    else:
        dataframe(logic.as_text(reads), hide_index=True, width="stretch",
                  column_config={"heap hit ratio": PERCENT, "index hit ratio": PERCENT})
        st.caption("A read from disk may still come from the OS page cache. Hit ratios "
                   "well below 99 % on a hot table mean its working set no longer fits "
                   "in shared_buffers.")
with right:
    version = relations.installed(extensions, "pg_buffercache")
    if version is None:
        st.info("pg_buffercache is not installed in the target's database, so what occupies "
                "shared buffers is not collected. `CREATE EXTENSION pg_buffercache;` adds it "
                "(contrib; the monitoring role reads it through pg_monitor).",
                icon=":material/extension_off:")
    else:
        buffer_table, figure = once_per_window(ctx, "storage.buffers", lambda: (
            (table := logic.buffer_cache_table(buffers)), charts.buffer_cache_figure(table)))
        if figure is None:
            st.info("No buffer_cache sample yet.", icon=":material/hourglass_empty:")
        else:
            with st.container(border=True):
                chart(figure, config=CHART_CONFIG)
            with st.expander("Shared buffers by relation"):
                dataframe(logic.as_text(buffer_table), hide_index=True, width="stretch",
                          column_config={"share of cache": PERCENT})
