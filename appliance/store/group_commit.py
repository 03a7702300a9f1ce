"""Group commit: the writes of many threads in one transaction, each caller waiting for its own.

A page view that shows candidate data must have its read record committed before the page is
sent (ALL-3). Written one transaction a view, the records of twenty concurrent readers were
most of the box's commits, and every commit empties the page cache of every other connection
to the file (SQLite in WAL mode), so the next page of every other thread read cold.

Here the first caller to arrive writes, in one transaction, its own items and those of every
caller that queued while the previous transaction ran; the others wait until the transaction
holding theirs has committed (or failed: then each of them gets its error). Nothing is
deferred past the caller's return, so a record is never lost to a crash after its page left.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass
class _Ticket(Generic[Item]):
    item: Item
    done: bool = False
    error: BaseException | None = None


class GroupCommit(Generic[Item]):
    """Callers' items written together by `write` (one transaction for a list of items)."""

    def __init__(self, write: Callable[[list[Item]], None]) -> None:
        self._write = write
        self._reset()

    def _reset(self) -> None:
        # Made again in a forked child: a lock copied mid-use would never be released there.
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._queued: list[_Ticket[Item]] = []
        self._writing = False

    def submit(self, item: Item) -> None:
        """Return once `item` is committed; raise the error of the write that held it."""
        if self._pid != os.getpid():
            self._reset()
        ticket = _Ticket(item)
        with self._cond:
            self._queued.append(ticket)
            while self._writing and not ticket.done:
                self._cond.wait()
            if not ticket.done:  # nobody is writing: this caller writes everything queued
                self._writing = True
                batch, self._queued = self._queued, []
        if ticket.done:
            if ticket.error is not None:
                raise ticket.error
            return
        error: BaseException | None = None
        try:
            self._write([t.item for t in batch])
        except BaseException as exc:
            error = exc
        with self._cond:
            for t in batch:
                t.done, t.error = True, error
            self._writing = False
            self._cond.notify_all()
        if error is not None:
            raise error
