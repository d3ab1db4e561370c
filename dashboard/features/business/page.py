"""Business page (/business): Kasho's payments from its own tables, on the shared time range:
throughput by type, money per currency, failures, the pending backlog, status changes,
sign-ups and balances. Layout only: data.py reads, logic.py computes, charts.py draws."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core.context import current
from dashboard.core.plain import chart as plain_chart
from dashboard.core.plain import md
from dashboard.core.tables import dataframe
from dashboard.core.units import format_interval
from dashboard.features.business import charts, data, logic

CHART_CONFIG = {"displaylogo": False}
CURRENCY_KEY = "business_currency"

ctx = current()
x_range = (ctx.start, ctx.end)
st.title("Business")
target = ctx.config.target(ctx.target)
if target.business_dsn is None:
    st.info(f"Business numbers are not collected for {md(ctx.target)}: give the target a "
            "`business_dsn` (a role with SELECT on Kasho's users, accounts and transactions; "
            "the README shows the GRANTs) and restart the collector.", icon=":material/key:")
    st.stop()
try:
    found = data.business(ctx)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()
st.caption(f"**{md(ctx.target)}** · {ctx.range_label} · {ctx.start:%Y-%m-%d %H:%M} → "
           f"{ctx.end:%Y-%m-%d %H:%M} UTC · {format_interval(found.bucket)} buckets · "
           "from Kasho's own tables, read by the business groups")
if not len(found.covered):
    st.info(f"No business data read for {md(ctx.target)} in the {ctx.range_label.lower()} yet: "
            "business_transactions reads each minute once it has settled (30 s), and a first "
            "run catches up the last 8 days two days at a time. Is `kasho-ops collect` "
            "running?", icon=":material/hourglass_empty:")
    st.stop()

for column, tile in zip(st.columns(3), logic.headline_tiles(found.headline), strict=True):
    column.metric(md(tile.label), md(tile.value), md(tile.delta) if tile.delta else None,
                  tile.delta_color, help=md(tile.help) if tile.help else None, border=True,
                  delta_arrow="off")
first_read, last_read = found.covered[0], found.covered[-1] + pd.Timedelta(seconds=found.bucket)
if first_read > pd.Timestamp(ctx.start) + pd.Timedelta(seconds=found.bucket):
    st.caption(f"Read from {first_read:%Y-%m-%d %H:%M} UTC: earlier minutes of the range were "
               "never collected.")


def chart(figure: object, empty: str) -> None:
    with st.container(border=True):
        if figure is None:
            st.info(md(empty), icon=":material/bar_chart:")
        else:
            plain_chart(figure, config=CHART_CONFIG)


outcomes = logic.outcomes(found.transactions, found.covered)
left, right = st.columns(2)
with left:
    chart(charts.throughput_figure(
        logic.throughput(found.transactions, found.covered, found.bucket), x_range),
        "No transactions created in this range.")
with right:
    chart(charts.outcomes_figure(outcomes, x_range), "Nothing completed or failed.")

totals = logic.currency_totals(found.transactions, found.covered)
currencies = list(totals["currency"])
left, right = st.columns(2)
with left, st.container(border=True):
    if currencies:
        if st.session_state.get(CURRENCY_KEY) not in currencies:
            st.session_state[CURRENCY_KEY] = currencies[0]
        currency = str(st.segmented_control("Currency", currencies, key=CURRENCY_KEY,
                                            required=True, label_visibility="collapsed",
                                            format_func=lambda code: md(code)))
        figure = charts.volume_figure(logic.volume(found.transactions, found.covered,
                                                   currency), currency, x_range)
        if figure is not None:
            plain_chart(figure, config=CHART_CONFIG)
        st.caption("Amounts are summed within one currency, never across currencies.")
    else:
        st.info("No amounts in this range.", icon=":material/bar_chart:")
with right:
    chart(charts.pending_figure(logic.pending_series(found.pending), x_range),
          "No pending backlog samples in this range.")

left, right = st.columns(2)
with left:
    chart(charts.status_changes_figure(
        logic.status_changes(found.transactions, found.covered, found.bucket), x_range),
        "No status changed after creation in this range.")
with right:
    chart(charts.signups_figure(logic.signups_series(found.signups, found.signups_covered),
                                x_range), "No sign-ups in this range.")

st.subheader("Per currency in the range")
st.caption(f"From {first_read:%Y-%m-%d %H:%M} to {last_read:%Y-%m-%d %H:%M} UTC: transactions "
           "created and their exact amount; transactions that completed or failed (when "
           "created, or when settled later) and the amount that completed.")
dataframe(logic.currency_table(totals), hide_index=True, width="stretch",
          key="currency_totals", column_config={
              "Amount": st.column_config.TextColumn(alignment="right"),
              "Completed amount": st.column_config.TextColumn(alignment="right"),
              "Failure rate": st.column_config.TextColumn(alignment="right")})

left, right = st.columns(2)
with left:
    st.subheader("Pending now")
    waiting = logic.pending_now(found.pending)
    if waiting.empty:
        st.caption("Nothing pending at the latest sample.")
    else:
        dataframe(logic.pending_table(waiting), hide_index=True, width="stretch",
                  key="pending_now", column_config={
                      "Amount": st.column_config.TextColumn(alignment="right"),
                      "Oldest": st.column_config.TextColumn(alignment="right")})
with right:
    st.subheader("Balances")
    if found.balances.empty:
        st.caption("No business_balances sample in this range (it runs every 15 min).")
    else:
        sampled = pd.Timestamp(found.balances["collected_at"].iloc[0])
        st.caption(f"Per currency and account type at {sampled:%Y-%m-%d %H:%M} UTC; exact.")
        dataframe(logic.balances_table(found.balances), hide_index=True, width="stretch",
                  key="balances", column_config={
                      "Total": st.column_config.TextColumn(alignment="right"),
                      "Negative total": st.column_config.TextColumn(alignment="right")})
