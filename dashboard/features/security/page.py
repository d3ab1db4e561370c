"""Security page (/security): the target's security posture from the latest security_*
samples, one table per area, worst first, each check with why it matters and its fix; then
the setup check (what Kasho Ops cannot collect on this target, and the one-line fix). Layout
only: data.py reads, logic.py judges, collectors/core/probe.py runs the setup check."""

from __future__ import annotations

import shlex

import pandas as pd
import streamlit as st

from collectors.core.errors import StoreUnavailable
from collectors.core.probe import probe_target
from dashboard.core.context import current
from dashboard.core.plain import md
from dashboard.core.tables import dataframe
from dashboard.features.security import data as security_data
from dashboard.features.security import logic

ctx = current()
st.title("Security")
st.caption(f"**{md(ctx.target)}** · latest security samples up to {ctx.end:%Y-%m-%d %H:%M} UTC · "
           "collected by the security_* groups with the monitoring role")
try:
    frames = {group: security_data.latest_sample(ctx.config.store.dsn, ctx.target, group,
                                                 ctx.end)
              for group in security_data.GROUPS}
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()

posture = logic.Posture(
    settings=frames["security_settings"], roles=frames["security_roles"],
    hba=frames["security_hba"], access=frames["security_access"], ssl=frames["security_ssl"],
    encryption_at_rest=ctx.config.security.encryption_at_rest)
checks = logic.evaluate(posture)
counts = logic.summary(checks)
for column, state in zip(st.columns(5), logic.STATE_ORDER, strict=True):
    column.metric(logic.STATE_LABELS[state], int(counts[state]), border=True)

# Widths that fit the page from a 1600-px window (the "large" ones made it scroll sideways);
# wider windows stretch them.
COLUMNS = {"state": st.column_config.TextColumn(width=75),
           "check": st.column_config.TextColumn(width=190),
           "finding": st.column_config.TextColumn(width=280),
           "why it matters": st.column_config.TextColumn(width=280),
           "fix": st.column_config.TextColumn(width=300)}


def check_detail(row: pd.Series) -> None:
    """One check in full: the table cuts long findings and fixes at their column's edge."""
    with st.container(border=True):
        st.markdown(f"**{md(row['check'])}** · {md(row['state'])}")
        st.text(row["finding"])
        st.caption(md(row["why it matters"]))
        st.code(row["fix"], language=None, wrap_lines=True)


st.caption("Select a check's row to read its finding, why it matters and its fix in full.")
for area in logic.AREAS:
    st.subheader(area)
    table = logic.checks_table([c for c in checks if c.area == area])
    picked = dataframe(table, hide_index=True, width="stretch", column_config=COLUMNS,
                       row_height=60, height=38 + 60 * len(table), on_select="rerun",
                       selection_mode="single-row", key=f"security_checks_{area}")
    rows = picked.selection.rows if picked else []
    if rows:
        check_detail(table.iloc[rows[0]])

st.subheader("Setup check")
st.caption("Runs each metric group's query on the target now (read-only, under the "
           "collector's timeouts) and says what cannot work and the one-line fix; the "
           "same as:")
st.code(f"kasho-ops doctor --target {shlex.quote(ctx.target)}", language="bash")
if st.button("Run the setup check", icon=":material/fact_check:"):
    result = probe_target(ctx.config, ctx.target)
    if result.ok:
        st.success("Every metric group works on this target.", icon=":material/check_circle:")
    dataframe(result.table(), hide_index=True, width="stretch",
              column_config={"fix": st.column_config.TextColumn(width="large")})
