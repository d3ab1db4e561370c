"""Text from a monitored server or a tool (slot and application names, WAL file names,
pgBackRest's and PostgreSQL's messages) shown inside Streamlit's markdown elements
(st.error, st.warning, st.info, st.caption, st.metric): every markdown, directive and math
character is escaped, so the text shows exactly as written and can never format, link or
colour anything. Dataframes and plotly need none of this."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=\"'])")


def plain(text: object) -> str:
    """`text` as literal characters in Streamlit markdown, on one line."""
    one_line = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line)
