"""Backups page (/backups): can this target be restored, and to when? The recovery states
first, then the restorable window, the backups, WAL archiving, retention and restore drills.
Layout only: data.py reads, logic.py and charts.py shape it."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from collectors.actions.restore_drill import (
    DrillStart,
    DrillStartRequest,
    running_drill,
    start_drill,
)
from collectors.core.errors import StoreUnavailable
from dashboard.core import auth, recovery_states
from dashboard.core.context import current
from dashboard.core.plain import chart, md
from dashboard.core.tables import dataframe
from dashboard.core.units import format_age, format_bytes, format_seconds
from dashboard.features.backups import charts, data
from dashboard.features.backups import logic as tables

DRILL_RESULT_KEY = "backups_drill_result"
DRILL_PENDING_KEY = "backups_drill_pending"

ctx = current()
x_range = (ctx.start, ctx.end)
dsn = ctx.config.store.dsn
target = ctx.config.target(ctx.target)
now = min(datetime.now(UTC), ctx.end)
settings = ctx.config.backups
st.title("Backups and recovery")
source = (md(f"pgBackRest stanza {target.pgbackrest.stanza} via "
             f"{' '.join(target.pgbackrest.command)}") if target.pgbackrest
          else "pgBackRest not configured")
st.caption(f"**{md(ctx.target)}** · {source} · charts: {ctx.range_label} · "
           f"{ctx.start:%Y-%m-%d %H:%M} → {ctx.end:%Y-%m-%d %H:%M} UTC")

recovery_states.stop_unless_server(target)

try:
    states = recovery_states.latest_states(dsn, ctx.target)
    recovery = recovery_states.latest_recovery(dsn, ctx.target, ctx.end)
    stanza_frame = data.latest_stanza(dsn, ctx.target, ctx.end)
    backups = (data.backups_at(dsn, ctx.target, stanza_frame["collected_at"].iloc[0])
               if not stanza_frame.empty else pd.DataFrame())
    collection_error = data.pgbackrest_error(dsn, ctx.target) if target.pgbackrest else None
    counts = data.archive_counts(dsn, ctx.target, ctx.start, ctx.end, ctx.bucket_seconds)
    backlog = data.archive_backlog(dsn, ctx.target, ctx.start, ctx.end, ctx.bucket_seconds)
    latest_archiving = data.latest_archiving(dsn, ctx.target, ctx.end)
    drills = data.drills(dsn, ctx.target)
    basebackups = data.basebackups(dsn, ctx.target, ctx.start, ctx.end)
    oldest_day = data.oldest_partition_day(dsn)
except StoreUnavailable as exc:
    st.error(md(exc), icon=":material/cloud_off:")
    st.stop()

notice = recovery_states.standby_notice(recovery)
if notice:
    st.info(md(notice) + " Backups and WAL archiving usually run on the primary; this page shows "
            "what this server and its stanza (if configured) report.", icon=":material/sync:")
recovery_states.render(states, recovery_states.BACKUP_STATES,
                       "Backups, archiving and restore drills: every check passes.")

stanza = stanza_frame.iloc[0] if not stanza_frame.empty else None
last = tables.last_good_by_type(backups, now)
tiles = st.columns(5)
if stanza is not None and not pd.isna(stanza["pitr_start"]):
    window = stanza["pitr_end"] - stanza["pitr_start"]
    tiles[0].metric("Restorable window", format_seconds(window.total_seconds()),
                    f"from {stanza['pitr_start']:%b %d %H:%M} UTC",
                    delta_color="off", delta_arrow="off", border=True,
                    help="Point-in-time recovery reaches any moment from the end of the oldest "
                         "backup whose WAL runs unbroken to the newest archived WAL, up to that "
                         "WAL (its upload time in the repository)")
else:
    tiles[0].metric("Restorable window", "—", border=True)
for column, key, label in ((tiles[1], "full", "Last full backup"),
                           (tiles[2], "any", "Last backup")):
    found = last.get(key)
    column.metric(label, format_age(found.age_seconds) if found else "none",
                  md(tables.backup_tile_caption(found)) if found else None,
                  delta_color="off", delta_arrow="off", border=True,
                  help="The newest backup without errors, by when it finished")
if not latest_archiving.empty:
    arch = latest_archiving.iloc[0]
    failed = float(counts["failed"].sum()) if not counts.empty else 0.0
    tiles[3].metric("WAL archiving", f"{failed:.0f} failed" if failed else "no failures",
                    f"{'—' if pd.isna(arch['ready_count']) else int(arch['ready_count'])} "
                    f".ready · {format_bytes(float(arch['archive_lag_bytes'] or 0))} behind",
                    delta_color="red" if failed else "off", delta_arrow="off", border=True,
                    help="Failed archive attempts in the range; WAL files waiting to be "
                         "archived and bytes not archived yet at the latest sample")
else:
    tiles[3].metric("WAL archiving", "—", border=True)
if not drills.empty:
    drill = drills.iloc[0]
    tiles[4].metric("Last restore drill", md(drill["outcome"]),
                    format_age((now - drill["started_at"].to_pydatetime()).total_seconds()),
                    delta_color="red" if drill["outcome"] != "passed" else "green",
                    delta_arrow="off", border=True,
                    help="`kasho-ops restore-drill` restores a backup into a scratch copy and "
                         "checks it")
else:
    tiles[4].metric("Last restore drill", "never", border=True)

st.subheader("Backups")
if target.pgbackrest is None:
    st.info("pgBackRest is not configured for this target: add `pgbackrest_stanza` (and, when "
            "the repository is elsewhere, `pgbackrest_command`, e.g. `ssh backup-host "
            "pgbackrest`) to its [[targets]] table. Without it Kasho Ops cannot list backups, "
            "the restorable window, retention or WAL gaps; below is what the server itself "
            "reports (WAL archiving, base backups streaming).", icon=":material/info:")
elif collection_error:
    st.error(md(f"Cannot read pgBackRest: {collection_error}"), icon=":material/error:")
if stanza is not None:
    if not pd.isna(stanza["notes"]):
        st.warning(md(stanza["notes"]), icon=":material/warning:")
    figure = charts.backup_timeline_figure(
        backups, drills, None if pd.isna(stanza["pitr_start"]) else stanza["pitr_start"],
        None if pd.isna(stanza["pitr_end"]) else stanza["pitr_end"], now)
    if figure is None:
        st.info(md(f"Stanza {stanza['stanza']} holds no backup yet "
                      f"({stanza['status_message']})."),
                icon=":material/hourglass_empty:")
    else:
        with st.container(border=True):
            chart(figure)
        dataframe(tables.backups_table(backups), hide_index=True, width="stretch", pin_first=True)
        st.caption(md(tables.last_backups_line(last)))
    st.caption(md(tables.wal_continuity_line(stanza)))
    encrypted = "none" if stanza["cipher"] == "none" else str(stanza["cipher"])
    st.caption(md(f"Stanza {stanza['stanza']}: {stanza['status_message']} · PostgreSQL "
                     f"{stanza['db_version'] or '—'} · repository encryption: {encrypted} · "
                     f"pgBackRest {stanza['pgbackrest_version'] or '—'} · read "
                     f"{stanza['collected_at']:%Y-%m-%d %H:%M:%S} UTC"))

st.subheader("WAL archiving")
left, right = st.columns(2)
for column, figure, group in (
        (left, charts.archiving_figure(counts, x_range), "wal_archive_counts"),
        (right, charts.backlog_figure(backlog, x_range), "wal_archiving")):
    with column.container(border=True):
        if figure is None:
            st.info(f"No {group} samples in the range.", icon=":material/bar_chart:")
        else:
            chart(figure)
if not latest_archiving.empty:
    dataframe(tables.archiving_settings(latest_archiving.iloc[0]), hide_index=True,
              width="stretch")
if not basebackups.empty:
    st.caption("Base backups streaming in the range (pg_stat_progress_basebackup)")
    dataframe(basebackups, hide_index=True, width="stretch")

st.subheader("Retention")
if stanza is not None:
    if tables.pitr_short(stanza, settings.min_pitr_window_hours):
        st.warning(f"The restorable window is shorter than the configured minimum of "
                   f"{settings.min_pitr_window_hours:g} h: raise repo1-retention-full (or "
                   "take backups more often).", icon=":material/warning:")
    dataframe(tables.retention_table(stanza, backups, settings.min_pitr_window_hours),
              hide_index=True, width="stretch")
oldest = oldest_day["oldest_day"].iloc[0] if not oldest_day.empty else None
st.caption("Kasho Ops' own store")
dataframe(tables.store_retention_table(ctx.config.store.retention_days,
                                       None if pd.isna(oldest) else oldest),
          hide_index=True, width="stretch")


def close_drill_confirmation() -> None:
    st.session_state.pop(DRILL_PENDING_KEY, None)


@st.dialog("Start a restore drill", on_dismiss=close_drill_confirmation)
def confirm_drill() -> None:
    assert target.pgbackrest is not None
    st.text(f"Target {ctx.target}, pgBackRest stanza {target.pgbackrest.stanza}")
    st.markdown("The drill restores the newest good backup (before the time below, if any) "
                "plus archived WAL into a scratch directory, starts it on a spare loopback "
                "port, checks that Kasho's tables answer and that no transaction is newer than "
                "the recovered-to time, records the result under Restore drills and removes "
                "the copy. The monitored server is not touched.")
    st.warning("It takes minutes, reads the whole backup from the repository and needs "
               "free disk for a full copy of the database on this dashboard's host.",
               icon=":material/warning:")
    typed = st.text_input("Recover to (optional)", key="backups_drill_to",
                          placeholder="end of the archive",
                          help="ISO 8601, UTC unless an offset is given, e.g. "
                               "2026-01-31 14:05:00; empty: replay to the end of the archive")
    try:
        to = tables.parse_drill_time(typed)
    except ValueError as exc:
        st.error(md(str(exc)), icon=":material/error:")
        to = None
        typed_ok = False
    else:
        typed_ok = True
    yes, back = st.columns(2)
    if yes.button("Start the drill", type="primary", width="stretch", disabled=not typed_ok):
        actor = auth.require("restore_drill")
        st.session_state[DRILL_RESULT_KEY] = start_drill(
            ctx.config, DrillStartRequest(ctx.target, actor, to))
        data.drills.clear()
        close_drill_confirmation()
        st.rerun()
    if back.button("Back", width="stretch"):
        close_drill_confirmation()
        st.rerun()


def drill_controls() -> None:
    running = running_drill(ctx.target)
    if running is not None:
        to = (f"to {running.to:%Y-%m-%d %H:%M:%S} UTC" if running.to
              else "to the end of the archive")
        st.info(md(f"A restore drill of {ctx.target} is running: started by "
                   f"{running.actor.name} ({running.actor.role}) at "
                   f"{running.started_at:%H:%M:%S} UTC, {to}. Its result appears below "
                   "when it is recorded."), icon=":material/progress_activity:")
    result: DrillStart | None = st.session_state.get(DRILL_RESULT_KEY)
    if result is not None:
        if result.ok:
            st.success("Restore drill started.", icon=":material/science:")
        else:
            st.error(f"No drill started ({md(result.outcome)}).", icon=":material/block:")
        st.text(result.message)
    if not auth.allowed("restore_drill"):
        return  # only admins see it; start_drill() checks the role again
    if not ctx.config.dashboard.actions_enabled:
        st.caption("Starting a drill here is off: set `[dashboard] actions_enabled = true`. "
                   "Every attempt is recorded in kasho_ops.restore_drill_starts.")
        return
    if target.pgbackrest is None:
        return
    actor = auth.require("restore_drill")
    st.caption(md(f"Acting as {actor.name} ({actor.role}); every attempt is recorded in "
                  "kasho_ops.restore_drill_starts and the audit trail."))
    if st.button("Start a restore drill…", icon=":material/science:",
                 disabled=running is not None,
                 help="One drill per target at a time" if running is not None else None):
        st.session_state[DRILL_PENDING_KEY] = True
    if st.session_state.get(DRILL_PENDING_KEY):
        confirm_drill()



st.subheader("Restore drills")
drill_controls()
if drills.empty:
    st.info("No restore drill yet. Start one here (admins), run the command below "
            "(optionally with `--to TIME`), or set [backups] drill_interval_hours to run one "
            "on a schedule.", icon=":material/science:")
    st.code(f"kasho-ops restore-drill --target {ctx.target}", language="bash")
else:
    dataframe(tables.drills_table(drills, now), hide_index=True, width="stretch",
              pin_first=True)
