"""Maintenance page (/maintenance): autovacuum workers, maintenance running now, wraparound
per database with the time to emergency, what holds the xmin horizon back, vacuum and
analyze status of the tracked tables, and bloat, estimated and (on request, audited)
measured exactly. Layout only: data.py and dashboard/core/relations.py read, logic.py and
charts.py shape it. Values from the monitored server reach the page only through dataframes,
selectbox options, st.text and dashboard.core.plain's chart and md (escaped), never as
markdown."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
import streamlit as st

from collectors.actions.bloat_measure import (
    METHODS,
    BloatMeasurement,
    BloatRequest,
    measure_bloat,
)
from collectors.core.errors import StoreUnavailable
from dashboard.core import auth, relations
from dashboard.core.context import current
from dashboard.core.loading import once_per_window
from dashboard.core.plain import chart, md
from dashboard.core.tables import dataframe
from dashboard.core.units import bytes_as_text
from dashboard.features.maintenance import charts, data, logic

CHART_CONFIG = {"displaylogo": False}
RESULT_KEY = "maintenance_bloat_result"
PENDING_KEY = "maintenance_bloat_pending"
COUNT = st.column_config.NumberColumn(format="compact")
PERCENT = st.column_config.NumberColumn(format="percent")
WHEN = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", timezone="UTC")
SEVERITY_COLORS: dict[str, Literal["red", "orange", "off"]] = {"critical": "red",
                                                                 "warning": "orange"}

ctx = current()
dsn, x_range, now = ctx.config.store.dsn, (ctx.start, ctx.end), datetime.now(UTC)
st.title("Maintenance")
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC")

try:
    reads = data.maintenance_reads(dsn, ctx.target, ctx.start, ctx.end, ctx.bucket_seconds)
    measured = data.measurements(dsn, ctx.target)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()
status, running, forecast, xid_history = (reads.autovacuum, reads.progress, reads.forecast,
                                          reads.xid_history)
holders, estimates, tables = reads.horizon, reads.bloat, reads.tables
summary, extensions = reads.summary, reads.extensions

if status.empty and tables.empty and forecast.empty:
    st.info(f"No maintenance samples for {md(ctx.target)} yet — is `kasho-ops collect` running?",
            icon=":material/hourglass_empty:")
    st.stop()

state = logic.autovacuum_state(status)
wraparound = logic.wraparound_texts(forecast)
totals = summary.iloc[0] if not summary.empty else None
tiles = st.columns(4)
if state is None:
    tiles[0].metric("Autovacuum workers", "—", border=True)
else:
    tiles[0].metric("Autovacuum workers", f"{state.workers_busy:d} / {state.max_workers:d} busy",
                    "off" if not state.enabled else "all busy" if state.saturated else None,
                    delta_color="red" if not state.enabled or state.saturated else "off",
                    delta_arrow="off", border=True,
                    help="Autovacuum workers running now against autovacuum_max_workers: "
                         "all busy for long means tables wait their turn")
if totals is not None:
    tiles[1].metric("Tables needing vacuum", f"{int(totals['tables_needing_vacuum']):,}",
                    f"of {int(totals['tables']):,} tables", delta_color="off",
                    delta_arrow="off", border=True,
                    help="Past autovacuum's trigger point (dead rows or inserts since the "
                         "last vacuum), every table counted")
    tiles[2].metric("Tables needing analyze",
                    f"{int(totals['tables_needing_analyze']):,}",
                    f"{int(totals['tables_never_analyzed']):,} never analyzed",
                    delta_color="orange" if int(totals["tables_never_analyzed"]) else "off",
                    delta_arrow="off", border=True)
else:
    tiles[1].metric("Tables needing vacuum", "—", border=True)
    tiles[2].metric("Tables needing analyze", "—", border=True)
if wraparound:
    oldest = max(wraparound, key=lambda w: w.xid_age)
    tiles[3].metric("Oldest XID age", f"{oldest.xid_age / 1e6:,.1f} M · "
                    f"{oldest.fraction_of_stop:.0%}",
                    md(oldest.headline), delta_color=SEVERITY_COLORS.get(oldest.severity, "off"),
                    delta_arrow="off", border=True,
                    help="age(datfrozenxid) of the oldest database in millions of XIDs and "
                         "as a share of the stop limit (about 2^31 - 3 million), and the time "
                         "to it at the measured rate")
else:
    tiles[3].metric("Oldest XID age", "—", border=True)

st.subheader("Running now")
run_at = running["run_at"].iloc[0] if not running.empty else None
table = logic.progress_table(running)
if run_at is None:
    st.info("maintenance_progress has not been collected yet.", icon=":material/hourglass_empty:")
elif table.empty:
    st.success(f"No VACUUM, ANALYZE, VACUUM FULL, CLUSTER or CREATE INDEX was running at "
               f"{pd.Timestamp(run_at):%H:%M:%S} UTC.", icon=":material/check_circle:")
else:
    st.caption(f"As of {pd.Timestamp(run_at):%H:%M:%S} UTC (every 15 s by default).")
    dataframe(table, hide_index=True, width="stretch", pin_first=True,
              column_config={"pid": st.column_config.NumberColumn(format="%d"),
                             "progress": st.column_config.ProgressColumn(
                                 format="percent", min_value=0, max_value=1)})

st.subheader("Wraparound")
if not wraparound:
    st.info("No database_wraparound samples in the last 24 hours.",
            icon=":material/hourglass_empty:")
else:
    limits = forecast.set_index("datname")
    shown = [w for w in wraparound if bool(limits.loc[w.datname, "allows_connections"])
             or w.severity != "ok"][:4] or wraparound[:4]
    for column, text in zip(st.columns(len(shown)), shown, strict=True):
        with column.container(border=True):
            failsafe = limits.loc[text.datname, "failsafe_age"]
            freeze_max_age = int(limits.loc[text.datname, "freeze_max_age"])
            failsafe_age = None if pd.isna(failsafe) else int(failsafe)
            chart(once_per_window(ctx, "maintenance.gauge", functools.partial(
                charts.wraparound_gauge, text, freeze_max_age, failsafe_age), text,
                freeze_max_age, failsafe_age), config=CHART_CONFIG)
            st.markdown(f"**{md(text.headline.capitalize())}**")
            st.text(text.detail)
            st.caption(f"How sure: {md(text.confidence)}")
    with st.container(border=True):
        freeze = int(forecast["freeze_max_age"].iloc[0])
        figure = once_per_window(ctx, "maintenance.xid_age", lambda: charts.xid_age_figure(
            xid_history, freeze, x_range), freeze)
        if figure is None:
            st.info("No database_wraparound samples in range.", icon=":material/bar_chart:")
        else:
            chart(figure, config=CHART_CONFIG)
    st.caption("The time to emergency assumes nothing freezes the database meanwhile; a "
               "freezing vacuum resets its age. The stop limit is where PostgreSQL refuses "
               "new transaction IDs until a database-wide VACUUM finishes.")

st.subheader("What holds the xmin horizon back")
horizon_rows = logic.horizon_table(holders, now)
if holders.empty:
    st.info("xmin_horizon has not been collected yet.", icon=":material/hourglass_empty:")
elif horizon_rows.empty:
    st.success("Nothing held the xmin horizon at the latest sample: vacuum can remove every "
               "dead row.", icon=":material/check_circle:")
else:
    dataframe(horizon_rows, hide_index=True, width="stretch", pin_first=True,
              column_config={"xmin age": st.column_config.NumberColumn(
                  format="localized", help="transactions since its xmin: dead rows newer "
                  "than that cannot be removed by vacuum")})
    st.caption("Dead rows younger than the oldest xmin cannot be removed by any vacuum, and "
               "nothing past it can be frozen: the top row is what to end first.")

st.subheader("Vacuum")
note = (f"From the tracked tables ({len(tables):,} of "
        f"{int(totals['tables']):,}); " if totals is not None else "From the tracked tables; ")
st.caption(note + "the trigger is autovacuum's own: threshold + scale factor × rows, from "
           "the table's reloptions over the server's settings.")
vacuum = logic.vacuum_table(tables, state, now, logic.horizon_holder_label(holders))
if vacuum.empty:
    st.success("No tracked table has dead rows.", icon=":material/check_circle:")
else:
    dataframe(vacuum, hide_index=True, width="stretch", pin_first=True,
              column_config={"dead rows": COUNT, "dead ratio": PERCENT, "trigger at": COUNT,
                             "over by": COUNT, "last vacuum": WHEN,
                             "why": st.column_config.TextColumn(width="large")})

st.subheader("Analyze")
analyze = logic.analyze_table(tables)
if analyze.empty:
    st.success("Every tracked table's statistics are fresh.", icon=":material/check_circle:")
else:
    dataframe(analyze, hide_index=True, width="stretch",
              column_config={"changed since analyze": COUNT, "trigger at": COUNT,
                             "over by": COUNT, "last analyze": WHEN,
                             "why": st.column_config.TextColumn(width="large")})


def bloat_section() -> None:
    st.subheader("Bloat")
    st.caption("Estimated from the catalog (pages held against pages the rows need), no "
               "scans. Small relations (under 1 MB) are not estimated. Variable-width "
               "columns need pg_stats, which shows a column only to roles that may read it.")
    rows = logic.bloat_table(estimates, measured)
    if estimates.empty:
        st.info("bloat_estimate has not been collected yet (hourly by default).",
                icon=":material/hourglass_empty:")
    elif rows.empty:
        st.success("No table or index of 1 MB or more to estimate.",
                   icon=":material/check_circle:")
    else:
        dataframe(bytes_as_text(rows, ("size", "estimated bloat")), hide_index=True,
                  width="stretch", column_config={"bloat ratio": PERCENT})
    exact_measure(rows)


def close_confirmation() -> None:
    st.session_state.pop(PENDING_KEY, None)


@st.dialog("Measure bloat exactly", on_dismiss=close_confirmation)
def confirm(relation: str, kind: str, method: str, dbname: str) -> None:
    schema, _, name = relation.partition(".")
    function = ("pgstatindex" if kind == "index" else
                "pgstattuple" if method == "exact" else "pgstattuple_approx")
    st.text(f"{function} on {relation} in database {dbname} ({ctx.target})")
    st.warning("It reads the relation from disk (pgstattuple_approx: only pages not marked "
               "all-visible) under an ACCESS SHARE lock for up to 60 s: DDL arriving "
               "meanwhile waits, and queries behind the DDL wait too.", icon=":material/warning:")
    yes, back = st.columns(2)
    if yes.button("Measure", type="primary", width="stretch"):
        actor = auth.require("exact_bloat")
        st.session_state[RESULT_KEY] = measure_bloat(ctx.config, BloatRequest(
            ctx.target, dbname, schema, name, actor, method))
        close_confirmation()
        st.rerun()
    if back.button("Back", width="stretch"):
        close_confirmation()
        st.rerun()


def exact_measure(rows: pd.DataFrame) -> None:
    if not auth.allowed("exact_bloat"):
        return  # only admins see it; measure_bloat() checks the role again
    st.markdown("**Exact measure** (pgstattuple)")
    if not ctx.config.dashboard.actions_enabled:
        st.caption("Off: set `[dashboard] actions_enabled = true`. Every measurement is "
                   "recorded in kasho_ops.bloat_measurements.")
        return
    if relations.installed(extensions, "pgstattuple") is None:
        st.caption("pgstattuple is not installed in the target's database: "
                   "`CREATE EXTENSION pgstattuple;` (contrib) enables exact measurements.")
    candidates = dict(zip(rows["relation"], rows["kind"], strict=True)) if not rows.empty else {}
    for row in tables.itertuples():
        candidates.setdefault(f"{row.schemaname}.{row.relname}", "table")
    if not candidates or totals is None:
        st.caption("No relation to measure yet.")
        return
    dbname = str(totals["datname"])
    actor = auth.require("exact_bloat")
    st.caption(f"Acting as {md(actor.name)} ({md(actor.role)}); every attempt is recorded in "
               "kasho_ops.bloat_measurements.")
    pick, how, go = st.columns([4, 2, 2], vertical_alignment="bottom")
    relation = pick.selectbox("Relation", sorted(candidates), key="maintenance_bloat_relation")
    method = how.selectbox("Table method", METHODS, key="maintenance_bloat_method",
                           help="exact: pgstattuple reads every page; approximate: "
                                "pgstattuple_approx skips all-visible pages. Indexes always "
                                "use pgstatindex.")
    if go.button("Measure…", width="stretch"):
        st.session_state[PENDING_KEY] = (relation, candidates[relation], method, dbname)
    pending = st.session_state.get(PENDING_KEY)
    if pending is not None:
        confirm(*pending)
    result: BloatMeasurement | None = st.session_state.get(RESULT_KEY)
    if result is not None:
        if result.ok:
            st.success("Measured.", icon=":material/straighten:")
        else:
            st.error(f"Not measured ({md(result.outcome)}).", icon=":material/block:")
        st.text(result.message)
    with st.expander(f"Recent exact measurements on {md(ctx.target)} ({len(measured):d})"):
        dataframe(bytes_as_text(measured, ("relation_bytes",)), hide_index=True,
                  width="stretch")


bloat_section()
