"""Giving freed heap memory back to the system between long stretches of engine work."""

from __future__ import annotations

import ctypes
import logging
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)


@cache
def _malloc_trim() -> Any:
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to call
        return None
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return trim


def give_back_freed_memory() -> bool:
    """Return the free pages of every malloc arena to the system (glibc's `malloc_trim`);
    True when some were returned, False when none were or this is not glibc.

    The speech engine's arrays for one window (its audio, features and encoder outputs) are
    freed when the window is done, but glibc keeps most of that memory for later requests, so
    a long interview's worker grew window by window. Trimmed after each 300 s window (with the
    blockwise features), a 30-minute analysis's worker peaked at 879-966 MiB instead of
    1024-1033 MiB (two runs each), for the same CPU time (docs/operations.md).
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    return bool(trim(0))
