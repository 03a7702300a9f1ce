"""What every repository shares."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from appliance.store.db import Connection

if TYPE_CHECKING:
    from appliance.store import Store


class Repository:
    """Base class: access to the store's connection."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @property
    def conn(self) -> Connection:
        """The calling thread's connection to the main database."""
        return self._store.conn


def dumps(value: Any) -> str:
    """Compact, stable JSON for a TEXT column."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    """Parse a JSON column (None stays None)."""
    return None if text is None else json.loads(text)
