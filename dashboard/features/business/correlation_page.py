"""Business vs database (/correlation): payments (created per minute, failed, pending) above
the database's commits per second, the mean time of the top payment statements and lock
waits, on one shared time axis, so "payments dropped when lock waits rose" is one glance.
Clicking a point opens that statement, or the lock history, around that time. Layout only."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core.context import current, end_param
from dashboard.core.plain import chart, md
from dashboard.core.units import format_interval
from dashboard.features.business import charts, data, logic
from dashboard.features.locks import data as lock_data
from dashboard.features.overview import data as overview_data
from dashboard.features.overview.logic import transaction_rates

DRILL_DOWN_RANGE = "1h"

ctx = current()
st.title("Business vs database")
if ctx.config.target(ctx.target).business_dsn is None:
    st.info(f"Business numbers are not collected for {md(ctx.target)}: give the target a "
            "`business_dsn` (README: business role).", icon=":material/key:")
    st.stop()
try:
    found = data.business(ctx)
    args = (ctx.config.store.dsn, ctx.target, ctx.start, ctx.end, found.bucket)
    commits = transaction_rates(overview_data.database_stats(*args, ctx.own, ctx.show_own))
    statements = data.payment_statements(*args)
    locks = lock_data.lock_history(*args, ctx.own, ctx.show_own)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · {ctx.start:%Y-%m-%d %H:%M} → "
           f"{ctx.end:%Y-%m-%d %H:%M} UTC · {format_interval(found.bucket)} buckets on one "
           "time axis")

panels = logic.correlation_panels(found.transactions, found.covered, found.bucket,
                                  found.pending, commits, statements, locks)
figure = charts.correlation_figure(panels, (ctx.start, ctx.end))
if figure is None:
    st.info(f"No business or database samples for {md(ctx.target)} in the "
            f"{ctx.range_label.lower()} — is `kasho-ops collect` running?",
            icon=":material/hourglass_empty:")
    st.stop()
with st.container(border=True):
    event = chart(figure, on_select="rerun", selection_mode="points", key="correlation")
    st.caption("Click a point: a statement's opens that statement, any other the lock history, "
               f"in the hour around that time. Statements: the {data.TOP_PAYMENT_STATEMENTS} "
               "top-level statements on transactions or accounts with the most time in the "
               "range. Failed: transactions that failed in the bucket, when created or later.")

points = event.selection.points if event and event.selection else []
kinds = logic.trace_kinds(panels)
keys = logic.statement_keys(statements)
for point in points:
    curve, clicked = point.get("curve_number"), point.get("x")
    if curve is None or curve >= len(kinds) or clicked is None:
        continue
    at = pd.Timestamp(clicked).tz_localize(UTC).to_pydatetime()
    params = {"target": ctx.target, "range": DRILL_DOWN_RANGE,
              "end": end_param(logic.drill_down_end(at, datetime.now(UTC)))}
    kind, name = kinds[curve]
    if kind == "statements" and name in keys:
        queryid, dbid, userid = keys[name]
        st.switch_page("features/queries/page.py", query_params={
            **params, "queryid": str(queryid), "dbid": str(dbid), "userid": str(userid)})
    st.switch_page("features/locks/page.py", query_params=params)
