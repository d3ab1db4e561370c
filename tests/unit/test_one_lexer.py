"""One SQL lexer: outside collectors/core/sqltext.py no code reads SQL text with a regular
expression of its own (four such tokenizers, each with its own bugs, leaked secrets and let
two statements through EXPLAIN before sqltext existed)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEXER = ROOT / "collectors" / "core" / "sqltext.py"
RE_FUNCTIONS = {"compile", "sub", "subn", "match", "fullmatch", "search", "finditer", "findall",
                "split"}
# What only a reader of SQL text puts in a pattern: comment delimiters, dollar quotes, doubled
# quotes (SQL's escape), prefixed string starts.
SQL_MARKERS = ("--", r"/\*", r"\*/", r"\$\$", r"\$(", "''", '""', "[eE]'", "[eE]?'",
               "(?:\\b(?:[EeBbXxNn]")


def sql_patterns(source: str) -> list[str]:
    """String constants in the pattern argument of re.* calls that look like SQL lexing."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                and node.func.attr in RE_FUNCTIONS and node.args):
            continue
        for constant in ast.walk(node.args[0]):
            if isinstance(constant, ast.Constant) and isinstance(constant.value, str) and any(
                    marker in constant.value for marker in SQL_MARKERS):
                found.append(constant.value)
    return found


def statement_splits(source: str) -> list[str]:
    """`.split(";")` calls: splitting statements without a lexer."""
    return [ast.unparse(node) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "split" and node.args
            and isinstance(node.args[0], ast.Constant) and node.args[0].value == ";"]


def product_files() -> list[Path]:
    return [p for folder in ("collectors", "dashboard", "demo")
            for p in sorted((ROOT / folder).rglob("*.py")) if p != LEXER]


@pytest.mark.parametrize("path", product_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_second_sql_tokenizer(path: Path) -> None:
    source = path.read_text()
    assert not sql_patterns(source), (
        f"{path.relative_to(ROOT)} reads SQL text with its own regular expression; use "
        "collectors/core/sqltext.py (tokenize, mask_literals, statement_title, ...)")
    assert not statement_splits(source), f"{path.relative_to(ROOT)} splits SQL at ';'"


@pytest.mark.parametrize("pattern", [
    r"""--[^\n]* | /\*.*?\*/ | [eE]?'(?:[^']|'')*' | \$\$.*?\$\$""",  # explain.py's, before
    r"""(?P<identifier>"(?:[^"]|"")*") | [eE]'(?:[^'\\]|\\.|'')*'""",  # redact.py's, before
    r"""(?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z_0-9]*)?\$.*?)""",  # activity.py's, before
])
def test_the_check_catches_the_tokenizers_it_replaced(pattern: str) -> None:
    assert sql_patterns(f"import re\nTOKENS = re.compile({pattern!r})\n")


def test_the_check_leaves_other_patterns_alone() -> None:
    source = ("import re\nre.compile(r\"(?P<head>\\bpassword\\s*=\\s*)('(?:[^'\\\\]|\\\\.)*')\")\n"
              "re.compile(r'^(\\d+)\\.sql$')\n")
    assert sql_patterns(source) == []
    assert statement_splits("x.split(';')") == ["x.split(';')"]
