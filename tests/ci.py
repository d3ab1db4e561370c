"""Skips that CI must not take: on a developer's machine a missing tool skips its tests, in
CI (CI=true, which .ci/run exports, as GitHub Actions and GitLab do) it fails the run, so
the browser and compose tests cannot pass by not running."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing_tool(reason: str) -> NoReturn:
    """Skip the test for lack of a tool; in CI, fail it."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing tool fails the run instead of skipping)",
                    pytrace=False)
    pytest.skip(reason)
