"""How Kasho Ops marks the statements it sends a monitored server, and the one rule that
recognises them in pg_stat_statements and pg_stat_activity texts.

`marked(query)` puts QUERY_MARKER right after the statement's first keyword and moves the
comments that led the statement (a catalog file's header) behind it: PostgreSQL 18's
pg_stat_statements keeps a text from its first keyword on and drops every comment before
it, where 15 kept them. Right after the first keyword, the marker stays in the text on
both, and near its start, so pg_stat_activity's copy (cut at track_activity_query_size)
keeps it too.

`is_own_statement(text)` is the rule in Python; `OWN_STATEMENT_PATTERN` is the same rule as
a regular expression that Python's `re` and PostgreSQL's `~` read alike, for store reads
that filter on it in SQL. It accepts the marker after the first keyword and, for texts that
PostgreSQL 15 or the store kept from before, the marker as the text's first token.
Anyone can write this comment into a statement: it tells which statements are ours, it is
never a reason to trust one.
"""

from __future__ import annotations

import functools
import re

from collectors.core.sqltext import tokenize

QUERY_MARKER = "/* kasho-ops */"
# Optional whitespace, optionally one keyword and whitespace, then the marker (whitespace
# spelled out as PostgreSQL's scanner reads it, so both engines agree). No nested or
# alternative repetition: linear in Python's backtracking engine too, on any hostile text.
OWN_STATEMENT_PATTERN = (r"^[ \t\n\r\f\v]*(?:[A-Za-z]+[ \t\n\r\f\v]+)?"
                         r"/\* kasho-ops \*/")
_OWN_STATEMENT = re.compile(OWN_STATEMENT_PATTERN)


@functools.lru_cache(maxsize=1024)  # the same catalog texts on every run
def marked(query: str) -> str:
    """`query` as sent to a monitored server: its first keyword, QUERY_MARKER, then the
    comments that stood before the keyword (if any) and the rest of the statement."""
    for token in tokenize(query):
        if token.kind in ("space", "comment"):
            continue
        if token.kind != "identifier":
            raise ValueError(f"a marked statement starts with a keyword, not {token.text!r}")
        leading = query[:token.start].lstrip()  # comments, kept verbatim, and what follows
        rest = query[token.end:]
        gap = "" if not leading and rest[:1].isspace() else " "
        return f"{token.text} {QUERY_MARKER}{gap}{leading}{rest}"
    raise ValueError("an empty statement cannot be marked")


def is_own_statement(text: object) -> bool:
    """Whether a statement text carries Kasho Ops' marker where `marked` puts it (or, in
    texts kept from before, first). None or any non-text is not ours."""
    return isinstance(text, str) and _OWN_STATEMENT.match(text) is not None
