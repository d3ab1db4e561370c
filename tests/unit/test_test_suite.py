"""Checks on the test suite itself: assertions that cannot pass by accident (issue 7, §6)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def ordered_tuple_comparisons(source: str) -> list[int]:
    """Lines of asserts that order tuples: (a, b) >= (1, 2) holds when a > 1 whatever b is."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert):
            for compare in ast.walk(node.test):
                if isinstance(compare, ast.Compare) and any(
                        isinstance(op, ORDERING) for op in compare.ops):
                    operands = [compare.left, *compare.comparators]
                    if any(isinstance(o, ast.Tuple) for o in operands):
                        lines.append(node.lineno)
    return lines


def test_the_check_finds_a_tuple_ordering() -> None:
    assert ordered_tuple_comparisons("assert (users, rows) >= (20, 2000)\n") == [1]
    assert ordered_tuple_comparisons("assert users >= 20 and rows >= 2000\n") == []
    assert ordered_tuple_comparisons("assert (a, b) == (1, 2)\n") == []


@pytest.mark.parametrize("path", sorted(TESTS.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(TESTS)))
def test_no_assert_orders_tuples(path: Path) -> None:
    assert ordered_tuple_comparisons(path.read_text()) == [], \
        f"{path}: compare each number on its own"
