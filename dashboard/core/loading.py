"""How a page loads: its store reads at once, its shaping done once per window.

`read_together` runs a page's independent cached reads on a few threads that carry the
page's script context (so st.cache_data works there as on the page), and waits for the
slowest instead of their sum. `once_per_window` runs a page's shaping of its reads (the
transforms, the plotly figures, the tables) once per page window and shares the result,
read-only, with every session until the window moves (CACHE_TTL_SECONDS). It is keyed by
the window itself, not by hashing the frames: shaping and drawing figures cost more CPU than
reading the store, and a dashboard left open by ten people would otherwise do it ten times.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from dashboard.core.context import PageContext
from dashboard.core.store import CACHE_TTL_SECONDS, store_fingerprint

T = TypeVar("T")
READ_THREADS = 4


def read_together(reads: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each read's result by name; the first error (StoreUnavailable) is raised."""
    context = get_script_run_ctx()

    def attach() -> None:
        if context is not None:
            add_script_run_ctx(threading.current_thread(), context)

    with ThreadPoolExecutor(max_workers=READ_THREADS, initializer=attach,
                            thread_name_prefix="kasho-ops-read") as pool:
        futures = {name: pool.submit(read) for name, read in reads.items()}
        return {name: future.result() for name, future in futures.items()}


@st.cache_resource(ttl=CACHE_TTL_SECONDS, max_entries=256, show_spinner=False)
def _kept(key: tuple[Hashable, ...], _make: Callable[[], Any]) -> Any:
    return _make()


def window_key(ctx: PageContext) -> tuple[Hashable, ...]:
    """Everything a page's store reads depend on: the store, the target, the range and its
    window, and Kasho Ops' own activity with the switch that shows it."""
    return (store_fingerprint(ctx.config.store.dsn), ctx.target, ctx.range, ctx.start,
            ctx.end, ctx.pinned, ctx.own, ctx.show_own)


def once_per_window(ctx: PageContext, name: str, make: Callable[[], T],
                    *choices: Hashable) -> T:
    """`make()` run once per page window (window_key), `name` and the page's own `choices`
    (a ranking, a filter: anything else `make` depends on), and shared read-only by every
    session until the window moves. `make` must read only what those name."""
    return cast(T, _kept((*window_key(ctx), name, *choices), make))
