"""Hypothesis strategies for hostile statement texts: comments, quotes and identifiers mixed
around a secret that sits, by PostgreSQL's lexical rules, inside a string constant.

No fragment but a literal can hold a letter of SECRET, so wherever SECRET (or three letters
of it in a row) survives masking, a literal leaked.
"""

from __future__ import annotations

from hypothesis import strategies as st

SECRET = "QZJKYG"
KEYWORDS = ("SELECT", "FROM", "AS", "ALTER", "ROLE", "bob", "PASSWORD", "WHERE", "AND",
            "INSERT", "INTO", "t", "VALUES", "UPDATE", "SET", "IN")
NOISE = "ab '\"$-/\\;\t"  # quotes, dollars, dashes, slashes, backslashes: everything tricky
CONTENT = "ab '\"$-/*\\;\n\r\t"
SEPARATORS = (" ", "\n", "\r", "\t", "\f", "  \n ", "\r\n")
CONTINUATIONS = ("\n", " \n ", "\r\n", " -- c'\n", "\n-- c\n ", "\t\r\f")

assert not set(SECRET) & set("".join(KEYWORDS) + NOISE + CONTENT)


@st.composite
def secret_content(draw: st.DrawFn) -> str:
    """Arbitrary tricky characters with SECRET somewhere among them."""
    before = draw(st.text(CONTENT, max_size=6))
    after = draw(st.text(CONTENT, max_size=6))
    return before + SECRET + after


def standard(content: str, prefix: str = "") -> str:
    return f"{prefix}'" + content.replace("'", "''") + "'"


def extended(content: str) -> str:
    return "E'" + content.replace("\\", "\\\\").replace("'", "\\'") + "'"


def unicode_escape(content: str) -> str:
    return standard(content.replace("\\", "\\\\"), "U&")


def dollar(content: str, tag: str) -> str:
    delimiter = f"${tag}$"
    if (content + delimiter).find(delimiter) != len(content):
        content = content.replace("$", "")  # it would close the quote early
    return delimiter + content + delimiter


@st.composite
def secret_literal(draw: st.DrawFn) -> str:
    """A string constant holding SECRET, in any of PostgreSQL's spellings."""
    content = draw(secret_content())
    kind = draw(st.sampled_from(("standard", "national", "extended", "unicode", "dollar",
                                 "continued", "continued_extended")))
    if kind == "standard":
        return standard(content)
    if kind == "national":
        return standard(content, draw(st.sampled_from("Nn")))
    if kind == "extended":
        return extended(content)
    if kind == "unicode":
        return unicode_escape(content)
    if kind == "dollar":
        return dollar(content, draw(st.sampled_from(("", "x", "body", "a1", "_t"))))
    first = draw(st.text(CONTENT, max_size=4))
    gap = draw(st.sampled_from(CONTINUATIONS))
    if kind == "continued":
        return standard(first) + gap + standard(content)
    # The pieces after an E'' piece are read with E'' rules too.
    return extended(first) + gap + extended(content)[1:]


@st.composite
def comment(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return "--" + draw(st.text(NOISE + "*", max_size=10)) + draw(st.sampled_from("\n\r"))
    # A part ending in "/" would turn the "*/" after it into a nested "/*".
    parts = [p.rstrip("/") for p in draw(st.lists(st.text(NOISE, max_size=6), min_size=1,
                                                   max_size=3))]
    nested = parts[0] + "".join(f"/*{p}*/" for p in parts[1:])
    return f"/*{nested}*/"


@st.composite
def identifier(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(("plain", "quoted", "unicode")))
    if kind == "plain":
        return "c" + draw(st.text("abc_$", max_size=5))
    body = draw(st.text("ab '$-/*\\;", min_size=1, max_size=6))
    if kind == "unicode":
        return 'U&"' + body.replace("\\", "\\\\") + '"'
    return '"' + body.replace('"', '""') + '"'


def noise_fragment() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(KEYWORDS), comment(), identifier(),
                     st.sampled_from(("42", "4.5", ".5", "1e3", "$1", "(", ")", ",", ";", "=",
                                      "::", "+", "a$$", "x$y$", "'plain'", "$$ok$$")))


@st.composite
def hostile_statement(draw: st.DrawFn) -> str:
    """Keywords, comments, identifiers and at least one SECRET literal, whitespace between."""
    fragments = draw(st.lists(noise_fragment(), max_size=8))
    for _ in range(draw(st.integers(1, 3))):
        fragments.insert(draw(st.integers(0, len(fragments))), draw(secret_literal()))
    text, previous = "", ""
    for fragment in fragments:
        separator = draw(st.sampled_from(SEPARATORS))
        if previous.endswith("'") and not previous.startswith("-"):
            # A newline between two string pieces would join them into one string.
            separator = " "
        text += previous + (separator if previous else "")
        previous = fragment
    return text + previous + draw(st.sampled_from(SEPARATORS))


@st.composite
def select_statement(draw: st.DrawFn) -> str:
    """A SELECT that PostgreSQL runs: hostile constants, comments and aliases in its list."""
    items = []
    for _ in range(draw(st.integers(1, 4))):
        value = draw(st.one_of(secret_literal(), st.sampled_from(
            ("42", "4.5", ".5", "1e3", "B'0101'", "X'1F'", "'plain'", "$$ok$$")), ))
        alias = draw(st.one_of(st.just(""), identifier().map(lambda i: f" AS {i}")))
        lead = draw(st.one_of(st.just(""), comment()))
        items.append(lead + draw(st.sampled_from(SEPARATORS)) + value + alias)
    return "SELECT " + ",".join(items)
