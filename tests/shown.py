"""What a reader sees of markdown the dashboard escaped with dashboard.core.plain.md: AppTest
hands tests the markdown source, so tests compare `shown(element.value)` with plain text."""

from __future__ import annotations

import re

from dashboard.core.plain import WORD_JOINER


def shown(markdown: object) -> str:
    """`markdown` with its backslash escapes resolved and the word joiners removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown)).replace(WORD_JOINER, "")
