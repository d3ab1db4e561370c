"""In CI a missing browser or validator fails the run; elsewhere it skips (issue 7, §6)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.ci import missing_tool
from tests.unit import test_compose

ROOT = Path(__file__).resolve().parents[2]


def test_ci_script_exports_ci_true_before_running_the_tests() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    export = re.search(r"^export CI=true$", script, re.MULTILINE)
    run = re.search(r"^make test$", script, re.MULTILINE)
    assert export and run and export.start() < run.start()


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                            ("", pytest.skip.Exception)])
def test_a_missing_tool_fails_in_ci_and_skips_elsewhere(
        ci: str, outcome: type[BaseException], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome):
        missing_tool("no such tool")


def test_a_missing_compose_validator_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(pytest.fail.Exception, match="check-jsonschema is not installed"):
        test_compose.test_compose_file_matches_the_compose_spec_schema()


def test_a_missing_chromium_fails_the_browser_tests_in_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.e2e import conftest as e2e

    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(e2e, "CHROMIUM", Path("/nonexistent/chromium"))
    fixture = e2e.chromium.__wrapped__  # type: ignore[attr-defined]
    with pytest.raises(pytest.fail.Exception, match="/nonexistent/chromium not found"):
        next(fixture())
