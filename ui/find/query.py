"""What both sides check of a Find request before any work: the query's length (one limit,
the parser's) and messages cleaned of server paths."""

from __future__ import annotations

import os
import re
from typing import Optional

from sam2.find.query import MAX_QUERY_CHARS
from ui.common.errors import UserError

_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s'\"\\/:,;()]+){2,}[\\/]?")


def without_paths(text: str) -> str:
    """``text`` with filesystem paths cut to their last part (a message must not show server paths)."""
    return _PATH.sub(lambda m: os.path.basename(m.group(0).rstrip("/\\")) or "...", text)


def check_query_length(text: Optional[str]) -> None:
    """Refuse a query over the parser's limit at once, before the model or detector is touched."""
    if text is not None and len(text) > MAX_QUERY_CHARS:
        raise UserError(f"The query is {len(text)} characters long; keep it under {MAX_QUERY_CHARS} "
                        "characters: a few words separated by commas.")
