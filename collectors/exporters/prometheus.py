"""Prometheus `/metrics` served by the collector, from memory: the latest run of every group on
every target as the engine stored it, the alert states of the latest evaluations, and the
collector's own health. Serving a scrape never queries a monitored server or the store.

Names follow postgres_exporter where it exports the same thing (prometheus.toml); every other
numeric column is `kasho_ops_<group>_<column>` (timestamps as `..._timestamp_seconds`,
counters of counter groups as cumulative `..._total` from the raw sample the deltas came
from). Every sample carries the `target` label. `render` writes the text exposition format
0.0.4 (label values escaped, so names from a monitored server cannot break it).
"""

from __future__ import annotations

import logging
import math
import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from collectors.alerts.delivery import Delivery
from collectors.alerts.evaluator import Evaluation
from collectors.core.config import Target
from collectors.core.deltas import Key
from collectors.core.engine import GroupRows
from collectors.core.metric_groups import MetricGroup
from collectors.core.store import RunRecord

log = logging.getLogger(__name__)
NAMES_FILE = Path(__file__).resolve().parent / "prometheus.toml"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MetricType = Literal["gauge", "counter"]
Labels = tuple[tuple[str, str], ...]
SKIPPED_COLUMNS = {"interval_seconds"}  # the deltas' own interval, not a metric


@dataclass(frozen=True)
class NamedMetric:
    """A column exported under postgres_exporter's name (prometheus.toml)."""

    group: str
    column: str
    name: str
    type: MetricType
    labels: tuple[str, ...]
    help: str
    aggregate: Literal["sum", "max"] = "sum"


@dataclass
class Family:
    name: str
    type: MetricType
    help: str
    samples: dict[Labels, float] = field(default_factory=dict)


@cache
def load_names(path: Path = NAMES_FILE) -> tuple[tuple[NamedMetric, ...], dict[str, Any]]:
    raw = tomllib.loads(path.read_text())
    named = tuple(NamedMetric(m["group"], m["column"], m["name"], m["type"],
                              tuple(m.get("labels", ())), m.get("help", ""),
                              m.get("aggregate", "sum")) for m in raw.get("metrics", []))
    return named, dict(raw.get("limits", {}))


def number(value: Any) -> float | None:
    """A sample value from a column value; None for what is not a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return None


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def format_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() or abs(value) >= 1e15 \
        else str(int(value))


def render(families: Iterable[Family]) -> str:
    """The text exposition format: HELP, TYPE, then one line per sample."""
    lines: list[str] = []
    for family in sorted(families, key=lambda f: f.name):
        if not family.samples:
            continue
        lines.append(f"# HELP {family.name} {escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for labels, value in sorted(family.samples.items()):
            label_text = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels)
            lines.append(f"{family.name}{{{label_text}}} {format_number(value)}"
                         if labels else f"{family.name} {format_number(value)}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class GroupSnapshot:
    """One group's latest successful run on one target."""

    group: MetricGroup
    rows: Sequence[Mapping[str, Any]]
    counters: Mapping[Key, Mapping[str, Any]]  # raw cumulative values (counter groups)


def _label_text(value: Any) -> str:
    return "" if value is None else str(value)


class LatestValues:
    """What /metrics serves, kept up to date by the engine's observer hook."""

    def __init__(self, points_dropped: Callable[[], int] | None = None) -> None:
        self._groups: dict[tuple[str, str], GroupSnapshot] = {}
        self._runs: dict[tuple[str, str], RunRecord] = {}
        self._last_success: dict[tuple[str, str], datetime] = {}
        self._up: dict[str, bool] = {}
        self._alerts: dict[str, Evaluation] = {}
        self._notifications: dict[tuple[str, str], int] = {}
        self._points_dropped = points_dropped
        self._lock = threading.Lock()

    # -- observers --------------------------------------------------------------------------

    def observe(self, group: MetricGroup, target: Target, result: GroupRows | None,
                record: RunRecord) -> None:
        key = (target.name, group.name)
        with self._lock:
            self._runs[key] = record
            if record.target_unreachable:
                self._up[target.name] = False
            elif result is not None or record.error is None:
                self._up[target.name] = True
            if result is None or record.error is not None:
                return
            self._last_success[key] = record.started_at
            counters: dict[Key, Mapping[str, Any]] = {}
            if group.is_counter and result.baseline is not None:
                baseline = result.baseline.new
                counters = {k: dict(zip(baseline.counters, state.values, strict=True))
                            for k, state in baseline.series.items()}
            if group.is_counter and not result.rows and key in self._groups:
                rows = self._groups[key].rows  # a run without deltas keeps the last gauges
            else:
                rows = result.rows
            self._groups[key] = GroupSnapshot(group, list(rows), counters)

    def observe_evaluation(self, evaluation: Evaluation) -> None:
        if evaluation.locked_out:
            return
        with self._lock:
            self._alerts[evaluation.target] = evaluation

    def observe_deliveries(self, deliveries: Iterable[Delivery]) -> None:
        with self._lock:
            for delivery in deliveries:
                key = (delivery.receiver, delivery.outcome)
                self._notifications[key] = self._notifications.get(key, 0) + 1

    # -- exposition -------------------------------------------------------------------------

    def render(self) -> str:
        return render(self.families())

    def families(self) -> list[Family]:
        with self._lock:
            groups = dict(self._groups)
            runs = dict(self._runs)
            successes = dict(self._last_success)
            up = dict(self._up)
            alerts = dict(self._alerts)
            notifications = dict(self._notifications)
        found: dict[str, Family] = {}

        def family(name: str, kind: MetricType, help_text: str) -> Family:
            return found.setdefault(name, Family(name, kind, help_text))

        pg_up = family("pg_up", "gauge", "Whether the last connection to the server worked")
        for target, is_up in up.items():
            pg_up.samples[(("target", target),)] = 1.0 if is_up else 0.0
        named, limits = load_names()
        for (target, _), snapshot in groups.items():
            self._group_families(target, snapshot, named, limits, family)
        self._collector_families(runs, successes, family)
        self._alert_families(alerts, family)
        sent = family("kasho_ops_notifications_total", "counter",
                      "Notification attempts by receiver and outcome since the collector "
                      "started (sent, retry, failed, cancelled, held)")
        for (receiver, outcome), count in notifications.items():
            sent.samples[(("outcome", outcome), ("receiver", receiver))] = float(count)
        if self._points_dropped is not None:
            family("kasho_ops_store_points_dropped_total", "counter",
                   "Rows dropped because the store was down longer than the buffer holds"
                   ).samples[()] = float(self._points_dropped())
        return list(found.values())

    @staticmethod
    def _group_families(target: str, snapshot: GroupSnapshot, named: Sequence[NamedMetric],
                        limits: Mapping[str, Any],
                        family: Callable[[str, MetricType, str], Family]) -> None:
        group = snapshot.group
        keys = group.keys
        rows = list(snapshot.rows)
        counters = dict(snapshot.counters)
        limit = limits.get(group.name)
        if limit and counters:
            ranked = sorted(counters, key=lambda k: number(counters[k].get(limit["by"])) or 0.0,
                            reverse=True)[:int(limit["top"])]
            counters = {k: counters[k] for k in ranked}
            rows = [r for r in rows if tuple(r.get(k) for k in keys) in counters]
        mapped = {m.column: m for m in named if m.group == group.name}
        columns = list(rows[0]) if rows else []
        if counters:
            columns += [c for c in group.counters if c not in columns]
        for column in columns:
            if column in keys or column in SKIPPED_COLUMNS or column in group.text_columns:
                continue
            from_counters = column in group.counters
            values: list[tuple[Mapping[str, Any], Any]] = (
                [(dict(zip(keys, k, strict=True)), v.get(column)) for k, v in counters.items()]
                if from_counters else [(r, r.get(column)) for r in rows])
            spec = mapped.get(column)
            if spec is not None:
                name, kind, help_text = spec.name, spec.type, spec.help
                label_columns, aggregate = spec.labels, spec.aggregate
            else:
                timestamp = any(isinstance(v, datetime) for _, v in values)
                suffix = "_timestamp_seconds" if timestamp else ("_total" if from_counters
                                                                 else "")
                name = f"kasho_ops_{group.name}_{column}{suffix}"
                kind = "counter" if from_counters else "gauge"
                help_text = f"{group.description}: {column}"
                label_columns, aggregate = keys, "sum"
            out = family(name, kind, help_text)
            for row, value in values:
                sample = number(value)
                if sample is None:
                    continue
                labels = tuple(sorted((("target", target), *(
                    (c, _label_text(row.get(c))) for c in label_columns))))
                if labels in out.samples:
                    out.samples[labels] = (out.samples[labels] + sample if aggregate == "sum"
                                           else max(out.samples[labels], sample))
                else:
                    out.samples[labels] = sample

    @staticmethod
    def _collector_families(runs: Mapping[tuple[str, str], RunRecord],
                            successes: Mapping[tuple[str, str], datetime],
                            family: Callable[[str, MetricType, str], Family]) -> None:
        last_run = family("kasho_ops_collector_last_run_timestamp_seconds", "gauge",
                          "When the group last ran on the target")
        duration = family("kasho_ops_collector_run_duration_seconds", "gauge",
                          "How long the group's last run took")
        failed = family("kasho_ops_collector_run_failed", "gauge",
                        "1 if the group's last run on the target failed")
        last_ok = family("kasho_ops_collector_last_success_timestamp_seconds", "gauge",
                         "When the group last ran successfully on the target")
        for (target, group), record in runs.items():
            labels = (("group", group), ("target", target))
            last_run.samples[labels] = record.started_at.timestamp()
            duration.samples[labels] = record.duration_ms / 1000
            failed.samples[labels] = 0.0 if record.error is None else 1.0
        for (target, group), moment in successes.items():
            last_ok.samples[(("group", group), ("target", target))] = moment.timestamp()

    @staticmethod
    def _alert_families(alerts: Mapping[str, Evaluation],
                        family: Callable[[str, MetricType, str], Family]) -> None:
        state = family("kasho_ops_alert_state", "gauge",
                       "1 for every open alert: its rule, instance, severity and state "
                       "(pending or firing), as of the latest evaluation of its target")
        value = family("kasho_ops_alert_value", "gauge",
                       "The latest value of every open alert's condition")
        evaluated = family("kasho_ops_alert_last_evaluation_timestamp_seconds", "gauge",
                           "When the target's alert rules were last evaluated")
        for target, evaluation in alerts.items():
            evaluated.samples[(("target", target),)] = evaluation.evaluated_at.timestamp()
            for alert in evaluation.open_alerts:
                base = (("instance", alert.instance), ("rule", alert.rule), ("target", target))
                state.samples[tuple(sorted((*base, ("severity", alert.severity),
                                            ("state", alert.state))))] = 1.0
                value.samples[base] = alert.last_value


class _Handler(BaseHTTPRequestHandler):
    latest: LatestValues

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404, "only /metrics is served here")
            return
        body = self.latest.render().encode()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
        return


def serve_metrics(latest: LatestValues, host: str, port: int) -> ThreadingHTTPServer:
    """Serve /metrics on host:port in a daemon thread; `shutdown()` the result to stop."""
    handler = type("MetricsHandler", (_Handler,), {"latest": latest})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="kasho-ops-metrics",
                     daemon=True).start()
    log.info("serving /metrics on http://%s:%d/metrics", host, port)
    return server
