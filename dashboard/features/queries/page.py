"""Queries page (/queries): where the server's statement time goes, what got slower, and one
statement in depth at /queries?queryid=… (shareable). Layout only: data.py reads, logic.py
computes, charts.py draws, collectors/actions/explain.py plans on demand."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from collectors.actions.explain import ExplainRefused, audited_explain, parse_parameters
from collectors.core.errors import StoreUnavailable
from collectors.core.sqltext import statement_title, table_references
from dashboard.core import auth, store
from dashboard.core.context import current
from dashboard.core.loading import once_per_window
from dashboard.core.panels import hidden_caption
from dashboard.core.plain import chart, md
from dashboard.core.tables import dataframe
from dashboard.core.timeseries import empty_reason
from dashboard.features.queries import charts as query_charts
from dashboard.features.queries import data as query_data
from dashboard.features.queries import logic as qa

QUERYID_PARAM = "queryid"
DBID_PARAM = "dbid"
USERID_PARAM = "userid"
RANK_PARAM = "rank"
LOAD_SHAPE_STATEMENTS = 8
TEXT_PREVIEW_LINES = 25
RECENT_WINDOWS = {"1h": timedelta(hours=1), "6h": timedelta(hours=6),
                  "24h": timedelta(hours=24)}
BASELINE_DAYS = 7
SELECTION_KEYS = ("load_shape", "regressions", "top_statements")

ctx = current()
x_range = (ctx.start, ctx.end)
interval = ctx.config.collector.intervals.get("query_stats", 60)
dsn = ctx.config.store.dsn


def open_statement(key: tuple[int, ...]) -> None:
    st.query_params[QUERYID_PARAM] = str(key[0])
    st.query_params[DBID_PARAM] = str(key[1])
    st.query_params[USERID_PARAM] = str(key[2])


def close_statement() -> None:
    for param in (QUERYID_PARAM, DBID_PARAM, USERID_PARAM):
        st.query_params.pop(param, None)
    for selection in SELECTION_KEYS:  # else the old selection would open the statement again
        st.session_state.pop(selection, None)


def collection_status() -> None:
    """Say why there is no data when the collector cannot read pg_stat_statements."""
    snapshot = store.freshness_for(ctx, ["query_stats"])
    row = snapshot.rows[0]
    if row.last_run_at is None:
        st.info(f"query_stats has never run for {md(ctx.target)}: is `kasho-ops collect` running?",
                icon=":material/hourglass_empty:")
    elif row.last_error:
        st.error(f"The last query_stats collection failed: {md(row.last_error)}",
                 icon=":material/error:")


def key_of(row: pd.Series) -> tuple[int, int, int, bool]:
    return (int(row["queryid"]), int(row["dbid"]), int(row["userid"]), bool(row["toplevel"]))


def int_param(name: str) -> int | None:
    value = st.query_params.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# -- one statement ---------------------------------------------------------------------------

def statement_view(queryid: int) -> None:
    st.button("← All statements", on_click=close_statement, type="tertiary")
    texts = query_data.statement_texts(dsn, ctx.target, queryid)
    dbid, userid = int_param(DBID_PARAM), int_param(USERID_PARAM)
    if dbid is not None and userid is not None:
        texts = texts[(texts["dbid"] == dbid) & (texts["userid"] == userid)]
    window = query_data.plan_window(ctx.start, ctx.end, interval)
    keys = query_data.statement_keys(dsn, ctx.target, queryid, window)
    if dbid is not None and userid is not None:
        keys = keys[(keys["dbid"] == dbid) & (keys["userid"] == userid)]
    text_row = texts.iloc[0] if not texts.empty else None
    title = statement_title(str(text_row["query"])) if text_row is not None else None
    st.title(md(title.label) if title else f"Statement {queryid:d}")
    if texts.empty and keys.empty:
        st.warning(f"No statement with queryid {queryid:d} on {md(ctx.target)} in the "
                   f"{ctx.range_label.lower()}. It may be older than the range, or the link "
                   "may point to another target.", icon=":material/search_off:")
        return
    where = (f"database {text_row['datname']} · role {text_row['rolname']} · first seen "
             f"{text_row['first_seen_at']:%Y-%m-%d %H:%M} UTC · " if text_row is not None else "")
    kind = f"{title.hint} {title.hint_text} · " if title and title.hint else ""
    st.caption(f"**{md(ctx.target)}** · {ctx.range_label}")
    # names and texts from the monitored server: plain text, never markdown
    st.text(f"{kind}{where}queryid {queryid}")

    series = query_data.statement_series(
        dsn, ctx.target, window, tuple(key_of(r) for _, r in keys.iterrows()))
    per_bucket = (series.groupby("bucket", as_index=False)[qa.COUNTERS].sum()
                  if not series.empty else series)
    totals = per_bucket[qa.COUNTERS].sum() if not per_bucket.empty else None
    if totals is not None and totals["calls"] > 0:
        calls = float(totals["calls"])
        mean = totals["total_exec_time_ms"] / calls
        hits = totals["shared_blks_hit"] + totals["shared_blks_read"]
        tiles = [("calls", f"{calls:,.0f}"),
                 ("total time", qa.format_ms(totals["total_exec_time_ms"])),
                 ("mean time", qa.format_ms(mean)),
                 ("rows per call", f"{totals['rows'] / calls:,.1f}"),
                 ("cache hit ratio", f"{100 * totals['shared_blks_hit'] / hits:.2f}%"
                  if hits else "—")]
        for column, (label, value) in zip(st.columns(len(tiles)), tiles, strict=True):
            column.metric(md(label), md(value), border=True)
        figure = query_charts.statement_detail_figure(
            qa.interval_figures(per_bucket, window.bucket, ctx.end), x_range)
        if figure is not None:
            with st.container(border=True):
                chart(figure)
        st.caption("Mean and standard deviation per bucket come from the interval deltas of "
                   "total and squared execution time: a latency proxy, not percentiles.")
    else:
        st.info(f"The statement did not run in the {ctx.range_label.lower()}.",
                icon=":material/bedtime:")

    if text_row is None:
        st.warning("Its text was not collected (yet).", icon=":material/text_snippet:")
        return
    st.subheader("Statement text")
    pretty = qa.pretty_sql(str(text_row["query"]))
    preview, cut = qa.truncate_lines(pretty, TEXT_PREVIEW_LINES)
    st.code(preview, language="sql", wrap_lines=True)
    if cut:
        with st.expander(f"Full text ({len(pretty.splitlines())} lines)"):
            st.code(pretty, language="sql", wrap_lines=True)
    tables = table_references(str(text_row["query"]))
    st.text("Tables it touches (read from the text): "
            + (", ".join(tables) if tables else "none found"))
    explain_section(str(text_row["query"]), str(text_row["datname"]), queryid)


def explain_section(text: str, datname: str, queryid: int) -> None:
    if not auth.allowed("explain"):
        return  # viewers see no actions; audited_explain checks the role again
    st.subheader("EXPLAIN")
    role = ("the target's explain_dsn role" if ctx.config.target(ctx.target).explain_dsn
            else "the monitoring role (set explain_dsn for a role with table privileges)")
    st.caption(f"Plans the statement in its database on {md(ctx.target)} as {role}, "
               "without running it (never ANALYZE), one statement only, in a read-only "
               "transaction with a 5 s timeout. Leave the values empty for the generic plan, "
               "or type one sample value per $n parameter, one per line (NULL for null). Each "
               "attempt is recorded in kasho_ops.explain_runs, without the values.")
    st.text(f"Database: {datname}")
    raw = st.text_area("Sample parameter values", key="explain_parameters", height=100,
                       placeholder="one value per $n parameter, e.g.\n42\nsettled")
    if st.button("EXPLAIN", icon=":material/account_tree:"):
        try:
            result = audited_explain(ctx.config, ctx.target, datname, text,
                                     parse_parameters(raw), queryid, auth.require("explain"))
        except ExplainRefused as exc:
            st.error(md(exc), icon=":material/block:")
            return
        declared = ", ".join(f"${i + 1} {t}" for i, t in enumerate(result.parameter_types)
                             if t != "unknown")
        st.text(f"{result.method} · relations in the plan: "
                + (", ".join(result.tables) or "none")
                + (f" · parameter types assumed: {declared}" if declared else ""))
        st.code(result.plan, language=None)


# -- all statements --------------------------------------------------------------------------

def overview_view() -> None:
    st.title("Queries")
    st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · "
               f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC · "
               "from pg_stat_statements")
    collection_status()
    window = query_data.plan_window(ctx.start, ctx.end, interval)
    recent_key, rule = regression_rule()
    recent_start = query_data.recent_hours(ctx.end, RECENT_WINDOWS[recent_key])
    reads = query_data.overview_reads(dsn, ctx.target, window, recent_start, BASELINE_DAYS,
                                      rule.factor, rule.min_calls, ctx.own)
    evicted = reads.evictions
    if evicted:
        st.warning(f"pg_stat_statements evicted its least-used entries {evicted:,} times in "
                   "this range (more distinct statements than pg_stat_statements.max): rarely "
                   "run statements are missing or undercounted. Raise pg_stat_statements.max "
                   "in postgresql.conf (restart).", icon=":material/warning:")
    totals, hidden = once_per_window(
        ctx, "queries.totals", lambda: shown_totals(reads.totals), recent_key, rule)
    if totals.empty:
        collection = store.collection_for(ctx, "query_stats")
        st.info(md(empty_reason(collection, "statements", ctx.range_words,
                                all_hidden=hidden > 0)), icon=":material/query_stats:")
        return

    rank_options = list(qa.RANK_METRICS)
    url_rank = st.query_params.get(RANK_PARAM)
    # The ranking gets a row of its own: six options never fit beside the filters.
    rank = st.segmented_control(
        "Rank by", rank_options, default=url_rank if url_rank in rank_options else qa.DEFAULT_RANK,
        format_func=lambda k: qa.RANK_METRICS[k].label, key="queries_rank", required=True)
    if st.query_params.get(RANK_PARAM) != rank:
        st.query_params[RANK_PARAM] = rank
    filters = st.columns([3, 3, 1.2], vertical_alignment="bottom")
    databases = filters[0].multiselect("Databases", sorted(totals["datname"].unique()),
                                       placeholder="all databases")
    roles = filters[1].multiselect("Roles", sorted(totals["rolname"].unique()),
                                   placeholder="all roles")
    limit = filters[2].number_input("Show", min_value=5, max_value=200, value=25, step=5)
    nested = st.toggle("Include statements run inside functions", value=False,
                       help="pg_stat_statements.track = all records them too; their time is "
                            "already part of the calling statement's.")
    find, named = st.columns([3, 2], vertical_alignment="bottom")
    search = find.text_input("Find a statement", key="queries_search",
                             placeholder="its name (CreateTransaction) or words of its SQL")
    names = named.multiselect("Statement names", qa.statement_names(totals),
                              key="queries_names", placeholder="all names",
                              help="The sqlc names (-- name: …) the statement texts carry")
    chosen = Choices(rank, int(limit), tuple(databases), tuple(roles), bool(nested),
                     search, tuple(names))
    view = once_per_window(ctx, "queries.statements",
                           lambda: shaped_statements(totals, reads, window, chosen),
                           recent_key, rule, chosen)

    load_shape_section(view.load_shape, view.load_shape_keys, view.bar_minutes)
    regressions_section(reads.regression_hours, recent_key, recent_start, rule)
    top_statements_section(view.top_table, view.top_keys, view.trend_minutes, rank)
    hidden_caption(hidden, "statement")


def shown_totals(totals: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The range's statements the page shows (with their figures), and how many it hid."""
    shown, hidden = qa.visible_statements(totals, ctx.show_own)
    return qa.statement_figures(shown), hidden


@dataclass(frozen=True)
class Choices:
    """What the reader chose on the page: its ranking and filters."""

    rank: str
    limit: int
    databases: tuple[str, ...]
    roles: tuple[str, ...]
    nested: bool
    search: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Statements:
    """The page's statements as drawn, shaped once per window and choices."""

    load_shape: go.Figure | None
    load_shape_keys: list[tuple[int, int, int, bool]]  # the chart's statements, in trace order
    bar_minutes: float  # what one bar of the load shape spans
    top_table: pd.DataFrame
    top_keys: list[tuple[int, int, int, bool]]  # the table's statements, in row order
    trend_minutes: float  # what one point of the table's trend column spans


def shaped_statements(totals: pd.DataFrame, reads: query_data.OverviewReads,
                      window: query_data.Window, chosen: Choices) -> Statements:
    totals = qa.filter_statements(totals, chosen.search, list(chosen.names))
    top = qa.rank_statements(totals, chosen.rank, chosen.limit, list(chosen.databases),
                             list(chosen.roles), chosen.nested)
    by_time = qa.rank_statements(totals, "total_time", LOAD_SHAPE_STATEMENTS,
                                 list(chosen.databases), list(chosen.roles))
    keys = tuple(dict.fromkeys([*(key_of(r) for _, r in top.iterrows()),
                                *(key_of(r) for _, r in by_time.iterrows())]))
    series = query_data.statement_series(dsn, ctx.target, window, keys,
                                         query_data.SPARKLINE_COLUMNS)
    previews = query_data.statement_previews(dsn, ctx.target, tuple(k[:3] for k in keys))
    top, by_time = qa.with_previews(top, previews), qa.with_previews(by_time, previews)
    labels = {key_of(r): f"{i + 1}. {qa.statement_label(r['query'], int(r['queryid']), 60)}"
              for i, (_, r) in enumerate(by_time.iterrows())}
    buckets = list(pd.date_range(
        pd.Timestamp(window.start).floor(f"{window.bucket}s"), pd.Timestamp(window.end),
        freq=f"{window.bucket}s", tz="UTC"))
    shape = qa.merged_bars(qa.load_shape(series, reads.load, labels,
                                         None if ctx.show_own else reads.own_load), buckets)
    top_keys = [key_of(r) for _, r in top.iterrows()]
    table = pd.DataFrame()
    if not top.empty:
        sparks = qa.sparkline_values(series, buckets, qa.RANK_METRICS[chosen.rank].column,
                                     top_keys)
        table = qa.top_statements_table(top, [sparks[k] for k in top_keys])
    return Statements(query_charts.load_shape_figure(shape, x_range), list(labels),
                      window.bucket * qa.sparkline_step(len(buckets), qa.LOAD_SHAPE_BARS) / 60,
                      table, top_keys, window.bucket * qa.sparkline_step(len(buckets)) / 60)


def regression_rule() -> tuple[str, qa.RegressionRule]:
    """The rule's settings as the popover left them (its widgets are drawn further down,
    keyed to these session-state values, which start at RegressionRule's defaults)."""
    default = qa.RegressionRule()
    st.session_state.setdefault("regression_window", "1h")
    st.session_state.setdefault("regression_factor", default.factor)
    st.session_state.setdefault("regression_min_calls", default.min_calls)
    rule = qa.RegressionRule(factor=float(st.session_state["regression_factor"]),
                             min_calls=int(st.session_state["regression_min_calls"]))
    return str(st.session_state["regression_window"]), rule


def load_shape_section(figure: go.Figure | None,
                       statements: list[tuple[int, int, int, bool]], bar_minutes: float) -> None:
    with st.container(border=True):
        if figure is None:
            st.info(md(empty_reason(store.collection_for(ctx, "query_stats"),
                                    "statement time", ctx.range_words)),
                    icon=":material/bar_chart:")
            return
        chart(figure, on_select=functools.partial(open_clicked_statement, statements),
              selection_mode="points", key="load_shape")
        st.caption(f"Each bar is {md(qa.span_words(bar_minutes))} of statement time. Click a "
                   "bar segment to open that statement.")


def open_clicked_statement(statements: list[tuple[int, int, int, bool]]) -> None:
    """The load-shape chart's on_select callback. Streamlit names a chart by its figure, and
    the figure changes whenever the range moves on (every WINDOW_STEP_SECONDS): a click read
    after the chart is drawn again would belong to a chart that is gone, and be lost. The
    callback runs before the rerun, with the chart that was clicked and its statements."""
    event = st.session_state.get("load_shape")
    points = event.selection.points if event and event.selection else []
    for point in points:
        curve = point.get("curve_number")
        if curve is not None and curve < len(statements):
            open_statement(statements[curve])
            return


def regressions_section(hours: pd.DataFrame, recent_key: str, recent_start: datetime,
                        rule: qa.RegressionRule) -> None:
    head, rule_box = st.columns([5, 1], vertical_alignment="bottom")
    head.subheader("Regressions")
    with rule_box.popover("Rule", icon=":material/tune:"):
        st.selectbox("Recent window", list(RECENT_WINDOWS), key="regression_window")
        st.number_input("Slower by at least (×)", min_value=1.1, step=0.5,
                        key="regression_factor")
        st.number_input("Calls in each window, at least", min_value=1,
                        key="regression_min_calls")
    windows = qa.recent_windows(hours, rule)
    st.caption(f"Mean time since {recent_start:%H:%M} UTC (the last {md(recent_key)}, in whole "
               f"hours) against the {BASELINE_DAYS} whole days before that day, flagged at "
               f"{rule.factor:g}× or more with at least {rule.min_calls:d} calls in each. "
               "Newest first; select a row for its detail.")
    flagged = qa.find_regressions(windows, rule)
    span = store.sample_spans(dsn, ctx.target, ("query_stats",)).get("query_stats")
    not_enough = qa.baseline_note(span.first_at if span else None,
                                  query_data.baseline_start(recent_start, BASELINE_DAYS),
                                  BASELINE_DAYS)
    if flagged.empty:
        if not_enough:
            st.info(md(not_enough), icon=":material/hourglass_top:")
        else:
            st.success("No statement got slower by that rule.", icon=":material/check_circle:")
        return
    if not_enough:
        st.caption(md(not_enough) + " Regressions below are judged on a shorter baseline.")
    recent_window = query_data.plan_window(recent_start, ctx.end, interval)
    recent_keys = tuple(key_of(r) for _, r in flagged.iterrows())
    recent = query_data.statement_series(dsn, ctx.target, recent_window, recent_keys,
                                         ("calls", "total_exec_time_ms"))
    flagged = qa.with_previews(qa.regression_onsets(recent, flagged, rule),
                               query_data.statement_previews(
                                   dsn, ctx.target, tuple(k[:3] for k in recent_keys)))
    event = dataframe(
        qa.regressions_table(flagged), hide_index=True, width="stretch", on_select="rerun",
        placeholder="—",
        selection_mode="single-row", key="regressions",
        column_config={"since": st.column_config.DatetimeColumn("since (UTC)",
                                                                format="YYYY-MM-DD HH:mm"),
                       "slower": st.column_config.NumberColumn(format="%.1f×"),
                       "recent calls": st.column_config.NumberColumn(format="%d")})
    if event.selection.rows:
        open_statement(key_of(flagged.iloc[event.selection.rows[0]]))
        st.rerun()


def top_statements_section(table: pd.DataFrame, keys: list[tuple[int, int, int, bool]],
                           trend_minutes: float, rank: str) -> None:
    metric = qa.RANK_METRICS[rank]
    st.subheader(f"Top statements by {metric.label.lower()}")
    st.caption(f"{metric.help[0].upper()}{metric.help[1:]}. Select a row for its detail. "
               "Share is of all top-level statement time in the range.")
    if table.empty:
        st.info("No statement matches the filters.", icon=":material/filter_alt_off:")
        return
    event = dataframe(
        table, hide_index=True, width="stretch", on_select="rerun",
        selection_mode="single-row", key="top_statements", height=38 + 35 * len(table),
        placeholder="—",
        # Widths that fit the main column of a 1600 px window (1140 px, with the row picker):
        # the statement, then who ran it, then the numbers.
        column_config={
            "statement": st.column_config.TextColumn(width=245),
            "database": st.column_config.TextColumn(width=80),
            "role": st.column_config.TextColumn(width=100),
            "share": st.column_config.ProgressColumn("share of time", format="%.1f%%",
                                                     min_value=0, max_value=100, width=100),
            "total": st.column_config.TextColumn(width=70),
            "mean": st.column_config.TextColumn(width=70),
            "calls": st.column_config.NumberColumn(format="localized", width=75),
            "rows": st.column_config.NumberColumn(format="localized", width=80),
            "hit %": st.column_config.NumberColumn(format="%.1f", width=55),
            "I/O blocks": st.column_config.NumberColumn(format="localized", width=75),
            "temp blocks": st.column_config.NumberColumn(format="localized", width=75),
            "trend": st.column_config.LineChartColumn(
                "trend", y_min=0, width=80,
                help=f"{metric.label} per {md(qa.span_words(trend_minutes))} over the range"),
        })
    if event.selection.rows:
        open_statement(keys[event.selection.rows[0]])
        st.rerun()


try:
    selected = int_param(QUERYID_PARAM)
    if selected is not None:
        statement_view(selected)
    else:
        overview_view()
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
