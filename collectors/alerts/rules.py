"""Alert rules as data: collectors/alerts/rules.toml (thresholds, `for`, parameters) plus one
condition query per rule in conditions/<name>.sql, with the config's overrides applied.

Validated at load time: a rule without its query, with thresholds in the wrong order or an
unknown unit fails loudly, with the rule's name, before anything is evaluated.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from collectors.core.errors import ConfigError, KashoOpsError

RULES_DIR = Path(__file__).resolve().parent
RULES_FILE = RULES_DIR / "rules.toml"
CONDITIONS_DIR = RULES_DIR / "conditions"
RUN_RECORDS = "collector_runs"  # a rule that reads the run records rather than a group
UNITS = ("percent", "seconds", "count", "ratio", "intervals", "bytes", "hours", "days")
# Rules whose rows carry a severity judged where their number is defined, and the config
# section holding those thresholds (a second set of thresholds here would disagree with it).
JUDGED_BY = {"recovery_states": "[backups]"}
Severity = Literal["warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("warning", "critical")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_RULE_KEYS = {"summary", "reads", "unit", "warning", "critical", "below", "for", "page",
              "runbook", "params", "judged_by", "condition"}


def parse_duration(value: object, what: str) -> float:
    """Seconds from 90, "90s", "5m", "1h" or "1d"; ConfigError naming `what` otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f"{what} must be a duration like \"90s\", \"5m\" or \"1h\" "
                          f"(got {value!r})")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


@dataclass(frozen=True)
class RuleOverride:
    """What kasho-ops.toml changes about one rule ([alerts.rules.<name>]); None keeps it."""

    enabled: bool | None = None
    warning: float | None = None
    critical: float | None = None
    for_seconds: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    clear_warning: bool = False  # warning = false: no warning level
    clear_critical: bool = False


@dataclass(frozen=True)
class AlertRule:
    name: str
    summary: str
    reads: tuple[str, ...]
    unit: str
    warning: float | None
    critical: float | None
    for_seconds: float
    page: str
    runbook: str
    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)
    below: bool = False  # low values are bad
    enabled: bool = True
    # Set when the condition's rows carry their own severity and threshold (judged where
    # the number is defined, e.g. recovery_states); warning and critical are then None.
    judged_by: str | None = None

    @property
    def reads_run_records(self) -> bool:
        return RUN_RECORDS in self.reads

    @property
    def groups(self) -> tuple[str, ...]:
        """The metric groups it reads (the run records are not a group)."""
        return tuple(g for g in self.reads if g != RUN_RECORDS)

    def severity_of(self, value: float) -> Severity | None:
        """The severity this value reaches, if any (critical wins)."""
        if self.judged_by is not None:
            raise ValueError(f"rule {self.name} takes its severity from {self.judged_by}")
        if self.critical is not None and self._beyond(value, self.critical):
            return "critical"
        if self.warning is not None and self._beyond(value, self.warning):
            return "warning"
        return None

    def threshold(self, severity: Severity) -> float:
        value = self.critical if severity == "critical" else self.warning
        assert value is not None  # only asked for a severity the rule reached
        return value

    def _beyond(self, value: float, threshold: float) -> bool:
        return value <= threshold if self.below else value >= threshold


def _number(spec: Mapping[str, Any], key: str, fail: Any) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise fail(f"{key} must be a number (got {value!r})")
    return float(value)


def build_rule(name: str, spec: Mapping[str, Any], override: RuleOverride | None = None,
               global_params: Mapping[str, Any] | None = None,
               conditions_dir: Path = CONDITIONS_DIR) -> AlertRule:
    def fail(message: str) -> KashoOpsError:
        return KashoOpsError(f"alert rule {name}: {message}")

    unknown = set(spec) - _RULE_KEYS
    if unknown:
        raise fail(f"unknown keys {', '.join(sorted(unknown))}; known: "
                   f"{', '.join(sorted(_RULE_KEYS))}")
    condition = spec.get("condition", name)  # rules may share one query, told by params
    if not isinstance(condition, str) or not condition.isidentifier():
        raise fail(f"condition must name a query in {conditions_dir} (got {condition!r})")
    sql_file = conditions_dir / f"{condition}.sql"
    if not sql_file.is_file():
        raise fail(f"no condition query {sql_file}")
    unit = spec.get("unit")
    if unit not in UNITS:
        raise fail(f"unit must be one of {', '.join(UNITS)} (got {unit!r})")
    reads = spec.get("reads")
    if not isinstance(reads, list) or not reads or not all(isinstance(r, str) for r in reads):
        raise fail("reads must list the metric groups the rule reads")
    params = dict(spec.get("params", {}))
    override = override or RuleOverride()
    for key, value in (global_params or {}).items():
        if key in params:
            params[key] = value
    unknown_params = set(override.params) - set(params)
    if unknown_params:
        raise ConfigError(f"alerts.rules.{name}.params: unknown {', '.join(sorted(unknown_params))}"
                          f"; the rule takes {', '.join(sorted(params)) or 'no parameters'}")
    params.update(override.params)
    warning = None if override.clear_warning else (
        override.warning if override.warning is not None else _number(spec, "warning", fail))
    critical = None if override.clear_critical else (
        override.critical if override.critical is not None else _number(spec, "critical", fail))
    below = bool(spec.get("below", False))
    judged_by = spec.get("judged_by")
    if judged_by is not None:
        if judged_by not in JUDGED_BY:
            raise fail(f"judged_by must be one of {', '.join(JUDGED_BY)} (got {judged_by!r})")
        if "warning" in spec or "critical" in spec:
            raise fail("a rule judged_by stored states takes no warning or critical")
        if (override.warning is not None or override.critical is not None
                or override.clear_warning or override.clear_critical):
            raise ConfigError(f"alerts.rules.{name}: its severity is judged in {judged_by} "
                              f"with the thresholds of {JUDGED_BY[judged_by]}; set them there "
                              "(or enabled = false to turn the alert off)")
    elif warning is None and critical is None:
        raise fail("needs a warning or a critical threshold")
    if warning is not None and critical is not None and (
            (not below and warning > critical) or (below and warning < critical)):
        order = "above" if below else "below"
        raise ConfigError(f"alert rule {name}: warning {warning:g} must be {order} critical "
                          f"{critical:g} (the value is bad when {'low' if below else 'high'})")
    for_seconds = (override.for_seconds if override.for_seconds is not None
                   else parse_duration(spec.get("for", 0), f"alert rule {name}: for"))
    return AlertRule(
        name=name, summary=str(spec.get("summary", name)), reads=tuple(reads), unit=unit,
        warning=warning, critical=critical, for_seconds=for_seconds,
        page=str(spec.get("page", "")), runbook=str(spec.get("runbook", "")),
        sql=sql_file.read_text(), params=params, below=below,
        enabled=override.enabled if override.enabled is not None else True,
        judged_by=judged_by)


@cache
def shipped_rules(rules_file: Path = RULES_FILE) -> dict[str, dict[str, Any]]:
    """The rules file's [rules.<name>] tables, as written."""
    return dict(tomllib.loads(rules_file.read_text()).get("rules", {}))


def load_rules(overrides: Mapping[str, RuleOverride] | None = None,
               global_params: Mapping[str, Any] | None = None,
               rules_file: Path = RULES_FILE,
               conditions_dir: Path = CONDITIONS_DIR) -> dict[str, AlertRule]:
    """Every rule (enabled or not), by name, in file order, with the overrides applied."""
    specs = shipped_rules(rules_file)
    overrides = overrides or {}
    unknown = set(overrides) - set(specs)
    if unknown:
        raise ConfigError(f"alerts.rules: no rule named {', '.join(sorted(unknown))}; known "
                          f"rules: {', '.join(specs)}")
    return {name: build_rule(name, spec, overrides.get(name), global_params, conditions_dir)
            for name, spec in specs.items()}
