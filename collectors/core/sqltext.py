"""The one SQL lexer: every statement text Kasho Ops masks, checks, names, lays out or scans
for table names goes through `tokenize` here, so all of them read a text the way
PostgreSQL does.

Statement texts from pg_stat_statements and pg_stat_activity are written by whoever can log
in to a monitored server: hostile input. The rules follow PostgreSQL's scanner (scan.l) with
standard_conforming_strings on:

- whitespace is space, tab, CR, LF, FF (and VT, as PostgreSQL 16+ reads it);
- `--` comments end at CR or LF; `/* */` comments nest;
- '...' strings double a quote to escape it; a backslash is an ordinary character except in
  E'...' strings; B'...', X'...' and U&'...' are strings too (N'...' is the keyword N
  before a plain string, as PostgreSQL reads it); two string pieces
  separated by whitespace holding a newline are one string (quote continuation);
- "..." and U&"..." are quoted identifiers;
- $tag$...$tag$ and $$...$$ are dollar-quoted strings, but `$` also continues an identifier,
  so `a$$` is the identifier `a$$`, never the start of a dollar quote; `$1` is a parameter;
- numbers: 42, 4.2, .5, 1e-3, and PostgreSQL 16's 0x1F, 0o17, 0b101, 1_000.

Where a text ends inside a construct (pg_stat_activity cuts texts at
track_activity_query_size), the token runs to the end and is marked unterminated; masking
then hides all of it: mask more, never less.

Public: `tokenize`, `significant`, `mask_literals`, `one_line`, `split_statements`,
`highest_parameter`, `table_references`, `statement_title` (the sqlc name a statement
carries, `-- name: CreateTransaction :one`, or its first words: what every page, table and
alert shows as a statement's name).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["space", "comment", "string", "identifier", "quoted_identifier",
                    "number", "parameter", "operator", "punctuation", "other"]

STRING_MASK = "'?'"
NUMBER_MASK = "?"

# Runs of one token kind, each matched at a known token start (re.match at a position).
_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_IDENTIFIER = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z_0-9$\u0080-\U0010ffff]*")
_PARAMETER = re.compile(r"\$[0-9](?:_?[0-9])*")
_DOLLAR_DELIMITER = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z_0-9\u0080-\U0010ffff]*)?\$")
_NUMBER = re.compile(r"""0[xX](?:_?[0-9A-Fa-f])+ | 0[oO](?:_?[0-7])+ | 0[bB](?:_?[01])+
                       | (?: [0-9](?:_?[0-9])* (?:\.(?!\.)(?:[0-9](?:_?[0-9])*)?)?
                           | \.[0-9](?:_?[0-9])* )
                         (?:[eE][+-]?[0-9]+)?""", re.VERBOSE)
_OPERATOR = re.compile(r"[~!@#^&|`?+\-*/%<>=]+")
# After a closing quote: whitespace with at least one newline, then a quote, continues the
# string (PostgreSQL's quotecontinue; comments may sit in that whitespace).
# One character or one whole comment per step, possessively: a run of spaces not followed by a
# quote must fail in one pass, not by trying every way to split the run (exponential).
_QUOTE_CONTINUATION = re.compile(
    r"(?:[ \t\f]|--[^\n\r]*+)*+[\n\r](?:[ \t\n\r\f\v]|--[^\n\r]*+[\n\r])*+'")
_PUNCTUATION = frozenset(",()[].;:")
_NAME_ANNOTATION = re.compile(r"\s*name:\s*(?P<name>[^\s:*]+)(?:\s+(?P<hint>:[A-Za-z]+))?")


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    start: int
    terminated: bool = True  # False: the text ended inside this string, comment or identifier

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def word(self) -> str:
        """The lowercased text of an unquoted identifier or keyword; '' for anything else."""
        return self.text.lower() if self.kind == "identifier" else ""


def tokenize(text: str) -> list[Token]:
    """Every token of `text`, whitespace and comments included; their texts add up to
    `text` exactly."""
    tokens: list[Token] = []
    position, length = 0, len(text)
    while position < length:
        token = _next_token(text, position)
        tokens.append(token)
        position = token.end
    return tokens


def _next_token(text: str, at: int) -> Token:
    char, pair = text[at], text[at:at + 2]
    if match := _SPACE.match(text, at):
        return Token("space", match.group(), at)
    if pair == "--":
        end = _line_end(text, at)
        return Token("comment", text[at:end], at)
    if pair == "/*":
        return _block_comment(text, at)
    if char in "eE" and text[at + 1:at + 2] == "'":
        return _quoted(text, at, at + 2, "string", backslash_escapes=True)
    if char in "bBxX" and text[at + 1:at + 2] == "'":
        return _quoted(text, at, at + 2, "string")
    if char in "uU" and text[at + 1:at + 2] == "&" and text[at + 2:at + 3] in ("'", '"'):
        kind: TokenKind = "string" if text[at + 2] == "'" else "quoted_identifier"
        return _quoted(text, at, at + 3, kind)
    if char == "'":
        return _quoted(text, at, at + 1, "string")
    if char == '"':
        return _quoted(text, at, at + 1, "quoted_identifier")
    if match := _IDENTIFIER.match(text, at):
        return Token("identifier", match.group(), at)
    if char == "$":
        if match := _PARAMETER.match(text, at):
            return Token("parameter", match.group(), at)
        if match := _DOLLAR_DELIMITER.match(text, at):
            close = text.find(match.group(), match.end())
            if close < 0:
                return Token("string", text[at:], at, terminated=False)
            return Token("string", text[at:close + len(match.group())], at)
        return Token("other", char, at)
    if match := _NUMBER.match(text, at):
        return Token("number", match.group(), at)
    if pair == "::":
        return Token("punctuation", pair, at)
    if char in _PUNCTUATION:
        return Token("punctuation", char, at)
    if match := _OPERATOR.match(text, at):
        operator = match.group()
        # An operator never swallows a comment start: `+--x` is `+` then a comment.
        cut = min((i for i in (operator.find("--"), operator.find("/*")) if i > 0),
                  default=len(operator))
        return Token("operator", operator[:cut], at)
    return Token("other", char, at)


def _line_end(text: str, at: int) -> int:
    ends = [i for i in (text.find("\n", at), text.find("\r", at)) if i >= 0]
    return min(ends) if ends else len(text)


def _block_comment(text: str, at: int) -> Token:
    depth, position = 1, at + 2
    while position < len(text):
        pair = text[position:position + 2]
        if pair == "/*":
            depth, position = depth + 1, position + 2
        elif pair == "*/":
            depth, position = depth - 1, position + 2
            if depth == 0:
                return Token("comment", text[at:position], at)
        else:
            position += 1
    return Token("comment", text[at:], at, terminated=False)


def _quoted(text: str, at: int, body: int, kind: TokenKind,
            backslash_escapes: bool = False) -> Token:
    """A quoted string or identifier whose opening quote ends just before `body`."""
    quote = text[body - 1]
    position = body
    while True:
        close = _closing_quote(text, position, quote, backslash_escapes)
        if close < 0:
            return Token(kind, text[at:], at, terminated=False)
        position = close + 1
        if kind == "string" and (match := _QUOTE_CONTINUATION.match(text, position)):
            position = match.end()  # one string, read on in the same mode
            continue
        return Token(kind, text[at:position], at)


def _closing_quote(text: str, position: int, quote: str, backslash_escapes: bool) -> int:
    while position < len(text):
        char = text[position]
        if backslash_escapes and char == "\\":
            position += 2
        elif char == quote:
            if text[position + 1:position + 2] != quote:
                return position
            position += 2  # a doubled quote stands for one
        else:
            position += 1
    return -1


def significant(tokens: Iterable[Token]) -> list[Token]:
    """The tokens that carry meaning: no whitespace, no comments."""
    return [t for t in tokens if t.kind not in ("space", "comment")]


# -- masking ---------------------------------------------------------------------------------

def mask_literals(text: str, *, numbers: bool = False) -> str:
    """`text` with every string constant (quoted, E/B/X/N/U&, dollar-quoted) replaced by '?',
    and numbers by ? when `numbers` is set. Identifiers, keywords and $n parameters stay.

    Comments stay, but constants inside them are masked too (they are where ORMs put
    key='value' tags). Unterminated strings, quoted identifiers and comments are masked to
    the end of the text. With numbers=False the result is still valid SQL where the input
    was, so a stored normalized text can still be planned.
    """
    return "".join(_masked(token, numbers) for token in tokenize(text))


def _masked(token: Token, numbers: bool) -> str:
    if token.kind == "string":
        return STRING_MASK
    if token.kind == "number":
        return NUMBER_MASK if numbers else token.text
    if not token.terminated:
        return '"?"' if token.kind == "quoted_identifier" else "/* ? */"
    if token.kind == "comment":
        return _masked_comment(token.text, numbers)
    return token.text


def _masked_comment(comment: str, numbers: bool) -> str:
    line = comment.startswith("--")
    opener, closer = ("--", "") if line else ("/*", "*/")
    body = comment[len(opener):len(comment) - len(closer)]
    masked = "".join(_masked(t, numbers) for t in tokenize(body))
    if line:
        return opener + masked.replace("\r", " ").replace("\n", " ")
    result = opener + masked + closer
    # Masking must not move where the comment ends (a quote in it may have hidden a
    # nested "*/"): if it would, hide the whole comment.
    relexed = tokenize(result)
    if len(relexed) != 1 or relexed[0].kind != "comment" or not relexed[0].terminated:
        return "/* ? */"
    return result


def cut_at_word(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else cut with an ellipsis: at the last space
    when that keeps at least two thirds of it, so no word is cut in half."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    if not text[limit - 1].isspace() and space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,(") + "…"


def one_line(text: str) -> str:
    """`text` with every run of whitespace between tokens made one space, trimmed. A `--`
    comment becomes a /* */ one, so what followed it on the next line stays code."""
    pieces: list[str] = []
    for token in tokenize(text):
        if token.kind == "space":
            pieces.append(" ")
        elif token.kind == "comment" and token.text.startswith("--"):
            body = token.text[2:].strip().replace("*/", "* /").replace("/*", "/ *")
            pieces.append(f"/* {body} */")
        else:
            pieces.append(token.text)
    return "".join(pieces).strip()


# -- statements ------------------------------------------------------------------------------

def split_statements(tokens: Sequence[Token]) -> list[list[Token]]:
    """The significant tokens of each statement, split at top-level semicolons; empty
    statements (`;;`, a trailing `;`) left out."""
    statements: list[list[Token]] = [[]]
    for token in significant(tokens):
        if token.kind == "punctuation" and token.text == ";":
            statements.append([])
        else:
            statements[-1].append(token)
    return [s for s in statements if s]


def highest_parameter(tokens: Iterable[Token]) -> int:
    """The highest $n placeholder number (0 for none): how many values the statement takes."""
    numbers = [int(t.text[1:].replace("_", "")) for t in tokens if t.kind == "parameter"]
    return max(numbers, default=0)


# -- table names -----------------------------------------------------------------------------

_NOT_TABLES = frozenset({"select", "lateral", "only", "values", "set", "with", "rows",
                         "nowait", "skip", "of", "if", "not", "exists"})
_STATEMENT_BOUNDARY = frozenset({"(", ";", ")"})
_CLAUSE_ENDS = frozenset({"where", "group", "order", "limit", "offset", "having", "window",
                          "union", "intersect", "except", "join", "on", "using", "returning",
                          "for", "fetch", "set", "values", "select", "inner", "left", "right",
                          "full", "cross", "natural", "tablesample", "default", "overriding"})


def table_references(text: str) -> list[str]:
    """Relations the statement names after FROM, JOIN, UPDATE, INTO and TABLE, in order,
    once each, as written (schema-qualified or quoted). A reading of the text: CTE names
    and function calls are left out, but a view is not told from a table; an EXPLAIN
    gives the exact list from the plan."""
    tokens = significant(tokenize(text))
    ctes = _cte_names(tokens)
    found: list[str] = []
    depth_saw_query: list[bool] = [False]  # per parenthesis level: a SELECT/DELETE started
    for index, token in enumerate(tokens):
        word = token.word
        if token.kind == "punctuation" and token.text == "(":
            depth_saw_query.append(False)
            continue
        if token.kind == "punctuation" and token.text == ")":
            if len(depth_saw_query) > 1:
                depth_saw_query.pop()
            continue
        previous = tokens[index - 1] if index else None
        statement_update = word == "update" and (previous is None
                                                 or previous.text in _STATEMENT_BOUNDARY)
        if word in ("select", "delete") or statement_update:
            depth_saw_query[-1] = True
        names: list[str] = []
        if word == "from" and depth_saw_query[-1] and (previous is None
                                                     or previous.word != "distinct"):
            names = _name_list(tokens, index + 1)
        elif word == "join":
            names = _name_list(tokens, index + 1, single=True)
        elif word in ("into", "table") or statement_update:
            names = _name_list(tokens, index + 1, single=True, columns_follow=True)
        for name in names:
            if name.lower() not in ctes and name not in found:
                found.append(name)
    return found


def _cte_names(tokens: Sequence[Token]) -> set[str]:
    """Names defined by `name AS (`, `name AS MATERIALIZED (` or `name (cols) AS (`."""
    names: set[str] = set()
    for index, token in enumerate(tokens):
        if token.word != "as" or index == 0:
            continue
        after = [t.word or t.text for t in tokens[index + 1:index + 4]]
        if not after or not (after[0] == "(" or after[:2] == ["materialized", "("]
                             or after[:3] == ["not", "materialized", "("]):
            continue
        before = index - 1
        if tokens[before].text == ")":  # a column list: walk back to its "("
            depth = 0
            while before >= 0:
                depth += {")": 1, "(": -1}.get(tokens[before].text, 0)
                if depth == 0:
                    break
                before -= 1
            before -= 1
        if before >= 0 and tokens[before].kind in ("identifier", "quoted_identifier"):
            names.add(tokens[before].text.lower())
    return names


def _name_list(tokens: Sequence[Token], start: int, single: bool = False,
               columns_follow: bool = False) -> list[str]:
    """Relation names from `start`: one, or a comma-separated FROM list at this depth.
    `columns_follow`: a "(" after the name opens a column list, not a function call."""
    names: list[str] = []
    index = start
    while index < len(tokens):
        while index < len(tokens) and tokens[index].word in ("only", "if", "not", "exists"):
            index += 1
        name, index = _qualified_name(tokens, index, columns_follow)
        if name is not None:
            names.append(name)
        if single:
            break
        depth = 0
        while index < len(tokens):  # skip the alias and any parenthesised part
            token = tokens[index]
            if token.text == "(":
                depth += 1
            elif token.text == ")":
                if depth == 0:
                    return names
                depth -= 1
            elif depth == 0 and (token.text == "," or token.word in _CLAUSE_ENDS
                                 or token.text == ";"):
                break
            index += 1
        if index >= len(tokens) or tokens[index].text != ",":
            break
        index += 1
    return names


def _qualified_name(tokens: Sequence[Token], index: int,
                    columns_follow: bool) -> tuple[str | None, int]:
    parts: list[str] = []
    while index < len(tokens):
        token = tokens[index]
        if token.kind not in ("identifier", "quoted_identifier") or token.word in _NOT_TABLES:
            return None, index
        parts.append(token.text)
        index += 1
        if index < len(tokens) and tokens[index].text == ".":
            index += 1
            continue
        break
    if not parts or (not columns_follow and index < len(tokens) and tokens[index].text == "("):
        return None, index  # nothing, or a function call (generate_series(...))
    return ".".join(parts), index


# -- names -----------------------------------------------------------------------------------

SQLC_HINTS = {":one": "returns one row", ":many": "returns rows", ":exec": "returns no rows",
              ":execrows": "returns the affected row count",
              ":execresult": "returns the command result",
              ":execlastid": "returns the last inserted id", ":copyfrom": "bulk COPY",
              ":batchexec": "batched", ":batchmany": "batched, returns rows",
              ":batchone": "batched, returns one row each"}
TITLE_WORDS_CHARS = 60


@dataclass(frozen=True)
class StatementTitle:
    """How a statement is named on every page: its sqlc name when the text carries one
    (`-- name: CreateTransaction :one`), with the command as a hint, else its first words."""

    name: str | None
    hint: str | None  # ":one", ":many", ":exec", ... as written
    words: str  # the start of the SQL on one line, comments left out

    @property
    def label(self) -> str:
        return self.name or self.words

    @property
    def hint_text(self) -> str | None:
        """The hint in words ("returns one row"), or the hint itself when unknown."""
        if self.hint is None:
            return None
        return SQLC_HINTS.get(self.hint.lower(), self.hint)

    def short(self, limit: int) -> str:
        """`label` cut to `limit` characters with an ellipsis, at a word (a legend never
        shows half a word)."""
        return cut_at_word(self.label, limit)

    def matches(self, search: str) -> bool:
        """Case-insensitive substring match on the name, then on the first words."""
        needle = search.strip().lower()
        return not needle or needle in (self.name or "").lower() or needle in self.words.lower()


@functools.lru_cache(maxsize=8192)  # pages title the same few thousand texts on every rerun
def statement_title(text: str, words_chars: int = TITLE_WORDS_CHARS) -> StatementTitle:
    """The statement's sqlc name (from a comment before its first keyword) and the first
    words of its first statement (about `words_chars` characters, literals masked)."""
    tokens = tokenize(text)
    name = hint = None
    for token in tokens:
        if token.kind == "space":
            continue
        if token.kind != "comment":
            break
        body = token.text[2:-2] if token.text.startswith("/*") else token.text[2:]
        if match := _NAME_ANNOTATION.match(body):
            name, hint = match.group("name"), match.group("hint")
            break
    statements = split_statements(tokens)
    words = _first_words(statements[0], words_chars) if statements else ""
    if (len(statements) == 1 and len(statements[0]) == 1
            and any(token.kind == "comment" for token in tokens)):
        # A keyword and then only comments: a text cut inside the long comment after its
        # first keyword (Kasho Ops' own statements carry one). The comment says what it is.
        words = cut_at_word(one_line(mask_literals(text)), words_chars)
    if len(statements) > 1 and not words.endswith("…"):
        words += "; …"  # more statements follow: say so, never show them as one
    return StatementTitle(name, hint, words)


def _first_words(tokens: Sequence[Token], limit: int) -> str:
    """The tokens spaced as written (one space wherever whitespace or a comment was)."""
    out = ""
    previous: Token | None = None
    for token in tokens:
        piece = STRING_MASK if token.kind == "string" else token.text
        gap = " " if previous is not None and previous.end != token.start else ""
        if len(out) + len(gap) + len(piece) > limit:
            return (out + gap + piece)[:limit - 1].rstrip() + "…"
        out += gap + piece
        previous = token
    return out
