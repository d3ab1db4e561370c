"""On call (/oncall), the first page: what is firing (what, since when, the value, the page
that explains it), every target on one line, then what changed in the window; silences,
acknowledgements, notification trouble and the incident snapshot. Layout only: data.py
reads, logic.py and charts.py shape it, collectors/alerts/actions.py records what operators
do (the role check is made there too)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from collectors.alerts import actions
from collectors.alerts.rules import load_rules
from collectors.alerts.silences import BadMatcher, Matcher, parse_matcher
from collectors.backups.jobs import STATES_GROUP
from collectors.core.access import AccessDenied
from collectors.core.errors import KashoOpsError, StoreUnavailable
from collectors.core.metric_groups import load_catalog
from dashboard.core import auth, freshness
from dashboard.core.context import current
from dashboard.core.plain import chart, md
from dashboard.core.tables import dataframe
from dashboard.features.oncall import charts, data, logic
from dashboard.features.oncall.snapshot import build_snapshot, snapshot_file_name

CHART_CONFIG = {"displaylogo": False}
SILENCE_DURATIONS = {"1 hour": timedelta(hours=1), "4 hours": timedelta(hours=4),
                     "12 hours": timedelta(hours=12), "1 day": timedelta(days=1),
                     "3 days": timedelta(days=3), "7 days": timedelta(days=7)}
SNAPSHOT_KEY = "kasho_ops.oncall_snapshot"

ctx = current()
config = ctx.config
dsn = config.store.dsn
now = datetime.now(UTC)
targets = [t.name for t in config.targets]
rules = load_rules(config.alerts.rules, config.alerts.global_params)
intervals = freshness.effective_intervals(
    {name: group.interval_seconds for name, group in load_catalog().items()},
    config.collector.intervals)
# The backups jobs' runs: the recovery states the backup and replication rules read.
intervals[STATES_GROUP] = config.backups.states_interval_seconds

st.title("On call")
st.caption(f"Every target · what changed in the {ctx.range_label.lower()} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC")

try:
    stored_alerts = data.alerts(dsn, ctx.start, ctx.end)
    silences = data.silences(dsn, ctx.end)
    runs = data.group_runs(dsn, tuple(targets), tuple(intervals))
    latest_states = data.latest_server_state(dsn, tuple(targets))
    states = data.server_states(dsn, ctx.start, ctx.end)
    resets = data.statistics_resets(dsn, ctx.start, ctx.end)
    versions = data.schema_versions(dsn, ctx.start, ctx.end)
    gaps = data.collector_gaps(dsn, tuple(targets), ctx.start, ctx.end,
                               3.0 * intervals.get(data.HEARTBEAT_GROUP, 15))
    pending_restart = data.pending_restart_settings(dsn, tuple(targets))
    trouble = data.notification_trouble(dsn, ctx.start)
    sent = data.notification_counts(dsn, ctx.start)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()

active_silences = logic.silences_from(silences)
views = logic.alert_views(stored_alerts, rules, active_silences, now)


def refresh() -> None:
    """After an operator's action: read the alerts and silences again."""
    data.alerts.clear()
    data.silences.clear()
    st.rerun()


# -- firing ------------------------------------------------------------------------------------

firing = logic.firing_table(views, now)
st.subheader("Firing")
if firing.empty:
    st.success("Nothing is firing on any target.", icon=":material/check_circle:")
else:
    critical = int((firing["severity"] == logic.SEVERITY_MARKS["critical"]).sum())
    st.error(f"{len(firing)} alert(s) firing, {critical} critical.",
             icon=":material/notifications_active:")
    dataframe(logic.styled_firing(firing.drop(columns=["id"])), hide_index=True,
              width="stretch", pin_first=True,
              column_config={"alert": st.column_config.TextColumn(pinned=True),
                             "detail": st.column_config.TextColumn(width="large"),
                             "explained on": st.column_config.LinkColumn(
                                 "explained on", display_text="open the page")})
pending = logic.pending_table(views, now, rules)
if not pending.empty:
    st.caption("Pending: the condition holds but has not lasted the rule's `for` yet.")
    dataframe(pending, hide_index=True, width="stretch")

open_alerts = {v.id: v for v in views if v.state in ("firing", "pending")}
if open_alerts and auth.allowed("acknowledge"):
    with st.expander("Acknowledge or silence an alert", icon=":material/front_hand:"):
        chosen = st.selectbox("Alert", list(open_alerts), format_func=lambda i: md(
            f"#{i} {open_alerts[i].summary} on {open_alerts[i].target}"
            + (f" ({open_alerts[i].instance})" if open_alerts[i].instance else "")),
            key="oncall_alert")
        alert = open_alerts[chosen]
        comment = st.text_input("Comment", key="oncall_alert_comment",
                                placeholder="who is on it, which ticket")
        left, right = st.columns(2)
        duration = right.selectbox("Silence for", list(SILENCE_DURATIONS), index=1,
                                   key="oncall_alert_silence_for")
        if left.button("Acknowledge", icon=":material/check:", key="oncall_ack"):
            try:
                actions.acknowledge(config.store, auth.require("acknowledge"), alert.id,
                                    alert.target, comment)
                refresh()
            except (AccessDenied, KashoOpsError) as exc:
                st.error(md(exc), icon=":material/block:")
        if right.button("Silence this alert", icon=":material/notifications_off:",
                        key="oncall_silence_alert"):
            matchers = [Matcher("target", "=", alert.target), Matcher("rule", "=", alert.rule)]
            if alert.instance:
                matchers.append(Matcher("instance", "=", alert.instance))
            try:
                actions.create_silence(config.store, auth.require("silence"), matchers, now,
                                       now + SILENCE_DURATIONS[duration], comment)
                refresh()
            except (AccessDenied, KashoOpsError) as exc:
                st.error(md(exc), icon=":material/block:")

# -- targets -----------------------------------------------------------------------------------

st.subheader("Targets")
lines = logic.target_lines(targets, runs, latest_states, views, intervals,
                           config.dashboard.stale_after_intervals, rules)
dataframe(logic.styled_target_lines(lines), hide_index=True, width="stretch", pin_first=True)
st.caption("One line per target: reachable or not, primary or standby, firing alerts, then "
           "each area of metric groups at its worst group: ok (collected on time), late "
           "(over 1.5 intervals), warning (a warning alert reads it), problem (failing, "
           "stale, or a critical alert reads it), — (not collected).")
problems = logic.group_problems(targets, runs, views, intervals,
                                config.dashboard.stale_after_intervals, rules)
if not problems.empty:
    with st.expander(f"Groups that are not ok ({len(problems)})", icon=":material/rule:",
                     expanded=True):
        dataframe(logic.styled_problems(problems), hide_index=True, width="stretch")
if not pending_restart.empty:
    st.warning(f"{len(pending_restart)} changed setting(s) wait for a restart.",
               icon=":material/restart_alt:")
    dataframe(pending_restart, hide_index=True, width="stretch")

# -- what changed ------------------------------------------------------------------------------

st.subheader("What changed")
events, changes = logic.state_events(states)
settings = [(c, logic.settings_diff(data.settings_around(dsn, c.target, c.before, c.after)))
            for c in changes]
timeline = logic.timeline(events, settings, resets, versions, gaps, views, ctx.start, ctx.end)
figure = charts.timeline_figure(timeline, (ctx.start, ctx.end))
if figure is None:
    st.info(f"No restart, configuration change, failover, statistics reset, schema migration, "
            f"collector gap or alert in the {ctx.range_label.lower()}.",
            icon=":material/history:")
else:
    with st.container(border=True):
        chart(figure, config=CHART_CONFIG)
    dataframe(timeline, hide_index=True, width="stretch", column_config={
        "at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "what": st.column_config.TextColumn(width="large")})
resolved = logic.resolved_table(views)
if not resolved.empty:
    with st.expander(f"Resolved in the range ({len(resolved)})", icon=":material/done_all:"):
        dataframe(resolved, hide_index=True, width="stretch")

# -- silences ----------------------------------------------------------------------------------

st.subheader("Silences")
if silences.empty:
    st.caption("No silence in force, planned, or ended in the last day.")
else:
    shown = silences.assign(
        matchers=silences["matchers"].map(
            lambda ms: ", ".join(f"{m['label']}{m['op']}{m['value']}" for m in ms)),
        status=[("expired" if pd.notna(e) else "ended") if end <= now else
                ("in force" if start <= now else "planned")
                for start, end, e in zip(silences["starts_at"], silences["effective_end"],
                                         silences["expired_at"], strict=True)])
    dataframe(shown[["id", "status", "matchers", "starts_at", "ends_at", "created_by",
                     "comment", "expired_by"]], hide_index=True, width="stretch")
if auth.allowed("silence"):
    with st.expander("New silence", icon=":material/notifications_off:"), \
            st.form("oncall_new_silence", border=False):
        text = st.text_area("Matchers, one per line", placeholder="rule=deadlocks\n"
                            "target=kasho-primary\ninstance=~kasho.*")
        duration = st.selectbox("For", list(SILENCE_DURATIONS), index=1)
        why = st.text_input("Why", placeholder="planned maintenance, ticket OPS-123")
        if st.form_submit_button("Create the silence", icon=":material/add:"):
            try:
                matchers = [parse_matcher(line) for line in text.splitlines() if line.strip()]
                actions.create_silence(config.store, auth.require("silence"), matchers,
                                       now, now + SILENCE_DURATIONS[duration], why)
                refresh()
            except (AccessDenied, BadMatcher, KashoOpsError) as exc:
                st.error(md(exc), icon=":material/block:")
    in_force = silences[silences["effective_end"] > now] if not silences.empty else silences
    if not in_force.empty:
        ending = st.selectbox("End a silence now", list(in_force["id"]),
                              format_func=lambda i: f"silence #{i}", key="oncall_expire")
        if st.button("Expire it", icon=":material/timer_off:", key="oncall_expire_button"):
            try:
                actions.expire_silence(config.store, auth.require("silence"), int(ending))
                refresh()
            except (AccessDenied, KashoOpsError) as exc:
                st.error(md(exc), icon=":material/block:")

# -- notifications -----------------------------------------------------------------------------

st.subheader("Notifications")
receivers = config.alerts.webhooks
if not receivers:
    st.caption("No webhook configured ([[alerts.webhooks]] in the config): alerts are stored "
               "and shown here, in /metrics and `kasho-ops check`, but nobody is notified.")
else:
    st.caption("Receivers: " + ", ".join(md(f"{h.name} ({h.format}, {h.min_severity} and up)")
                                          for h in receivers))
    if not sent.empty:
        dataframe(sent.pivot_table(index="receiver", columns="status",
                                   values="notifications", fill_value=0).reset_index(),
                  hide_index=True)
    if trouble.empty:
        st.caption("No notification failed or is being retried.")
    else:
        st.warning(f"{len(trouble)} notification(s) failed or are being retried.",
                   icon=":material/sms_failed:")
        dataframe(trouble[["receiver", "event", "status", "attempts", "target", "rule",
                           "last_attempt_at", "next_attempt_at", "last_error"]],
                  hide_index=True, width="stretch")

# -- incident snapshot -------------------------------------------------------------------------

st.subheader("Incident snapshot")
st.caption("One self-contained HTML file to attach to the incident ticket: alerts, what "
           "changed, activity, locks, top statements and business numbers around a moment.")
left, middle, right, last = st.columns(4)
snapshot_target = left.selectbox("Target", targets, index=targets.index(ctx.target),
                                 key="oncall_snapshot_target")
day = middle.date_input("Day (UTC)", value=now.date(), key="oncall_snapshot_day")
moment = right.time_input("Time (UTC)", value=time(now.hour, now.minute),
                          key="oncall_snapshot_time", step=60)
minutes = last.number_input("Minutes either side", min_value=5, max_value=720, value=30,
                            step=5, key="oncall_snapshot_minutes")
if st.button("Prepare the snapshot", icon=":material/photo_camera:", key="oncall_snapshot"):
    at = datetime.combine(day, moment, tzinfo=UTC)
    try:
        st.session_state[SNAPSHOT_KEY] = (snapshot_file_name(snapshot_target, at),
                                          build_snapshot(config, snapshot_target, at,
                                                         int(minutes)))
    except KashoOpsError as exc:
        st.error(md(exc), icon=":material/error:")
prepared = st.session_state.get(SNAPSHOT_KEY)
if prepared:
    name, document = prepared
    st.download_button(f"Download {md(name)}", document.encode(), file_name=name,
                       mime="text/html", icon=":material/download:", key="oncall_download")
