"""What every repository shares."""

from __future__ import annotations

import json
import operator
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


def limit_clause(limit: int) -> str:
    """`LIMIT n` with the count written into the statement: SQLCipher's memory security makes a
    bound `LIMIT ?` several times dearer than a constant one. The count must be an integer
    (TypeError otherwise: nothing but a number is ever written into SQL); a negative one means
    no limit, as a bound one did."""
    if isinstance(limit, bool):
        raise TypeError("a row limit is an integer")
    return f"LIMIT {operator.index(limit)}"


def dumps(value: Any) -> str:
    """Compact, stable JSON for a TEXT column."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    """Parse a JSON column (None stays None)."""
    return None if text is None else json.loads(text)
