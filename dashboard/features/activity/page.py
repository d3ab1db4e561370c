"""Activity page (/activity): what the server is doing right now, like pg_activity — every
session, who blocks whom, and (when enabled) cancel or terminate with a confirmation step —
beside average active sessions over the chosen range (1 s samples from the store), which see
the millisecond statements a snapshot every few seconds misses.

It reads the monitored server live, every REFRESH_SECONDS unless paused, through one
read-only monitoring session (collectors/live/activity.py); query text has its literals
masked. Kasho Ops' own sessions are left out unless the sidebar switch shows them. The
session to act on is picked by selecting its row in the sessions table; actions go through
collectors/actions/signal.py, which acts only on client sessions, never on this process's
own, and audits every attempt. Layout only: data.py reads, logic.py builds the tables.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from collectors.actions.signal import ActionRequest, ActionResult, perform
from collectors.core.connections import own_backend_pids
from collectors.core.errors import StoreUnavailable, TargetBusy, TargetUnavailable
from collectors.live.activity import ActivitySnapshot, Session, blocking_forest
from dashboard.core import auth, store
from dashboard.core.context import current
from dashboard.core.loading import read_together
from dashboard.core.panels import chart_panel, hidden_caption
from dashboard.core.plain import md
from dashboard.core.tables import dataframe
from dashboard.core.timeseries import empty_reason
from dashboard.features import active_sessions
from dashboard.features.active_sessions import data as ash_data
from dashboard.features.active_sessions import logic as ash
from dashboard.features.active_sessions.layout import active_sessions_chart, statements_panel
from dashboard.features.activity import data as activity_data
from dashboard.features.activity import logic as tables

REFRESH_SECONDS = 5
RESULT_KEY = "activity_action_result"
PENDING_KEY = "activity_pending_action"  # (action, pid, backend_start) while confirming
VERBS = {"cancel": "Cancel the query of", "terminate": "Terminate"}

ctx = current()
x_range = (ctx.start, ctx.end)
st.title("Activity now")
st.caption(f"**{md(ctx.target)}** · read live from the server, not the store · literals in "
           "query text are masked")

controls = st.columns([1, 1, 4])
paused = controls[0].toggle("Pause", key="activity_paused",
                            help=f"Stop refreshing every {REFRESH_SECONDS} s")
show_idle = controls[1].toggle("Idle sessions", key="activity_show_idle",
                               help="Also list sessions in state idle")

def seconds_column(label: str) -> ColumnConfig:
    return st.column_config.NumberColumn(label, format="%.1f s", width=90)


# Every column wide enough for its usual values; the query takes the rest and the table
# scrolls sideways (pid pinned) when the page is narrow.
SESSION_CONFIG = {
    "pid": st.column_config.NumberColumn(format="%d", width=70, pinned=True),
    "database": st.column_config.TextColumn(width=110),
    "role": st.column_config.TextColumn(width=130),
    "application": st.column_config.TextColumn(width=170),
    "client": st.column_config.TextColumn(width=110),
    "state": st.column_config.TextColumn(width=140),
    "wait": st.column_config.TextColumn(width=170),
    "query age (s)": seconds_column("query age"), "xact age (s)": seconds_column("xact age"),
    "state age (s)": seconds_column("state age"),
    "blocked by": st.column_config.TextColumn(width=90),
    "statement": st.column_config.TextColumn(width=200),
    "query": st.column_config.TextColumn(width=480),
}


@st.fragment(run_every=None if paused else REFRESH_SECONDS)
def live_view() -> None:
    try:
        snapshot = activity_data.live_snapshot(ctx.config, ctx.target)
    except (TargetUnavailable, TargetBusy) as exc:
        st.error(md(exc), icon=":material/link_off:")
        return
    counts = tables.activity_counts(snapshot, ctx.own, ctx.show_own)
    use = counts.utilization
    tiles = st.columns(5)
    tiles[0].metric("Connections, now", md(use.tile_value), md(use.tile_delta), use.color,
                    border=True, delta_arrow="off",
                    help=md(use.tile_help(counts.kasho_ops)) + " (the session that read this "
                    "is one, not listed below)")
    tiles[1].metric("Active, now", int(counts.active), border=True,
                    help="Sessions running a statement at this instant: short statements "
                    "rarely show here; the average beside it counts every second")
    tiles[2].metric("Active, average", md(average_active), border=True,
                    help="Average active sessions in the latest stored interval, from one "
                    "pg_stat_activity sample per second")
    tiles[3].metric("Idle in transaction, now", int(counts.idle_in_transaction), border=True)
    tiles[4].metric("Waiting on a lock, now", int(counts.waiting_on_lock), border=True)
    refresh = "paused" if paused else f"refreshing every {REFRESH_SECONDS} s"
    st.caption(f"As of {snapshot.taken_at:%H:%M:%S} UTC · {refresh}")

    st.subheader("Who blocks whom")
    forest = blocking_forest(snapshot.sessions)
    if forest:
        dataframe(tables.blocking_tree_table(forest), hide_index=True, width="stretch",
                  placeholder="—", column_config={
                      "session": st.column_config.TextColumn(width=220),
                      "for (s)": seconds_column("for"),
                      "application": st.column_config.TextColumn(width=170),
                      "query": st.column_config.TextColumn(width=480)})
        st.caption("Roots are the sessions everyone waits behind; end the root's "
                   "transaction (or the root itself) to release the chain.")
    else:
        st.success("No session is waiting for a lock.", icon=":material/check_circle:")

    st.subheader("Sessions")
    table, hidden = tables.sessions_table(snapshot, show_idle, ctx.own, ctx.show_own)
    actions_on = ctx.config.dashboard.actions_enabled and auth.allowed("cancel")
    height = min(38 + 35 * max(len(table), 1), 600)
    if actions_on:
        event = dataframe(table, hide_index=True, width="stretch",
                          column_config=SESSION_CONFIG, height=height, placeholder="—",
                          key=tables.selection_key(table), on_select="rerun",
                          selection_mode="single-row")
    else:
        dataframe(table, hide_index=True, width="stretch", column_config=SESSION_CONFIG,
                  height=height, placeholder="—")
    st.caption("Click a column header to sort. Oldest transactions first; “—”: no query "
               "running, or no transaction open."
               + (" Select a row to cancel or terminate that session (pause first: a refresh "
                  "that reorders the list clears the selection)." if actions_on else ""))
    hidden_caption(hidden, "session")
    if actions_on:
        session_actions(tables.selected_session(snapshot, table, event.selection.rows))


def history_view() -> None:
    """Average active sessions over the sidebar's range, and who they were running."""
    st.subheader(f"Average active sessions {md(ctx.range_words)}")
    dsn = ctx.config.store.dsn
    try:
        loaded = read_together({
            "collection": lambda: store.collection_for(ctx, active_sessions.GROUP),
            "frame": lambda: ash_data.session_seconds(
                dsn, ctx.target, ctx.start, ctx.end, ctx.bucket_for(active_sessions.GROUP),
                "wait event type", ctx.own),
            "top": lambda: ash_data.top_statements(dsn, ctx.target, ctx.start, ctx.end,
                                                   ctx.own),
        })
        collection, frame, top = loaded["collection"], loaded["frame"], loaded["top"]
    except StoreUnavailable as exc:
        st.error(md(exc), icon=":material/cloud_off:")
        return
    figure, all_hidden = active_sessions_chart(ctx, frame, collection, "By wait event type")
    left, right = st.columns([3, 2])
    with left:
        chart_panel(figure, empty_reason(collection, "active sessions", ctx.range_words,
                                         all_hidden))
    with right, st.container(border=True):
        table, hidden = ash.statements_table(top, ctx.own, ctx.show_own,
                                             collection.window_seconds, limit=8)
        statements_panel(table, hidden,
                         empty_reason(collection, "active statements", ctx.range_words),
                         statement_width=130)


def latest_average_active() -> str:
    """The latest stored interval's average active sessions, for the tile beside "now"."""
    try:
        collection = store.collection_for(ctx, active_sessions.GROUP)
        if collection.last_at is None or collection.last_at <= ctx.start:
            return "—"
        frame = ash_data.interval_average(ctx.config.store.dsn, ctx.target,
                                          collection.last_at, ctx.own)
    except StoreUnavailable:
        return "—"
    return f"{ash.latest_average(frame, ctx.show_own):.2f}"


def session_actions(session: Session | None) -> None:
    """Cancel/terminate buttons for the session selected in the table."""
    if session is None:
        st.caption("No session selected.")
        return
    reason = tables.action_block_reason(session, own_backend_pids())
    label, cancel_column, terminate_column = st.columns([4, 2, 2],
                                                        vertical_alignment="center")
    label.text(f"Selected: pid {session.pid} · {session.usename or '—'} · "
               f"{session.application_name or session.backend_type}")
    offered = [(cancel_column, "cancel", "Cancel query…")]
    if auth.allowed("terminate"):  # perform() checks the role again
        offered.append((terminate_column, "terminate", "Terminate backend…"))
    for column, action, text in offered:
        if column.button(md(text), disabled=reason is not None, width="stretch",
                         key=f"activity_{action}_{session.pid}"):
            st.session_state[PENDING_KEY] = (action, session.pid, session.backend_start)
            st.rerun()
    if reason:
        st.caption(md(reason))


def close_confirmation() -> None:
    st.session_state.pop(PENDING_KEY, None)


@st.dialog("Confirm", on_dismiss=close_confirmation)
def confirm(action: str, pid: int, seen_backend_start: datetime | None) -> None:
    try:
        snapshot: ActivitySnapshot = activity_data.live_snapshot(ctx.config, ctx.target)
    except (TargetUnavailable, TargetBusy) as exc:
        st.error(md(exc), icon=":material/link_off:")
        return
    session = next((s for s in snapshot.sessions if s.pid == pid), None)
    if session is None or session.backend_start != seen_backend_start:
        st.warning(f"pid {pid:d} is no longer the session you selected on {md(ctx.target)}.",
                   icon=":material/search_off:")
        if st.button("Close"):
            close_confirmation()
            st.rerun()
        return
    st.markdown(f"**{VERBS[action]} pid {pid:d}** on **{md(ctx.target)}**?")
    dataframe(tables.session_details(session), hide_index=True, width="stretch")
    if action == "terminate":
        st.caption("Terminating closes the connection and rolls back its transaction.")
    yes, back = st.columns(2)
    if yes.button(f"Yes, {md(action)}", type="primary", width="stretch"):
        actor = auth.require("cancel" if action == "cancel" else "terminate")
        # backend_start as selected: a pid reused since is refused, not signalled.
        st.session_state[RESULT_KEY] = perform(
            ActionRequest(action, ctx.target, pid, actor, seen_backend_start), ctx.config)
        close_confirmation()
        st.rerun()
    if back.button("Back", width="stretch"):
        close_confirmation()
        st.rerun()


def actions_panel() -> None:
    if not auth.allowed("cancel"):
        return  # viewers see no actions; perform() checks the role again
    st.subheader("Cancel or terminate")
    if not ctx.config.dashboard.actions_enabled:
        st.caption("Actions are off: set `[dashboard] actions_enabled = true`; the target "
                   "also needs an `actions_dsn` role with pg_signal_backend.")
        return
    actor = auth.require("cancel")
    st.caption(f"Acting as {md(actor.name)} ({md(actor.role)}"
               + ("" if auth.allowed("terminate") else ": cancel only, terminating needs an "
                  "admin")
               + "). Select a session in the table above. Only client sessions can be "
               "signalled, never Kasho Ops' own; every attempt is recorded in "
               "kasho_ops.dba_actions.")
    if ctx.config.target(ctx.target).actions_dsn is None:
        st.warning(f"Target {md(ctx.target)} has no `actions_dsn`: actions on it will be refused. "
                   "See kasho-ops.example.toml.", icon=":material/key_off:")
    pending = st.session_state.get(PENDING_KEY)
    if pending is not None:
        confirm(*pending)
    result: ActionResult | None = st.session_state.get(RESULT_KEY)
    if result is not None:
        (st.success if result.ok else st.error)(md(result.message))
    try:
        audit = activity_data.recent_actions(ctx.config.store.dsn, ctx.target)
    except StoreUnavailable as exc:
        st.error(md(exc), icon=":material/cloud_off:")
        return
    with st.expander(f"Recent actions on {md(ctx.target)} ({len(audit)})"):
        dataframe(audit, hide_index=True, width="stretch")


average_active = latest_average_active()
live_view()
history_view()
actions_panel()
