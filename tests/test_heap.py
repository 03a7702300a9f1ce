"""Freed heap memory goes back to the system when asked (glibc's `malloc_trim`)."""

from __future__ import annotations

import sys

import pytest

from tests.support.snippets import run_snippet

# 128 MiB in 64 KiB blocks (below glibc's mmap threshold: they come from the heap), every
# sixteenth kept so that the freed ones sit between live ones and are not trimmed by free().
_FRAGMENTED_HEAP = """
import ctypes, os, sys
from inference.heap import give_back_freed_memory
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
libc.memset.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t)
def resident_mib():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
blocks = [libc.malloc(64 << 10) for _ in range(2048)]
for block in blocks:
    libc.memset(block, 1, 64 << 10)
for n, block in enumerate(blocks):
    if n % 16:
        libc.free(block)
before = resident_mib()
gave = give_back_freed_memory() if sys.argv[1] == "trim" else False
print(gave, round(before - resident_mib()))
"""


def _freed_mib(mode: str) -> tuple[str, int]:
    gave, mib = run_snippet(_FRAGMENTED_HEAP, mode)
    return gave, int(mib)


def test_freed_heap_pages_are_given_back() -> None:
    if sys.platform != "linux":
        pytest.skip("glibc only")
    kept = _freed_mib("keep")
    trimmed = _freed_mib("trim")
    assert kept[0] == "False" and kept[1] < 10  # free() alone kept the pages
    assert trimmed[0] == "True" and trimmed[1] >= 100  # of the 120 MiB freed
