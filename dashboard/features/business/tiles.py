"""The business headline row other pages show (the Overview): transactions per minute now
against the same minutes a week ago, failure rate, pending backlog and its oldest age, with
a link to /business. Nothing when the target has no business_dsn or nothing was read."""

from __future__ import annotations

import streamlit as st

from collectors.core.errors import StoreUnavailable
from dashboard.core.context import PageContext
from dashboard.core.plain import md
from dashboard.features.business import data, logic


def headline_row(ctx: PageContext) -> None:
    if ctx.config.target(ctx.target).business_dsn is None:
        return
    try:
        found = data.business(ctx)
    except StoreUnavailable:
        return  # the page's own reads report the store's state
    if not len(found.covered) and found.pending.empty:
        return
    columns = st.columns([3, 3, 3, 1], vertical_alignment="center")
    for column, tile in zip(columns, logic.headline_tiles(found.headline), strict=False):
        column.metric(md(f"Kasho: {tile.label.lower()}"), md(tile.value),
                      md(tile.delta) if tile.delta else None, tile.delta_color,
                      help=md(tile.help) if tile.help else None, border=True, delta_arrow="off")
    columns[3].page_link("features/business/page.py", label="Business", icon=":material/payments:",
                         query_params={"target": ctx.target, "range": ctx.range})
