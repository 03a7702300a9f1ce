"""The core's sentences in the reader's language: a `Said` is looked up in the catalog and
filled with its values; any other text is shown as it is (it was written for the page)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from appliance.platform.words import Said


def say(text: Any) -> str:
    """`text` in the reader's language when the core marked it translatable."""
    if isinstance(text, Said):
        translated = str(gettext(text.msgid))
        if text.values:
            # A value may itself be a sentence part the core marked (a field's name).
            values = {
                key: say(value) if isinstance(value, Said) else value
                for key, value in text.values.items()
            }
            try:
                return str(translated % values)
            except (KeyError, ValueError, TypeError):
                return str(text)  # a catalog entry with other placeholders: keep the English
        return translated
    return str(text)


def say_error(exc: BaseException) -> str:
    """An error's message in the reader's language (its first argument when it is a `Said`)."""
    first = exc.args[0] if exc.args else ""
    if isinstance(first, Said):
        return say(first)
    problems = getattr(exc, "problems", None)
    if problems:
        return "; ".join(say(problem) for problem in problems)
    return str(exc)


__all__ = ["say", "say_error"]
