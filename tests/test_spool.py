"""The encrypted spool: round trip, random access, tamper and truncation detection, limits."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from appliance.media.recordings import safe_display_name
from appliance.media.spool import HEADER, TAG_BYTES, Spool
from appliance.platform.errors import MediaRejectedError, SpoolIntegrityError


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool", chunk_size=4096)


KEY = bytes(range(32))


@pytest.mark.parametrize("size", [1, 4095, 4096, 4097, 3 * 4096, 50_000])
def test_round_trip_and_random_access(spool: Spool, size: int) -> None:
    data = os.urandom(size)
    written = spool.write_stream(io.BytesIO(data), KEY, max_bytes=1 << 20)
    path = spool.path_of(written.name)
    if size >= 16:  # a shorter sample can occur in ciphertext by chance
        assert data[:64] not in path.read_bytes()
    with spool.open(written.name, written.wrapped_data_key, KEY) as reader:
        assert reader.size == size == written.size_bytes
        assert reader.read() == data
        reader.seek(size // 2)
        assert reader.read(100) == data[size // 2 : size // 2 + 100]
        reader.seek(-1, io.SEEK_END)
        assert reader.read() == data[-1:]


def test_wrong_candidate_key_cannot_unwrap(spool: Spool) -> None:
    written = spool.write_stream(io.BytesIO(b"x" * 100), KEY, max_bytes=1000)
    with pytest.raises(SpoolIntegrityError, match="cannot be unwrapped"):
        spool.open(written.name, written.wrapped_data_key, bytes(32))


def test_flipped_byte_and_truncation_are_detected(spool: Spool) -> None:
    written = spool.write_stream(io.BytesIO(os.urandom(20_000)), KEY, max_bytes=1 << 20)
    path = spool.path_of(written.name)
    original = path.read_bytes()
    flipped = bytearray(original)
    flipped[HEADER.size + 5000] ^= 1
    path.write_bytes(bytes(flipped))
    with (
        spool.open(written.name, written.wrapped_data_key, KEY) as reader,
        pytest.raises(SpoolIntegrityError, match="chunk 1"),
    ):
        reader.read()
    # Cut exactly at a chunk boundary: the remaining last chunk was not sealed as final.
    path.write_bytes(original[: HEADER.size + 2 * (4096 + TAG_BYTES)])
    with (
        spool.open(written.name, written.wrapped_data_key, KEY) as reader,
        pytest.raises(SpoolIntegrityError),
    ):
        reader.read()
    path.write_bytes(original[:10])
    with pytest.raises(SpoolIntegrityError, match="header"):
        spool.open(written.name, written.wrapped_data_key, KEY)


def test_limits_refuse_and_leave_nothing(spool: Spool) -> None:
    with pytest.raises(MediaRejectedError, match="empty"):
        spool.write_stream(io.BytesIO(b""), KEY, max_bytes=100)
    with pytest.raises(MediaRejectedError, match="larger than the configured limit"):
        spool.write_stream(io.BytesIO(b"y" * 101), KEY, max_bytes=100)
    assert list(spool.folder.iterdir()) == []


def test_spool_names_are_generated_and_checked(spool: Spool) -> None:
    with pytest.raises(SpoolIntegrityError):
        spool.path_of("../../etc/passwd")
    with pytest.raises(SpoolIntegrityError):
        spool.path_of(".partial-x.spool")


def test_sweep_removes_only_old_orphans(spool: Spool) -> None:
    kept = spool.write_stream(io.BytesIO(b"a" * 10), KEY, max_bytes=100)
    orphan = spool.write_stream(io.BytesIO(b"b" * 10), KEY, max_bytes=100)
    fresh = spool.write_stream(io.BytesIO(b"c" * 10), KEY, max_bytes=100)
    partial = spool.folder / ".partial-dead.spool"
    partial.write_bytes(b"junk")
    old = time.time() - 7200
    for path in (spool.path_of(orphan.name), partial):
        os.utime(path, (old, old))
    removed = spool.sweep({kept.name})
    assert sorted(removed) == sorted([orphan.name, partial.name])
    assert spool.names() == {kept.name, fresh.name}


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\answer.webm", "answer.webm"),
        ("evil\x00name\x1b[31m.wav", "evilname[31m.wav"),
        ("..", "recording"),
        ("", "recording"),
        ("a" * 500 + ".mp4", "a" * 200),
    ],
)
def test_safe_display_name(given: str, shown: str) -> None:
    assert safe_display_name(given) == shown


def test_reading_back_and_forth_decrypts_each_chunk_once_within_the_cache(tmp_path: Path) -> None:
    from appliance.media.spool import CACHED_CHUNKS

    spool = Spool(tmp_path / "spool", chunk_size=4096)
    key = os.urandom(32)
    data = os.urandom(4096 * 20)
    stored = spool.write_stream(io.BytesIO(data), key, max_bytes=1 << 20)
    with spool.open(stored.name, stored.wrapped_data_key, key) as reader:
        calls: list[int] = []
        aead = reader._aead

        class Counted:
            def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
                calls.append(1)
                return aead.decrypt(nonce, sealed, aad)

        reader._aead = Counted()  # type: ignore[assignment]
        # Audio near the start, video near the end, read in turns (as a demuxer does).
        for turn in range(10):
            for where in (100 + turn * 50, 4096 * 15 + turn * 50):
                reader.seek(where)
                assert reader.read(40) == data[where : where + 40]
        assert len(calls) == 2
        reader.seek(0)
        assert reader.read() == data
        assert len(reader._cached) == CACHED_CHUNKS
