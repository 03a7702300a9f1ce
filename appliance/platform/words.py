"""Sentences the core says to people, kept translatable.

The core knows nothing of the web layer or of the reader's language: it writes English. A
`Said` is that English sentence (a `str`, so logs, JSON and tests read it as before) that also
carries its message id and values, so a page can say it again in the reader's language
(`webui.words.say`). `said(...)` marks the message id for extraction (babel.cfg, keyword said).
"""

from __future__ import annotations

from typing import Any


class Said(str):
    """An English sentence with the message id and values it was made from."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, values: dict[str, Any]) -> Said:
        """The sentence `msgid % values` (or `msgid` alone without values)."""
        text = msgid % values if values else msgid
        made = super().__new__(cls, text)
        made.msgid = msgid
        made.values = dict(values)
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (e.g. across processes) it stays a Said.
        return (Said, (self.msgid, self.values))


def said(msgid: str, **values: Any) -> Said:
    """A sentence for a person; `msgid` is a literal with `%(name)s` placeholders."""
    return Said(msgid, values)


__all__ = ["Said", "said"]
