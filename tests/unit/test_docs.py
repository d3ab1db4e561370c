"""The docs are part of the product: a key, command or metric group nobody documented fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collectors.cli import build_parser
from collectors.core.config import _SECTION_KEYS
from collectors.core.metric_groups import load_catalog

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
EXAMPLE_CONFIG = (ROOT / "kasho-ops.example.toml").read_text()


@pytest.mark.parametrize(("section", "key"), sorted(
    (section, key) for section, keys in _SECTION_KEYS.items() for key in keys))
def test_every_config_key_is_in_the_example_file_and_the_readme(section: str, key: str) -> None:
    assert re.search(rf"^#?\s*{key}\s*=", EXAMPLE_CONFIG, re.MULTILINE), \
        f"kasho-ops.example.toml does not document [{section}] {key}"
    assert f"`{key}`" in README, f"README's configuration table lacks [{section}] {key}"


def test_every_cli_command_is_in_the_readme() -> None:
    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in subcommands:
        assert f"`kasho-ops {name}" in README, f"README does not document `kasho-ops {name}`"


@pytest.mark.parametrize("group", sorted(load_catalog()))
def test_every_metric_group_is_in_the_readme_and_the_example_intervals(group: str) -> None:
    assert f"`{group}`" in README, f"README's metric group table lacks {group}"
    assert re.search(rf"^#?\s*{group}\s*=", EXAMPLE_CONFIG, re.MULTILINE), \
        f"kasho-ops.example.toml [intervals] lacks {group}"
