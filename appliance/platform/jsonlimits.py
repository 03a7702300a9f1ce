"""Depth and size limits for JSON from outside, checked before the text is parsed.

Python's parser recurses once per nesting level: `[[[[…` a hundred thousand levels deep costs
a few hundred kilobytes to send and ends in RecursionError (a 500 in the web UI, a traceback in
the CLI), and a merely deep structure can still exhaust whatever walks it afterwards. Every
request body and imported file is measured here first, in linear time and without recursion.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from appliance.platform.errors import RefusedError

MAX_DEPTH = 32  # far beyond any document of the appliance (the deepest is about 6)
# A JSON string literal, closed or running to the end of the text. Possessive, so the scan is
# linear even on a text of nothing but backslashes and quotes.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonLimitError(RefusedError):
    """JSON from outside is nested too deep or too large to be parsed (answered with 422)."""


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text (0 for a scalar), without parsing it.

    Brackets inside strings do not count; for text that is not valid JSON the answer is still
    an upper bound of what a parser would recurse into before it failed.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(_STEP[c] for c in brackets), default=0)


def _as_text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode(json.detect_encoding(data), errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def check_json(
    data: bytes | str,
    *,
    max_bytes: int | None = None,
    max_depth: int = MAX_DEPTH,
    what: str = "the JSON",
) -> None:
    """JsonLimitError when `data` is larger than `max_bytes` or nests deeper than `max_depth`."""
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if max_bytes is not None and size > max_bytes:
        raise JsonLimitError(f"{what} is larger than {_size(max_bytes)}")
    if json_depth(_as_text(data)) > max_depth:
        raise JsonLimitError(f"{what} is nested more than {max_depth} levels deep")


def loads(
    data: bytes | str,
    *,
    max_bytes: int | None = None,
    max_depth: int = MAX_DEPTH,
    what: str = "the JSON",
    **options: Any,
) -> Any:
    """`json.loads` after `check_json`: the same result, or JsonLimitError before any parsing."""
    check_json(data, max_bytes=max_bytes, max_depth=max_depth, what=what)
    return json.loads(data, **options)


def _size(limit: int) -> str:
    if limit >= 1 << 20 and limit % (1 << 20) == 0:
        return f"{limit >> 20} MiB"
    if limit >= 1 << 10 and limit % (1 << 10) == 0:
        return f"{limit >> 10} KiB"
    return f"{limit} bytes"
