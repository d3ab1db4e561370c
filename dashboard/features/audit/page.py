"""Audit page (/audit, admins): the append-only audit trail of sign-ins, DBA actions (cancel,
terminate, exact bloat, index advice), EXPLAINs, silences and acknowledgements and restore
drills in the selected range, filtered by kind, outcome, who and target. Layout only."""

from __future__ import annotations

import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core import auth
from dashboard.core.context import current
from dashboard.core.plain import md
from dashboard.core.tables import dataframe
from dashboard.features.audit import data as audit_data
from dashboard.features.audit import logic

auth.require("read_audit")
ctx = current()
st.title("Audit")
st.caption(f"{ctx.range_label} · {ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC · "
           "append-only tables in the metrics store; `kasho-ops audit --since 24h` prints "
           "them as JSON lines")
try:
    trail = audit_data.audit_trail(ctx.config.store.dsn, ctx.start, ctx.end)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()

counts = logic.summary(trail)
for column, (label, value) in zip(st.columns(len(counts)), counts.items(), strict=True):
    column.metric(md(label), f"{value:,}", border=True)

filters = st.columns([3, 3, 3, 2], vertical_alignment="bottom")
kinds = filters[0].multiselect("Kind", list(logic.KIND_LABELS),
                               format_func=logic.KIND_LABELS.__getitem__, placeholder="all")
outcomes = filters[1].multiselect("Outcome", sorted(trail["outcome"].unique())
                                  if not trail.empty else [], placeholder="all")
who = filters[2].text_input("Who (contains)", placeholder="e-mail or part of it")
this_target = filters[3].toggle(f"Only {md(ctx.target)}", help="Sign-ins have no target")
shown = logic.apply_filter(trail, logic.AuditFilter(kinds, outcomes, who,
                                                    ctx.target if this_target else None))
if shown.empty:
    st.info("No audit rows match in this range.", icon=":material/filter_alt_off:")
else:
    dataframe(logic.display_table(shown), hide_index=True, width="stretch",
              height=min(38 + 35 * len(shown), 700),
              column_config={"detail": st.column_config.TextColumn(width="large")})
    if len(trail) >= audit_data.ROW_LIMIT:
        st.caption(f"The newest {audit_data.ROW_LIMIT:,} rows of the range; narrow it for "
                   "older ones, or use `kasho-ops audit`.")
