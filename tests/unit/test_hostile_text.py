"""Names and texts from monitored servers never reach the browser as markdown or HTML
(issue 11 §2): every value a dashboard module passes to a Streamlit call that renders
markdown goes through `md` (dashboard/core/plain.py) unless it provably cannot carry
markup, and every chart is drawn through `plain.chart`.

The check reads the source (ast), so it covers code paths no data reaches in a test. A value
is accepted without `md` only when it is: a literal; a number or time formatted with a
numeric or strftime format spec (`{x:,.0f}`, `{t:%H:%M}`); a call of `int`, `float`, `len`,
`round` or one of the unit formatters (which take numbers); an UPPER_CASE code constant or
something read from one (`qa.RANK_METRICS[k].label`); PageContext.range_label (built from
RANGE_LABELS); or a local name every binding of which is one of these. Everything else —
a name, an attribute, a call, an f-string field without such a spec — must be wrapped in
`md(...)`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dashboard.core.freshness import GroupFreshness, badges_markdown
from dashboard.core.plain import figure_text, md

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"
PLAIN_MODULE = DASHBOARD / "core" / "plain.py"

# Streamlit calls that render markdown, and which of their arguments do: positions and
# keyword names. `help` renders markdown on every call that takes it.
BODY = ((0,), ("body",))
LABEL = ((0,), ("label",))
MARKDOWN_ARGUMENTS: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    **{name: BODY for name in ("title", "header", "subheader", "markdown", "caption", "info",
                               "warning", "error", "success", "toast")},
    "badge": LABEL,
    "metric": ((0, 1, 2), ("label", "value", "delta")),
    "tabs": ((0,), ("tabs",)),
    "dialog": ((0,), ("title",)),
    **{name: LABEL for name in (
        "expander", "popover", "button", "download_button", "link_button", "checkbox",
        "toggle", "selectbox", "multiselect", "slider", "text_input", "number_input",
        "text_area", "date_input", "time_input", "color_picker", "file_uploader",
        "camera_input", "feedback", "form_submit_button")},
    "page_link": ((), ("label",)),
    "radio": ((0,), ("label", "captions")),
    # Their options render markdown too, through format_func when one is given.
    **{name: LABEL for name in ("segmented_control", "pills", "select_slider")},
}
OPTION_RENDERING = {"radio", "segmented_control", "pills", "select_slider"}
FORBIDDEN = {
    "table": "st.table renders markdown in its cells: use st.dataframe",
    "html": "st.html renders HTML: show names as text",
    "plotly_chart": "draw charts with dashboard.core.plain.chart, which escapes names",
}
LOGGER_NAMES = {"log", "logger", "logging", "warnings"}
SAFE_CALLS = {"md", "int", "float", "len", "round", "abs",
              # dashboard/core/units.py and the Queries page's logic: numbers in, text out
              "format_bytes", "format_rate", "format_age", "format_seconds", "format_interval",
              "format_ms"}
# Functions that build markdown themselves, escaping what they put in with md (each has a
# test below).
MARKDOWN_BUILDERS = {"badges_markdown"}
SAFE_STRING_METHODS = {"lower", "upper", "capitalize", "strip", "title"}
SAFE_CONVERSIONS = {"list", "tuple", "sorted"}
TRUSTED_ATTRIBUTES = {"range_label"}  # PageContext.range_label, from RANGE_LABELS
PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")
# strftime, digit grouping (refused for strings) or a number's presentation type
NUMERIC_SPEC = re.compile(r"%|[,_]|[bcdeEfFgGnoxX]$")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    call: str
    source: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.call}(): {self.source}"


def is_constant_name(name: str) -> bool:
    return bool(re.fullmatch(r"_?[A-Z][A-Z0-9_]*", name))


class Module:
    """One module's bindings, to follow a local name to what it was assigned."""

    def __init__(self, tree: ast.Module) -> None:
        self.bindings: dict[str, list[ast.expr | None]] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                self._bind(node.target, node.value if isinstance(node, ast.AnnAssign)
                           else None)
            elif isinstance(node, ast.For | ast.comprehension):
                self._bind(node.target, node.iter, iterated=True)
            elif isinstance(node, ast.FunctionDef):
                self.functions[node.name] = node
                for arg in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
                    self.bindings.setdefault(arg.arg, []).append(None)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                self._bind(node.optional_vars, None)
            elif isinstance(node, ast.NamedExpr):
                self._bind(node.target, node.value)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.bindings.setdefault(node.name, []).append(None)

    def _bind(self, target: ast.expr, value: ast.expr | None, iterated: bool = False) -> None:
        if isinstance(target, ast.Name):
            element = _element_of(value) if iterated else value
            self.bindings.setdefault(target.id, []).append(element)
        elif isinstance(target, ast.Tuple | ast.List):
            for position, item in enumerate(target.elts):
                self._bind(item, _item_of(value, position, iterated))


def _element_of(iterable: ast.expr | None) -> ast.expr | None:
    """What a loop over `iterable` binds, when the source says (a literal sequence whose
    elements are all alike in safety is represented by a tuple of them)."""
    if isinstance(iterable, ast.Tuple | ast.List | ast.Set):
        return ast.Tuple(elts=list(iterable.elts), ctx=ast.Load())
    if iterable is not None and _is_constant_rooted(iterable):
        return iterable
    return None


def _item_of(value: ast.expr | None, position: int, iterated: bool) -> ast.expr | None:
    if value is None:
        return None
    if iterated:
        if isinstance(value, ast.Tuple | ast.List):
            picked: list[ast.expr] = []
            for element in value.elts:
                if not isinstance(element, ast.Tuple | ast.List) or position >= len(element.elts):
                    return None
                picked.append(element.elts[position])
            return ast.Tuple(elts=picked, ctx=ast.Load())
        return None
    if isinstance(value, ast.Tuple | ast.List) and position < len(value.elts):
        return value.elts[position]
    return None


def _is_constant_rooted(node: ast.expr) -> bool:
    while True:
        if isinstance(node, ast.Name):
            return is_constant_name(node.id)
        if isinstance(node, ast.Attribute):
            if is_constant_name(node.attr):
                return True
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return False


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


class Checker:
    def __init__(self, module: Module) -> None:
        self.module = module
        self.resolving: set[str] = set()

    def safe(self, node: ast.expr | None) -> bool:
        if node is None:
            return False
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.JoinedStr):
            return all(self._safe_field(v) for v in node.values
                       if isinstance(v, ast.FormattedValue))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
            return self.safe(node.left) and self.safe(node.right)
        if isinstance(node, ast.IfExp):
            return self.safe(node.body) and self.safe(node.orelse)
        if isinstance(node, ast.BoolOp):
            return all(self.safe(v) for v in node.values)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return all(self.safe(e) for e in node.elts)
        if isinstance(node, ast.ListComp | ast.GeneratorExp | ast.SetComp):
            return self.safe(node.elt)
        if isinstance(node, ast.Lambda):
            return self.safe(node.body)
        if isinstance(node, ast.Call):
            return self._safe_call(node)
        if isinstance(node, ast.Attribute) and node.attr in TRUSTED_ATTRIBUTES:
            return True
        if isinstance(node, ast.Attribute | ast.Subscript):
            root: ast.expr = node
            while isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            # read from a code constant, or from a local name bound only to safe values
            return _is_constant_rooted(node) or (isinstance(root, ast.Name)
                                                  and self._safe_name(root.id))
        if isinstance(node, ast.Name):
            return self._safe_name(node.id)
        return False

    def _safe_field(self, field: ast.FormattedValue) -> bool:
        spec = field.format_spec
        if field.conversion == -1 and isinstance(spec, ast.JoinedStr) and len(
                spec.values) == 1 and isinstance(spec.values[0], ast.Constant) and \
                NUMERIC_SPEC.search(str(spec.values[0].value)):
            return True
        return field.conversion == -1 and self.safe(field.value)

    def _safe_call(self, node: ast.Call) -> bool:
        name = _call_name(node.func)
        if name in SAFE_CALLS or name in MARKDOWN_BUILDERS:
            return True
        if name in SAFE_CONVERSIONS and len(node.args) == 1:
            return self.safe(node.args[0])
        if isinstance(node.func, ast.Attribute):
            if name == "join":
                return self.safe(node.func.value) and all(self.safe(a) for a in node.args)
            if name in SAFE_STRING_METHODS and not node.args:
                return self.safe(node.func.value)
            if name == "__getitem__":
                return _is_constant_rooted(node.func.value)
        return False

    def _safe_name(self, name: str) -> bool:
        if is_constant_name(name):
            return True
        if name in self.resolving:
            return True  # a cycle adds no new binding; the others decide
        function = self.module.functions.get(name)
        if function is not None:  # a format_func: what it returns
            returns = [n.value for n in ast.walk(function) if isinstance(n, ast.Return)]
            return bool(returns) and all(self.safe(r) for r in returns)
        bound = self.module.bindings.get(name)
        if not bound:
            return False
        self.resolving.add(name)
        try:
            return all(self.safe(value) for value in bound)
        finally:
            self.resolving.discard(name)


def _is_logger(func: ast.Attribute) -> bool:
    root: ast.expr = func.value
    while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
        root = root.func if isinstance(root, ast.Call) else root.value
    return isinstance(root, ast.Name) and root.id in LOGGER_NAMES


def markdown_arguments(call: ast.Call, name: str) -> Iterator[ast.expr]:
    positions, keywords = MARKDOWN_ARGUMENTS.get(name, ((), ()))
    if name == "write":
        yield from call.args
    for position in positions:
        if position < len(call.args):
            yield call.args[position]
    for keyword in call.keywords:
        if keyword.arg in keywords or keyword.arg == "help":
            yield keyword.value


def option_arguments(call: ast.Call) -> Iterator[ast.expr]:
    format_func = next((k.value for k in call.keywords if k.arg == "format_func"), None)
    if format_func is not None:
        yield format_func
        return
    options = next((k.value for k in call.keywords if k.arg == "options"), None)
    if options is None and len(call.args) > 1:
        options = call.args[1]
    if options is not None:
        yield options


def findings_in(path: Path) -> list[Finding]:
    return findings_in_source(path.read_text(), str(path.relative_to(ROOT)))


def findings_in_source(source: str, relative: str) -> list[Finding]:
    tree = ast.parse(source, filename=relative)
    checker = Checker(Module(tree))
    found: list[Finding] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "unsafe_allow_html":
                found.append(Finding(relative, node.lineno, "unsafe_allow_html",
                                     "never render HTML"))
        func = node.func
        if isinstance(func, ast.IfExp):  # (st.success if ok else st.error)(message)
            func = func.body
        if not isinstance(func, ast.Attribute) or _is_logger(func):
            continue
        name = func.attr
        if name in FORBIDDEN and (node.args or node.keywords):
            found.append(Finding(relative, node.lineno, name, FORBIDDEN[name]))
            continue
        if name == "write" and not (isinstance(func.value, ast.Name)
                                    and func.value.id == "st"):
            continue
        arguments = list(markdown_arguments(node, name))
        if name in OPTION_RENDERING:
            arguments += option_arguments(node)
        for argument in arguments:
            if not checker.safe(argument):
                found.append(Finding(relative, argument.lineno, name,
                                     ast.unparse(argument)[:120]))
    return found


def dashboard_modules() -> list[Path]:
    return sorted(p for p in DASHBOARD.rglob("*.py") if p != PLAIN_MODULE)


def test_no_unescaped_value_reaches_a_markdown_rendering_call() -> None:
    findings = [f for path in dashboard_modules() for f in findings_in(path)]
    assert not findings, (
        "values that may come from a monitored server (or a URL) reach a Streamlit call "
        "that renders markdown or HTML; wrap them in dashboard.core.plain.md(...), format "
        "numbers with a format spec, or show them with st.text / st.code / st.dataframe:\n"
        + "\n".join(str(f) for f in findings))


# -- the checker itself --------------------------------------------------------------------

def check_source(source: str) -> list[str]:
    return [f.source for f in findings_in_source(source, "sample.py")]


@pytest.mark.parametrize("source", [
    'st.title(title.label)',
    'st.caption(f"**{ctx.target}** · {ctx.range_label}")',
    'st.error(str(exc))',
    'st.error(f"failed: {row.last_error}")',
    'column.metric("Database", row["datname"])',
    'st.metric("x", 1, f"{delta}")',
    'st.info(f"No samples for {name:>10}")',  # padding is not a number format
    'st.expander(f"Recent actions on {target}")',
    'st.tabs([name for name in frame["datname"]])',
    'st.radio("Database", names)',
    'st.pills("Database", frame["datname"].unique())',
    'st.segmented_control("x", OPTIONS, format_func=lambda d: d.title)',
    'st.button("Go", help=f"runs on {datname}")',
    'st.plotly_chart(figure)',
    'st.table(frame)',
    '(st.success if result.ok else st.error)(result.message)',
    'st.warning(note)\nnote = f"No target named {bad}"',
    'row = texts.iloc[0]\nst.caption(f"database {row.datname}")',
    'def f(session):\n    st.caption(f"pid {session.pid}")',
    'for what in names:\n    st.info(f"No {what} samples")',
])
def test_the_checker_flags_unescaped_values(source: str) -> None:
    assert check_source(source), f"not flagged: {source}"


@pytest.mark.parametrize("source", [
    'st.title(md(title.label))',
    'st.caption(f"**{md(ctx.target)}** · {ctx.range_label.lower()} · {ctx.start:%H:%M} UTC")',
    'st.error(md(str(exc)))',
    'column.metric("Sessions", f"{counts.sessions:,d} / {counts.limit:d}", border=True)',
    'column.metric(LABELS[state], int(counts[state]))',
    'st.info(f"{format_bytes(size)} in {len(rows)} rows")',
    'metric = qa.RANK_METRICS[rank]\nst.subheader(f"Top statements by {metric.label.lower()}")',
    'st.segmented_control("Rank by", options, format_func=lambda k: qa.RANK_METRICS[k].label)',
    'for what in ("lock_waits", "wait_events"):\n    st.info(f"No {what} samples")',
    'for col, fig, what in ((a, f, "x"), (b, g, "y")):\n    st.info(f"No {what} samples")',
    'st.text(f"Database: {datname}")',
    'st.code(query)',
    'st.dataframe(frame)',
    'st.caption("Tables: " + ", ".join(md(t) for t in tables))',
    'log.warning("refused %s", datname)',
])
def test_the_checker_accepts_what_cannot_carry_markup(source: str) -> None:
    assert check_source(source) == []


# -- what md and figure_text produce ---------------------------------------------------------

@pytest.mark.parametrize(("hostile", "shown"), [
    ("[x](http://evil)", "[x](http://evil)"),
    ("![](http://evil/x.png)", "![](http://evil/x.png)"),
    (":red[alarm] :material/warning: $x$ **b** `c` <img src=x>", None),
    ("www.evil.com and a@evil.com and https://evil.com/x", None),
])
def test_md_escapes_every_markdown_trigger(hostile: str, shown: str | None) -> None:
    escaped = md(hostile)
    # Every ASCII punctuation character is escaped, so no construct can start.
    characters = iter(escaped)
    for character in characters:
        if character == "\\":
            assert PUNCTUATION.fullmatch(next(characters))
        else:
            assert not PUNCTUATION.fullmatch(character), escaped
    assert shown is None or re.sub(r"\\(.)", r"\1", escaped).replace("\u2060", "") == shown
    # What a reader sees: the escapes removed, the word joiners invisible.
    assert re.sub(r"\\(.)", r"\1", escaped).replace("\u2060", "") == hostile
    for trigger in ("www\\.", "http\\:", "https\\:"):
        assert trigger not in escaped
    assert "\u2060\\@" in escaped or "@" not in hostile


def test_md_puts_text_on_one_line() -> None:
    assert md("a\nb\r\nc") == "a b c"


def test_figure_text_escapes_html() -> None:
    assert figure_text('<a href="http://evil">x</a> & y') == \
        '&lt;a href="http://evil"&gt;x&lt;/a&gt; &amp; y'


def test_freshness_badges_escape_group_names() -> None:
    group = GroupFreshness("[x](http://evil)", "failing", 60, None, None, "boom")
    assert badges_markdown([group]) == f":red-badge[{md('[x](http://evil)')} failing]"
