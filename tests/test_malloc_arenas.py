"""The worker's cap on glibc malloc arenas takes effect: threads that allocate at the same time
share the capped arenas instead of getting one each (read from glibc's own `malloc_info`)."""

from __future__ import annotations

import sys

import pytest

from appliance.platform.memory import limit_malloc_arenas
from tests.support.snippets import run_snippet

_COUNT_ARENAS = """
import ctypes, sys, tempfile, threading
from appliance.platform.memory import limit_malloc_arenas
limit = int(sys.argv[1])
print("set" if limit_malloc_arenas(limit) else "unset")
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = (ctypes.c_void_p,)
barrier = threading.Barrier(16)
def allocate():
    barrier.wait()  # all at once, so that each would want an arena of its own
    blocks = [libc.malloc(4096) for _ in range(2000)]
    barrier.wait()
    for block in blocks:
        libc.free(block)
threads = [threading.Thread(target=allocate) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    handle = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, handle)
    libc.fclose(handle)
    print(open(out.name).read().count("<heap nr="))
"""


def _arenas(limit: int) -> tuple[str, int]:
    state, count = run_snippet(_COUNT_ARENAS, limit)
    return state, int(count)


def test_capped_arenas_are_shared_by_threads() -> None:
    if sys.platform != "linux":
        pytest.skip("glibc only")
    uncapped = _arenas(0)
    capped = _arenas(2)
    assert uncapped[0] == "unset" and capped[0] == "set"
    assert capped[1] <= 2
    assert uncapped[1] > capped[1]  # the default would have given the threads more


def test_zero_keeps_the_default() -> None:
    assert limit_malloc_arenas(0) is False
