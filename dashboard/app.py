"""Kasho Ops dashboard entry point: `kasho-ops dashboard` runs `streamlit run` on this file.

It is the router and frame around every page: page config, the config file
($KASHO_OPS_CONFIG), sign-in (dashboard/core/auth.py: no identity, no page), the pages the
signed-in role may open, the sidebar (target and time range, mirrored in the URL), then the
current page from dashboard/navigation.py, which reads its PageContext. The page's
permission is checked here, server-side, before it runs; an error inside a page shows its
details (passwords redacted) to admins only.
"""

from __future__ import annotations

import logging
import sys
import traceback
from dataclasses import replace
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the project root.
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)
if _PROJECT_ROOT not in sys.path:
    sys.path.insert(0, _PROJECT_ROOT)

from collectors.core.config import Config, load_config  # noqa: E402
from collectors.core.errors import KashoOpsError  # noqa: E402
from collectors.core.metric_groups import load_catalog  # noqa: E402
from collectors.core.redact import redact  # noqa: E402
from dashboard import navigation  # noqa: E402
from dashboard.core import auth, sidebar  # noqa: E402
from dashboard.core.context import SESSION_KEY  # noqa: E402
from dashboard.core.plain import md  # noqa: E402
from dashboard.core.store import store_label  # noqa: E402

NOTES_KEY = "kasho_ops.url_notes"

st.set_page_config(page_title="Kasho Ops", page_icon=":material/database:", layout="wide",
                   initial_sidebar_state="expanded")


def _load_config() -> Config | None:
    """The config, with the store seen through the dashboard's read-only role."""
    try:
        config = load_config(None, known_groups=set(load_catalog()))
        return replace(config, store=config.store.for_dashboard())
    except KashoOpsError as exc:
        st.error(md(redact(str(exc))), icon=":material/error:")
        return None


st.logo(str(Path(__file__).resolve().parent / "static" / "logo.svg"), size="large")
config = _load_config()
if config is None:
    st.stop()
actor = auth.sign_in(config)
page = st.navigation(navigation.build_pages(navigation.pages_for(actor.role)))
auth.require(navigation.permission_of(page.url_path))
if not config.targets:
    st.warning(f"No targets configured in {md(config.source)}: add a [[targets]] table with a "
               "name and a dsn, then reload.", icon=":material/warning:")
    st.stop()
context, notes = sidebar.render(config, store_label(config),
                                live=navigation.is_live(page.url_path))
st.session_state[SESSION_KEY] = context
# Notes about a bad link survive the root page's forward (a rerun) and show on the real page.
pending_notes = st.session_state.setdefault(NOTES_KEY, [])
pending_notes.extend(notes)
if page.url_path:  # not the root forwarder
    for note in st.session_state.pop(NOTES_KEY):
        st.warning(md(note), icon=":material/link_off:")
try:
    page.run()
except Exception as exc:  # st.stop and st.rerun are BaseExceptions and pass through
    trace = redact("".join(traceback.format_exception(exc)))
    logging.getLogger("kasho-ops.dashboard").error("page %s failed: %s", page.url_path, trace)
    if auth.allowed("read_audit"):  # the details, passwords redacted, as plain text
        st.error(md(redact(f"This page failed: {type(exc).__name__}: {exc}")),
                 icon=":material/error:")
        with st.expander("Traceback"):
            st.code(trace, language=None)
    else:
        st.error("This page failed to draw; the details are in the dashboard's log (and "
                 "shown to admins).", icon=":material/error:")
