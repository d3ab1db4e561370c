"""check_postgres' threshold syntax, parsed as check_postgres 2.25 parses it (pure)."""

from __future__ import annotations

import pytest

from collectors.exporters import thresholds as th
from collectors.exporters.check import CheckResult, perf, perf_label


def test_sizes_and_times() -> None:
    assert th.parse_size("10 GB") == 10 * 1024**3
    assert th.parse_size("500kb") == 500 * 1024
    assert th.parse_size("1024") == 1024
    assert th.parse_time("90") == 90
    assert th.parse_time("5 minutes") == 300
    assert th.parse_time("2h") == 7200
    assert th.parse_time("1 day") == 86400
    with pytest.raises(th.ThresholdError):
        th.parse_size("lots")
    with pytest.raises(th.ThresholdError):
        th.parse_time("5 fortnights")


def test_count_for_time() -> None:
    assert th.parse_count_for_time("5 for 2 minutes") == th.CountForTime(5, 120)
    assert th.parse_count_for_time("2 minutes for 5") == th.CountForTime(5, 120)
    assert th.parse_count_for_time("30s") == th.CountForTime(None, 30)
    assert th.parse_count_for_time("+5") == th.CountForTime(5, None)
    assert th.parse_count_for_time("1048576 and 2min", default_to_int=True) == \
        th.CountForTime(1048576, 120)
    assert th.CountForTime(5, 120).reached(5, 120)
    assert not th.CountForTime(5, 120).reached(4, 500)


def test_backends_defaults_percent_and_slots_left() -> None:
    warn, crit = th.parse_backends(None, None)
    assert (warn.value, warn.percent, crit.value) == (90, True, 95)
    warn, crit = th.parse_backends(None, "12")
    assert warn == crit == th.BackendsThreshold(12)
    left, _ = th.parse_backends("-10", "-5")
    assert left.reached(91, 100) and not left.reached(89, 100)
    assert left.limit_for(100) == 90
    with pytest.raises(th.ThresholdError, match="greater"):
        th.parse_backends("20", "10")
    with pytest.raises(th.ThresholdError, match="negative percentage"):
        th.parse_backends("-10%", "-5")


def test_locks_and_bloat_thresholds() -> None:
    assert th.parse_locks("100") == {"total": 100}
    assert th.parse_locks("total=200:ExclusiveLock=20:waiting=5") == {
        "total": 200, "exclusive": 20, "waiting": 5}
    both = th.parse_size_or_percent("1 MB and 50%")
    assert both(2 * 1024**2, 60) and not both(2 * 1024**2, 40)
    either = th.parse_size_or_percent("1 MB or 50%")
    assert either(0, 60) and either(2 * 1024**2, 0) and not either(0, 10)
    assert th.parse_size_or_percent("300%")(0, 400)


def test_output_is_one_nagios_line_that_a_server_name_cannot_forge() -> None:
    result = CheckResult("backends", "OK", "db\nPOSTGRES_BACKENDS CRITICAL: x | y=1",
                         [perf("it's | odd", 3, 90, 95, 0, 100)])
    line = result.line()
    assert line.count("\n") == 0 and line.count(" | ") == 1
    assert line.startswith("POSTGRES_BACKENDS OK: db POSTGRES_BACKENDS CRITICAL: x / y=1 | ")
    assert perf_label("it's odd") == "'it''s odd'"
    assert perf("files", 3, None, 15) == "files=3;;15"
    assert result.exit_code == 0
