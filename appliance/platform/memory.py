"""Process memory settings that are not Python's: glibc's malloc arenas."""

from __future__ import annotations

import ctypes
import logging

logger = logging.getLogger(__name__)

# mallopt's parameter for the most arenas malloc may create (glibc's malloc.h).
_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas for this process (as MALLOC_ARENA_MAX does); True when set.

    Each thread that allocates may otherwise get an arena of its own (up to eight per core),
    and memory freed in one stays with it: with the speech engine, the vision models and the
    encoder each on threads of their own, that held about 90 MiB more at the same moment of
    a 30-minute analysis. Called before the threads start; 0 keeps glibc's default. Elsewhere
    than glibc (no `mallopt`) nothing changes."""
    if arenas <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_ARENA_MAX, arenas))
    if not done:
        logger.warning("could not limit malloc arenas to %d", arenas)
    return done
