"""Indexes page (/indexes): invalid, duplicate, redundant and unused indexes and tables that
may lack one, each with size, write cost, why it matters, how sure and the DDL (shown, never
run); index advice with hypopg on a collected statement; index cache hit ratios. Layout
only: data.py and dashboard/core/relations.py read, logic.py shapes it. Names and statement
texts from the monitored server reach the page only through dataframes, st.code, st.text
and dashboard.core.plain's md (escaped), never as markdown."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from collectors.actions.index_advice import AdviceRequest, AdviceResult, advise_index
from collectors.core.errors import StoreUnavailable
from dashboard.core import auth, relations
from dashboard.core.context import current
from dashboard.core.plain import md
from dashboard.core.tables import dataframe
from dashboard.core.units import bytes_as_text
from dashboard.features.indexes import data, logic

ADVICE_KEY = "indexes_advice_result"
COUNT = st.column_config.NumberColumn(format="compact")

ctx = current()
dsn, now = ctx.config.store.dsn, datetime.now(UTC)
st.title("Indexes")

try:
    reads = data.index_reads(dsn, ctx.target, ctx.start, ctx.end)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()
indexes, tables, summary, extensions = (reads.indexes, reads.tables, reads.summary,
                                        reads.extensions)

age = logic.statistics_age(summary, now)
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · scans counted {md(age.words)}")
if indexes.empty and summary.empty:
    st.info(f"No index samples for {md(ctx.target)} yet — is `kasho-ops collect` running?",
            icon=":material/hourglass_empty:")
    st.stop()

findings = logic.index_findings(indexes, age) + logic.missing_index_findings(tables, age)
counts = {kind: sum(1 for f in findings if f.kind == kind) for kind in logic.KINDS}
totals = summary.iloc[0] if not summary.empty else None
tiles = st.columns(4)
tiles[0].metric("Indexes", f"{int(totals['indexes']):,}" if totals is not None else "—",
                border=True, help="Every index of the target's database")
tiles[1].metric("Unused", f"{int(totals['unused_indexes']):,}" if totals is not None else "—",
                (f"≈ {int(totals['unused_index_estimated_bytes']) / 2**20:,.0f} MB"
                 if totals is not None else None), delta_color="off", delta_arrow="off",
                border=True, help="No scan since the statistics reset; primary keys, unique "
                "and constraint indexes excluded (size from pg_class.relpages)")
tiles[2].metric("Invalid", f"{int(totals['invalid_indexes']):,}" if totals is not None else "—",
                border=True, help="Left by a failed CREATE/REINDEX ... CONCURRENTLY")
tiles[3].metric("Duplicate or redundant", f"{counts['duplicate'] + counts['redundant']:,}",
                border=True, help="Among the indexes the collector keeps (up to top_tables of "
                "each finding)")

st.subheader("Findings")
st.caption(f"From the {len(indexes):,} indexes and {len(tables):,} tables kept at the latest "
           f"samples (every finding up to [collector] top_tables = "
           f"{ctx.config.collector.top_tables:d} of each kind, plus the largest and the most "
           "read from disk). DDL is shown for you to run, never run by Kasho Ops.")
frame = logic.findings_frame(findings)
if frame.empty:
    st.success("No invalid, duplicate, redundant or unused index, and no table whose "
               "sequential scans suggest a missing one.", icon=":material/check_circle:")
else:
    kinds = [k for k in logic.KINDS if counts[k]]
    chosen = st.segmented_control(
        "Show", kinds, default=kinds, selection_mode="multi", key="indexes_kinds",
        format_func=lambda k: f"{logic.KIND_LABELS[k]} ({counts[k]:d})")
    shown = frame[frame["finding"].isin([logic.KIND_LABELS[k] for k in chosen or kinds])]
    selection = dataframe(
        bytes_as_text(shown, ("size",)), hide_index=True, pin_first=True, width="stretch",
        on_select="rerun",
        selection_mode="single-row", key="indexes_findings",
        column_config={"scans": COUNT, "index writes per day": COUNT,
                       "why it matters": st.column_config.TextColumn(width="large"),
                       "DDL (not run)": st.column_config.TextColumn(width="medium")})
    rows = selection.selection.rows if selection else []
    picked = shown.iloc[rows[0]] if rows else shown.iloc[0]
    st.caption("Select a row for its DDL. For the first row:" if not rows else "DDL:")
    st.code(str(picked["DDL (not run)"]), language="sql")


def advice_section() -> None:
    st.subheader("Index advice (hypopg)")
    if not auth.allowed("explain"):
        st.caption("Checking a suggested index plans a statement, as EXPLAIN does: it needs "
                   "an operator or admin.")
        return  # advise_index() checks the role again
    version = relations.installed(extensions, "hypopg")
    if version is None:
        where = ("available on the server: `CREATE EXTENSION hypopg;` in the target's "
                 "database adds it" if relations.available(extensions, "hypopg") else
                 "not available on the server: install the OS package (Debian/Ubuntu: "
                 "postgresql-15-hypopg) and `CREATE EXTENSION hypopg;`")
        st.info(f"hypopg is not installed in the target's database, so suggested indexes "
                f"cannot be checked; it is {where}. It only plans with hypothetical indexes: "
                "nothing is built, no lock is taken.", icon=":material/extension_off:")
        return
    st.caption(f"hypopg {md(version)}: a statement is planned with a hypothetical index on each "
               "column of every table it scans sequentially; the planner's cost before and "
               "after is compared (estimates, not measurements). Planned as EXPLAIN plans, through "
               "the target's explain_dsn role (it needs SELECT on the tables), read-only, "
               "never executed. Every attempt is recorded in kasho_ops.index_advice_runs.")
    choices = logic.seq_scanned_tables(findings)
    choices += [f"{r.schemaname}.{r.relname}" for r in tables.itertuples()
                if f"{r.schemaname}.{r.relname}" not in choices]
    if not choices:
        st.caption("No tracked table yet.")
        return
    table = st.selectbox("Table", choices, key="indexes_advice_table",
                         help="Tables that may lack an index first")
    relname = table.partition(".")[2].strip('"')
    statements = data.statements_on(dsn, ctx.target, ctx.start, ctx.end, relname)
    text, dbname, queryid = "", str(totals["datname"]) if totals is not None else "", None
    if statements.empty:
        st.caption("No collected statement names this table; paste one below.")
    else:
        picked = dataframe(
            statements[["query", "calls", "total_exec_time_ms", "datname"]], hide_index=True,
            pin_first=True, width="stretch", on_select="rerun", selection_mode="single-row",
            key="indexes_statements",
            column_config={"query": st.column_config.TextColumn(width="large"),
                           "calls": COUNT, "total_exec_time_ms": st.column_config.NumberColumn(
                               "time in range (ms)", format="localized")})
        rows = picked.selection.rows if picked else []
        row = statements.iloc[rows[0] if rows else 0]
        text, dbname, queryid = str(row["query"]), str(row["datname"]), int(row["queryid"])
    edited = st.text_area("Statement", value=text, height=120, key=f"indexes_text_{queryid}",
                          help="One SELECT, INSERT, UPDATE, DELETE or WITH; $n parameters are "
                               "planned generically")
    if st.button("Check with hypopg", icon=":material/science:", disabled=not edited.strip()):
        st.session_state[ADVICE_KEY] = advise_index(ctx.config, AdviceRequest(
            ctx.target, dbname, edited, auth.require("explain"),
            queryid if edited == text else None))
    result: AdviceResult | None = st.session_state.get(ADVICE_KEY)
    if result is not None:
        show_advice(result)
    with st.expander("Recent index advice"):
        dataframe(data.advice_runs(dsn, ctx.target), hide_index=True, pin_first=True,
                  width="stretch")


def show_advice(result: AdviceResult) -> None:
    if result.outcome == "advised":
        st.success("An index would help.", icon=":material/lightbulb:")
    elif result.outcome == "no_advice":
        st.info("No index worth adding.", icon=":material/info:")
    else:
        st.error(f"Not advised ({md(result.outcome)}).", icon=":material/block:")
    st.text(result.message)
    advice = result.advice
    if advice is None:
        return
    if advice.best is not None:
        st.code(advice.best.ddl, language="sql")
    if advice.candidates:
        dataframe(pd.DataFrame({
            "hypothetical index": [f"{c.schemaname}.{c.relname} ({', '.join(c.columns)})"
                                   for c in advice.candidates],
            "plan cost after": [c.cost for c in advice.candidates],
            "cost before": advice.cost_before,
            "saving": [1 - c.cost / advice.cost_before if advice.cost_before else None
                       for c in advice.candidates],
        }), hide_index=True, pin_first=True, width="stretch",
            column_config={"saving": st.column_config.NumberColumn(format="percent"),
                           "plan cost after": st.column_config.NumberColumn(format="localized"),
                           "cost before": st.column_config.NumberColumn(format="localized")})


advice_section()

st.subheader("Index cache hit ratios")
cache = logic.index_cache_table(indexes)
if cache.empty:
    st.caption("No tracked index yet.")
else:
    dataframe(bytes_as_text(cache, ("read from disk", "size")), hide_index=True, pin_first=True,
              width="stretch",
              column_config={"scans": COUNT,
                             "hit ratio": st.column_config.NumberColumn(format="percent")})
