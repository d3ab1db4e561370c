"""Business (/business) and Business vs database (/correlation): Kasho's own numbers from the
business groups (throughput, money per currency, failures, pending backlog, sign-ups,
balances) and the same payments beside the database's health on one time axis.

`page.py` and `correlation_page.py` lay them out; `tiles.py` is the headline row the
Overview shows; `data.py` reads the store (amounts stay Decimal); `logic.py` computes rates,
outcomes, exact per-currency totals, the headline tiles and the correlation series (pure);
`charts.py` draws them (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (
    PageSpec("business", "Business", "business", order=15, icon=":material/payments:"),
    PageSpec("business", "Business vs database", "correlation", order=16,
             icon=":material/timeline:", script="correlation_page.py"),
)
