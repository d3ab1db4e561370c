"""The PgBouncer section of the Connections page (layout only): for a pgbouncer target, or
for each pgbouncer that `fronts` the selected server. Reads pooling_data.py, shapes with
pooling_logic.py and pooling_charts.py."""

from __future__ import annotations

import streamlit as st

from collectors.core.config import Target
from dashboard.core.context import PageContext
from dashboard.core.plain import chart, md
from dashboard.core.tables import dataframe
from dashboard.core.units import format_seconds
from dashboard.features.connections import pooling_charts as charts
from dashboard.features.connections import pooling_data as data
from dashboard.features.connections import pooling_logic as logic


def poolers_for(ctx: PageContext) -> list[Target]:
    """The pgbouncer targets to show: the selected one itself, or those fronting it."""
    targets = ctx.config.targets
    selected = next((t for t in targets if t.name == ctx.target), None)
    if selected is not None and selected.kind == "pgbouncer":
        return [selected]
    return [t for t in targets if t.kind == "pgbouncer" and t.fronts == ctx.target]


def render_pooler(ctx: PageContext, pooler: Target) -> None:
    x_range = (ctx.start, ctx.end)
    args = (ctx.config.store.dsn, pooler.name, ctx.start, ctx.end)
    st.subheader(f"PgBouncer {md(pooler.name)}")
    latest = data.latest_pools(*args)
    history = data.pool_history(*args, ctx.bucket_seconds)
    timings = data.pooled_timings(*args, ctx.bucket_seconds)
    table = logic.pools_table(latest)
    headline = logic.pool_headline(table)
    if headline is None:
        st.info(f"No pool samples from {md(pooler.name)} in the {ctx.range_label.lower()} — is "
                "`kasho-ops collect` running?", icon=":material/hourglass_empty:")
        return
    if headline.saturation is not None and headline.saturation >= logic.SATURATED:
        st.warning(f"Pool {md(headline.busiest_pool)} is {headline.saturation:.0%} busy: every "
                   "server connection is serving a client, so new transactions wait. Raise "
                   "its pool_size (if the server has room) or find the slow transactions.",
                   icon=":material/warning:")
    tiles = st.columns(4)
    tiles[0].metric("Busiest pool", f"{headline.saturation:.0%}"
                    if headline.saturation is not None else "—",
                    md(headline.busiest_pool) if headline.busiest_pool else None,
                    delta_color="off", delta_arrow="off", border=True,
                    help="Server connections busy with a client / pool_size, at the latest "
                         "sample")
    tiles[1].metric("Clients waiting", f"{headline.clients_waiting:d}",
                    f"longest {format_seconds(headline.longest_wait_seconds)}"
                    if headline.clients_waiting else None,
                    delta_color="red" if headline.clients_waiting else "off",
                    delta_arrow="off", border=True,
                    help="Clients waiting for a server connection at the latest sample")
    query_ms = logic.overall_average_ms(timings, "query_time_us", "queries")
    xact_ms = logic.overall_average_ms(timings, "xact_time_us", "transactions")
    tiles[2].metric("Avg query", f"{query_ms:,.2f} ms" if query_ms is not None else "—",
                    border=True, help="Average query time through PgBouncer over the range")
    tiles[3].metric("Avg transaction", f"{xact_ms:,.2f} ms" if xact_ms is not None else "—",
                    border=True, help="Average transaction time through PgBouncer over the "
                                      "range (in transaction pooling, how long a server "
                                      "connection is held)")
    st.caption("Pools at the latest sample, busiest first")
    dataframe(table, hide_index=True, width="stretch", column_config={
        "saturation": st.column_config.ProgressColumn(min_value=0, max_value=1,
                                                      format="percent"),
        "longest wait (s)": st.column_config.NumberColumn(format="%.2f s")})
    left, right = st.columns(2)
    for column, figure, what in (
            (left, charts.waiting_figure(history, x_range), "pool"),
            (right, charts.servers_figure(history, x_range), "pool"),
            (left, charts.timings_figure(logic.average_times(timings), x_range), "stats")):
        with column.container(border=True):
            if figure is None:
                st.info(f"No PgBouncer {what} samples in range.", icon=":material/bar_chart:")
            else:
                chart(figure)
