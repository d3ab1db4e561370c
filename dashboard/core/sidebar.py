"""Sidebar choices that live in the URL: ?target=…&range=… is read on load and rewritten on
every change, so a view can be shared, bookmarked and reloaded. ?end=… (ISO 8601, UTC) pins
the range's end to a past moment, as links from the correlation view do, until "Back to
now"."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from collectors.core.config import Config
from dashboard.core.context import (
    DEFAULT_RANGE,
    RANGE_LABELS,
    TIME_RANGES,
    PageContext,
    build_context,
    parse_end,
)
from dashboard.core.plain import md

TARGET_PARAM = "target"
RANGE_PARAM = "range"
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


def _unpin() -> None:
    st.query_params.pop(END_PARAM, None)


def render(config: Config, store_label: str,
           live: bool = False) -> tuple[PageContext, list[str]]:
    """Draw the sidebar; return the page context and any notes about rejected URL values.

    On a live page (read from the server, not the store) the time range has nothing to
    choose: it stays in the URL for the other pages but cannot be changed there."""
    notes = []
    names = [t.name for t in config.targets]
    target, bad_target = url_choice("Target", names, TARGET_PARAM, names[0])
    if bad_target is not None:
        notes.append(f"No target named “{bad_target}” in the config; showing {target}.")
    range_key, bad_range = url_choice(
        "Time range", list(TIME_RANGES), RANGE_PARAM, DEFAULT_RANGE,
        format_func=RANGE_LABELS.__getitem__, disabled=live,
        help_text="This page shows the server now; the range applies to the history pages."
        if live else None)
    if bad_range is not None:
        notes.append(f"Unknown time range “{bad_range}”; use one of "
                     f"{', '.join(TIME_RANGES)}. Showing {RANGE_LABELS[range_key].lower()}.")
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
    freshness = "live from the server" if live else "refreshed every 30 s"
    st.sidebar.caption(f"Times in UTC · {freshness}  \nStore: {md(store_label)}")
    return build_context(config, target, range_key, pinned_end=pinned_end), notes
