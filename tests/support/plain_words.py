"""What a reader sees of a report page, and what must not be in it: internal names (snake_case
keys, `None`) in any language, and, for a Chinese reader, the English of the sentences the
report pages generate (the msgids of their templates and of `webui/report_words.py`)."""

# Dashes and quotes as the pages print them (en dash, curly quotes).
# ruff: noqa: RUF001

from __future__ import annotations

import html
import re
from functools import cache

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file

from tests.conftest import REPO

REPORT_SOURCES = (
    ("python", "webui/report_words.py"),
    ("jinja2", "webui/templates/reports/_summary.html"),
    ("jinja2", "webui/templates/reports/_document.html"),
    ("jinja2", "webui/templates/reports/show.html"),
    ("jinja2", "webui/templates/reports/interview.html"),
)
_HIDDEN = re.compile(r"<(script|style|textarea)\b.*?</\1>", re.DOTALL | re.IGNORECASE)
# Inline elements join their text to what surrounds it; any other tag breaks the text.
_INLINE_TAG = re.compile(r"</?(a|abbr|b|code|em|i|q|small|span|strong|time|tspan)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
# A file name (answer_1.wav) or an address is allowed to keep its underscores.
_ALLOWED = re.compile(r"\b[\w.-]+\.[A-Za-z0-9]{2,4}\b|\bhttps?://\S+|(?<!\w)/[\w/.-]+")
_SNAKE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")
_NONE = re.compile(r"\bNone\b")
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")


def visible_text(page: str) -> str:
    """The text of a page as it shows (no scripts, styles, tags or attributes), its white space
    collapsed."""
    text = _TAG.sub(" ", _INLINE_TAG.sub("", _HIDDEN.sub(" ", page)))
    return _SPACE.sub(" ", html.unescape(text))


def internal_names(text: str) -> list[str]:
    """snake_case tokens and a bare `None` in visible text (file names and addresses allowed)."""
    cleaned = _ALLOWED.sub(" ", text)
    return _SNAKE.findall(cleaned) + _NONE.findall(cleaned)


@cache
def generated_english() -> tuple[str, ...]:
    """The English pieces of every sentence the report pages generate: each msgid cut at its
    placeholders, kept where a piece has two words or more (single words also occur in what
    candidates say)."""
    pieces: set[str] = set()
    for method, path in REPORT_SOURCES:
        with open(REPO / path, "rb") as source:
            for _line, message, _comments, _context in extract_from_file(
                method, source.name, keywords=DEFAULT_KEYWORDS
            ):
                for msgid in (message,) if isinstance(message, str) else message:
                    for piece in _PLACEHOLDER.split(msgid or ""):
                        piece = piece.strip(" :;,.()–-·“”")
                        if len(re.findall(r"[A-Za-z]+", piece)) >= 2:
                            pieces.add(piece)
    return tuple(sorted(pieces))


def english_left(text: str) -> list[str]:
    """The generated English pieces found in a page's visible text."""
    return [piece for piece in generated_english() if piece in text]


__all__ = ["english_left", "generated_english", "internal_names", "visible_text"]
