"""once_per_window: a page's shaping runs once per page window and choices, and again when
the window, the store or the reader's choices change."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from collectors.core.config import Config, parse_config
from dashboard.core.context import build_context
from dashboard.core.loading import once_per_window

T0 = datetime(2026, 3, 1, 10, 0, 7, tzinfo=UTC)


def config_for(store: str) -> Config:
    return parse_config({"store": {"dsn": f"host=127.0.0.1 dbname={store}"},
                         "targets": [{"name": "kasho", "dsn": "host=127.0.0.1"}]}, environ={})


def test_shaping_runs_once_per_window_and_choices() -> None:
    # Outside a Streamlit server the cache works and says so on every call.
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    config = config_for("store")
    calls: list[str] = []

    def shape(label: str) -> str:
        calls.append(label)
        return label

    now = build_context(config, "kasho", "6h", now=T0)
    same_window = build_context(config, "kasho", "6h", now=T0 + timedelta(seconds=5))
    assert once_per_window(now, "test.page", lambda: shape("a")) == "a"
    assert once_per_window(same_window, "test.page", lambda: shape("b")) == "a"
    assert calls == ["a"]

    moved = build_context(config, "kasho", "6h", now=T0 + timedelta(seconds=40))
    assert once_per_window(moved, "test.page", lambda: shape("c")) == "c"
    assert once_per_window(now, "test.page", lambda: shape("d"), "rank=calls") == "d"
    assert once_per_window(now, "test.page", lambda: shape("e"), "rank=time") == "e"
    other_range = build_context(config, "kasho", "1h", now=T0)
    assert once_per_window(other_range, "test.page", lambda: shape("f")) == "f"
    shown = build_context(config, "kasho", "6h", now=T0, show_own=True)
    assert once_per_window(shown, "test.page", lambda: shape("g")) == "g"
    other_store = build_context(config_for("other"), "kasho", "6h", now=T0)
    assert once_per_window(other_store, "test.page", lambda: shape("h")) == "h"
    assert calls == ["a", "c", "d", "e", "f", "g", "h"]
