"""A recording that arrives in pieces, kept in the encrypted spool as it comes: one sealed record
per piece, appended in order, and a sealed end record once it is complete.

File layout: a 32-byte header (magic, version, file id), then records. A record is a 24-byte
prefix (sequence number, plaintext length, kind, a random 12-byte nonce) and the AES-256-GCM
ciphertext of the piece with its 16-byte tag. The associated data binds the header and the
prefix, so a record moved to another place or another file, or cut short, fails to open. The
end record's plaintext is the number of pieces and their total size: once it is there the file
is a complete recording that `Spool.open` reads like any other, and a truncated one is refused.

Every piece is its own record, so a piece is durable (and acknowledged) after one append and
one fdatasync; nothing is rewritten and nothing passes through the database. A torn record at
the end (a crash or a dropped connection mid-write) is cut off by `settle` before the next
append. Random nonces, not counters: a torn piece may be sent again with other bytes.
"""

from __future__ import annotations

import bisect
import os
import secrets
import struct
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance.media.block_reader import BlockReader
from appliance.platform.errors import SpoolIntegrityError

MAGIC = b"APPIECE1"
VERSION = 1
HEADER = struct.Struct(">8sB7x16s")  # magic, version, pad, file id
PREFIX = struct.Struct(">IIB3x12s")  # sequence number, plaintext length, kind, pad, nonce
TAG_BYTES = 16
RECORD_OVERHEAD = PREFIX.size + TAG_BYTES
END = struct.Struct(">IQ")  # the end record's plaintext: pieces, total bytes
KIND_PIECE = 0
KIND_END = 1
# Decrypted pieces a reader keeps in memory (a demuxer reads back and forth a little).
CACHED_PIECES = 8


@dataclass(frozen=True)
class Progress:
    """How many pieces a file holds and their total plaintext size."""

    pieces: int
    size_bytes: int

    @property
    def offset(self) -> int:
        """Where the next record starts in the file."""
        return HEADER.size + self.pieces * RECORD_OVERHEAD + self.size_bytes


NOTHING = Progress(0, 0)


def new_header(file_id: bytes) -> bytes:
    """The header of a new pieces file."""
    return HEADER.pack(MAGIC, VERSION, file_id)


def is_pieces_file(head: bytes) -> bool:
    """Whether a file's first bytes are a pieces file's header."""
    return head[: len(MAGIC)] == MAGIC


def _aad(header: bytes, prefix: bytes) -> bytes:
    return header + prefix[: PREFIX.size - 12]  # the nonce is an input of GCM already


def _seal(aead: AESGCM, header: bytes, seq: int, kind: int, plaintext: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    prefix = PREFIX.pack(seq, len(plaintext), kind, nonce)
    return prefix + aead.encrypt(nonce, plaintext, _aad(header, prefix))


def _read_at(fd: int, offset: int, size: int) -> bytes:
    parts = []
    while size > 0:
        block = os.pread(fd, size, offset)
        if not block:
            break
        parts.append(block)
        offset += len(block)
        size -= len(block)
    return b"".join(parts)


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _check_header(header: bytes, name: str) -> None:
    try:
        magic, version, _file_id = HEADER.unpack(header)
    except struct.error:
        raise SpoolIntegrityError(f"spool file {name} has no valid header") from None
    if magic != MAGIC or version != VERSION:
        raise SpoolIntegrityError(f"spool file {name} is not a pieces file")


def create_pieces_file(path: Path) -> None:
    """Write a new, empty pieces file (header only) and make it durable."""
    file_id = uuid.UUID(hex=path.name.split(".", 1)[0]).bytes
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _write_at(fd, new_header(file_id), 0)
        os.fsync(fd)
    finally:
        os.close(fd)


class PiecesFile:
    """An open pieces file that this process holds exclusively (the caller locks it)."""

    def __init__(self, fd: int, data_key: bytes, name: str, *, max_piece_bytes: int) -> None:
        self._fd = fd
        self._aead = AESGCM(data_key)
        self._data_key = data_key
        self.name = name
        self._max = max_piece_bytes
        self._header = _read_at(fd, 0, HEADER.size)
        _check_header(self._header, name)

    def _open_record(self, offset: int, expected_seq: int, kind: int) -> bytes | None:
        """The plaintext of the record at `offset`, or None if it is not a whole, valid one."""
        prefix = _read_at(self._fd, offset, PREFIX.size)
        if len(prefix) < PREFIX.size:
            return None
        seq, length, found_kind, nonce = PREFIX.unpack(prefix)
        if seq != expected_seq or found_kind != kind or length > self._max:
            return None
        if kind == KIND_PIECE and length == 0:
            return None
        sealed = _read_at(self._fd, offset + PREFIX.size, length + TAG_BYTES)
        if len(sealed) < length + TAG_BYTES:
            return None
        try:
            return self._aead.decrypt(nonce, sealed, _aad(self._header, prefix))
        except InvalidTag:
            return None

    def settle(self, known: Progress) -> Progress:
        """The pieces really held, counted on from `known` (pieces already acknowledged); a torn
        or unfinished record after the last whole piece is cut off."""
        size = os.fstat(self._fd).st_size
        if size < known.offset:
            raise SpoolIntegrityError(
                f"spool file {self.name} holds less than the pieces acknowledged for it"
            )
        found = known
        while True:
            plain = self._open_record(found.offset, found.pieces, KIND_PIECE)
            if plain is None:
                break
            found = Progress(found.pieces + 1, found.size_bytes + len(plain))
        if size > found.offset:
            os.ftruncate(self._fd, found.offset)
        return found

    def append(self, progress: Progress, seq: int, data: bytes) -> Progress:
        """Seal piece `seq` after the `progress` pieces (settled) and make it durable."""
        if seq != progress.pieces:
            raise ValueError(f"piece {seq} cannot follow {progress.pieces} pieces")
        if not 0 < len(data) <= self._max:
            raise ValueError("a piece is not empty and not larger than the limit")
        _write_at(self._fd, _seal(self._aead, self._header, seq, KIND_PIECE, data), progress.offset)
        os.fdatasync(self._fd)  # the piece is acknowledged after this: it must survive a crash
        return Progress(progress.pieces + 1, progress.size_bytes + len(data))

    def seal(self, progress: Progress) -> None:
        """Close the file after its `progress` pieces with the end record (durable)."""
        os.ftruncate(self._fd, progress.offset)  # an end record of an interrupted try goes
        end = END.pack(progress.pieces, progress.size_bytes)
        _write_at(
            self._fd,
            _seal(self._aead, self._header, progress.pieces, KIND_END, end),
            progress.offset,
        )
        os.fdatasync(self._fd)

    def reader(self, progress: Progress) -> PiecesReader:
        """A seekable view of the plaintext of the first `progress` pieces."""
        return PiecesReader(
            os.dup(self._fd), self._data_key, self.name, expect=progress, max_piece_bytes=self._max
        )

    def sealed_reader(self) -> PiecesReader:
        """The sealed file as `Spool.open` reads it (its end record checked)."""
        return PiecesReader(os.dup(self._fd), self._data_key, self.name)


class PiecesReader(BlockReader):
    """A seekable, read-only view of a pieces file's plaintext, decrypted piece by piece.

    Without `expect` the file must be complete (its end record names every piece and byte);
    with it, the first `expect.pieces` pieces are read and must hold `expect.size_bytes` bytes.
    """

    def __init__(
        self,
        fd: int,
        data_key: bytes,
        name: str,
        *,
        expect: Progress | None = None,
        max_piece_bytes: int = 1 << 30,
    ) -> None:
        super().__init__()
        self._fd = fd
        self._name = name
        try:
            self._header = _read_at(fd, 0, HEADER.size)
            _check_header(self._header, name)
            self._aead = AESGCM(data_key)
            self._index(expect, max_piece_bytes)
        except BaseException:
            os.close(fd)
            raise
        self._pos = 0
        self._cached: OrderedDict[int, bytes] = OrderedDict()

    def _index(self, expect: Progress | None, max_piece_bytes: int) -> None:
        # Where each piece starts, in the file and in the plaintext (prefixes only: cheap).
        self._offsets: list[int] = []
        self._starts: list[int] = []
        offset, total, seq = HEADER.size, 0, 0
        file_size = os.fstat(self._fd).st_size
        while expect is None or seq < expect.pieces:
            prefix = _read_at(self._fd, offset, PREFIX.size)
            if len(prefix) < PREFIX.size:
                raise SpoolIntegrityError(f"spool file {self._name} is truncated")
            found_seq, length, kind, nonce = PREFIX.unpack(prefix)
            if found_seq != seq or length > max_piece_bytes:
                raise SpoolIntegrityError(f"spool file {self._name} has a misplaced piece")
            if kind == KIND_END and expect is None:
                sealed = _read_at(self._fd, offset + PREFIX.size, length + TAG_BYTES)
                try:
                    end = self._aead.decrypt(nonce, sealed, _aad(self._header, prefix))
                except InvalidTag:
                    raise SpoolIntegrityError(
                        f"spool file {self._name} failed authentication at its end "
                        "(altered, truncated, or the wrong key)"
                    ) from None
                if END.unpack(end) != (seq, total) or offset + len(prefix) + len(sealed) != (
                    file_size
                ):
                    raise SpoolIntegrityError(f"spool file {self._name} does not end as sealed")
                break
            if kind != KIND_PIECE or length == 0:
                raise SpoolIntegrityError(f"spool file {self._name} has a misplaced piece")
            if offset + RECORD_OVERHEAD + length > file_size:
                raise SpoolIntegrityError(f"spool file {self._name} is truncated")
            self._offsets.append(offset)
            self._starts.append(total)
            offset += RECORD_OVERHEAD + length
            total += length
            seq += 1
        if expect is not None and total != expect.size_bytes:
            raise SpoolIntegrityError(
                f"spool file {self._name} holds {total} bytes in its first {expect.pieces} "
                f"pieces, not {expect.size_bytes}"
            )
        self._size = total

    @property
    def size(self) -> int:
        """Plaintext length in bytes."""
        return self._size

    @property
    def pieces(self) -> int:
        """How many pieces the view holds."""
        return len(self._offsets)

    def _piece(self, index: int) -> bytes:
        found = self._cached.get(index)
        if found is not None:
            self._cached.move_to_end(index)
            return found
        offset = self._offsets[index]
        prefix = _read_at(self._fd, offset, PREFIX.size)
        _seq, length, _kind, nonce = PREFIX.unpack(prefix)
        sealed = _read_at(self._fd, offset + PREFIX.size, length + TAG_BYTES)
        try:
            plain = self._aead.decrypt(nonce, sealed, _aad(self._header, prefix))
        except InvalidTag:
            raise SpoolIntegrityError(
                f"spool file {self._name} failed authentication at piece {index} "
                "(altered, truncated, or the wrong key)"
            ) from None
        self._cached[index] = plain
        if len(self._cached) > CACHED_PIECES:
            self._cached.popitem(last=False)
        return plain

    def _block_at(self, position: int) -> tuple[bytes, int]:
        index = bisect.bisect_right(self._starts, position) - 1
        return self._piece(index), position - self._starts[index]

    def close(self) -> None:
        self._cached.clear()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        super().close()
