"""Sidebar choices that live in the URL: ?target=…&range=…&own=1 is read on load and
rewritten on every change, so a view can be shared, bookmarked and reloaded.

Without a range in the URL a session opens on the shortest range that holds the target's
whole history (a new install shows its first minutes full width), at most the last 6 hours.
`own=1` shows Kasho Ops' own sessions, statements and store database, hidden by default.
?end=… (ISO 8601, UTC) pins the range's end to a past moment, as links from the correlation
view do, until "Back to now".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import streamlit as st

from collectors.core.config import Config
from collectors.core.errors import StoreUnavailable
from collectors.core.metric_groups import load_catalog
from dashboard.core.context import (
    DEFAULT_RANGE,
    RANGE_LABELS,
    TIME_RANGES,
    PageContext,
    build_context,
    fitting_range,
    parse_end,
)
from dashboard.core.own import own_activity
from dashboard.core.plain import md
from dashboard.core.store import history_start

TARGET_PARAM = "target"
RANGE_PARAM = "range"
OWN_PARAM = "own"
OWN_LABEL = "Show Kasho Ops' own activity"
OWN_HELP = ("Kasho Ops' own sessions, statements and metrics-store database are hidden on "
            "every page (each says how many). Ours: the target's monitoring and actions roles, "
            "and the store's database when the store is on the same server.")
END_PARAM = "end"


def url_choice(label: str, options: Sequence[str], param: str, default: str,
               format_func: Callable[[str], str] = str,
               help_text: str | None = None, disabled: bool = False) -> tuple[str, str | None]:
    """A selectbox mirrored in st.query_params[param].

    The URL wins when it names a valid option that differs from what it said last run (a
    pasted link, back/forward); a missing parameter (page switch) keeps the session's
    choice. Returns (chosen, rejected), rejected being an invalid value found in the URL.
    """
    key = f"sidebar_{param}"
    seen_key = f"sidebar_{param}_seen_in_url"
    in_url = st.query_params.get(param)
    rejected = in_url if in_url is not None and in_url not in options else None
    if in_url in options:
        if st.session_state.get(seen_key) != in_url or key not in st.session_state:
            st.session_state[key] = in_url
    elif st.session_state.get(key) not in options:
        st.session_state[key] = default
    chosen = st.sidebar.selectbox(md(label), options, key=key, format_func=format_func,
                                  help=md(help_text) if help_text else None,
                                  disabled=disabled)
    if st.query_params.get(param) != chosen:
        st.query_params[param] = chosen
    st.session_state[seen_key] = chosen
    return chosen, rejected


def url_toggle(param: str, draw: Callable[[str], bool]) -> bool:
    """A toggle mirrored in st.query_params[param]: '1' when on, absent when off. `draw(key)`
    draws the toggle with that widget key (its label and help are the caller's constants).

    Like url_choice, the URL wins when it says something new (a pasted link with `=1` or
    `=0`); a missing parameter (a page switch) keeps the session's choice, which is then
    written back."""
    key = f"sidebar_{param}"
    seen_key = f"sidebar_{param}_seen_in_url"
    raw = st.query_params.get(param)
    if raw in ("1", "0"):
        in_url = raw == "1"
        if st.session_state.get(seen_key) != in_url or key not in st.session_state:
            st.session_state[key] = in_url
    elif key not in st.session_state:
        st.session_state[key] = False
    chosen = bool(draw(key))
    if chosen and st.query_params.get(param) != "1":
        st.query_params[param] = "1"
    elif not chosen and param in st.query_params:
        del st.query_params[param]
    st.session_state[seen_key] = chosen
    return chosen


def opening_range(config: Config, target: str) -> str:
    """The range a session opens on when the URL names none: one that holds the data."""
    try:
        start = history_start(config.store.dsn, target, tuple(load_catalog()))
    except StoreUnavailable:
        return DEFAULT_RANGE  # the page itself reports the store
    if start is None:
        return fitting_range(0)
    return fitting_range((datetime.now(UTC) - start).total_seconds())


def _unpin() -> None:
    st.query_params.pop(END_PARAM, None)


def render(config: Config, store_label: str,
           live: bool = False) -> tuple[PageContext, list[str]]:
    """Draw the sidebar; return the page context and any notes about rejected URL values.

    On a live page the range applies to its history charts; the live tables ignore it."""
    notes = []
    names = [t.name for t in config.targets]
    target, bad_target = url_choice("Target", names, TARGET_PARAM, names[0])
    if bad_target is not None:
        notes.append(f"No target named “{bad_target}” in the config; showing {target}.")
    default_range = (DEFAULT_RANGE if f"sidebar_{RANGE_PARAM}" in st.session_state
                     else opening_range(config, target))
    range_key, bad_range = url_choice(
        "Time range", list(TIME_RANGES), RANGE_PARAM, default_range,
        format_func=RANGE_LABELS.__getitem__,
        help_text="The live tables show the server now; the range applies to the charts."
        if live else None)
    if bad_range is not None:
        notes.append(f"Unknown time range “{bad_range}”; use one of "
                     f"{', '.join(TIME_RANGES)}. Showing {RANGE_LABELS[range_key].lower()}.")
    show_own = url_toggle(OWN_PARAM, lambda key: st.sidebar.toggle(OWN_LABEL, key=key,
                                                                   help=OWN_HELP))
    pinned_end = None
    if not live and END_PARAM in st.query_params:
        pinned_end = parse_end(st.query_params[END_PARAM])
        if pinned_end is None:
            notes.append(f"“{st.query_params[END_PARAM]}” is not a time (use "
                         "2026-03-01T09:30:00, UTC); showing the range up to now.")
            st.query_params.pop(END_PARAM)
        else:
            st.sidebar.info(f"Range ends at {pinned_end:%Y-%m-%d %H:%M:%S} UTC (from the link)",
                            icon=":material/history:")
            st.sidebar.button("Back to now", icon=":material/update:", on_click=_unpin)
    freshness = "live tables, charts from the store" if live else "refreshed every 30 s"
    st.sidebar.caption(f"Times in UTC · {freshness}  \nStore: {md(store_label)}")
    own = own_activity(config, config.target(target))
    return build_context(config, target, range_key, own=own, show_own=show_own,
                         pinned_end=pinned_end), notes
