"""The encrypted media spool: each recording is AES-256-GCM in authenticated chunks.

File layout: a 32-byte header (magic, version, chunk size, file id), then chunks of
`chunk_size` plaintext bytes each sealed with a 16-byte tag. A chunk's nonce is its index
(safe: every file has its own random data key) and its associated data binds the header,
the index and whether it is the last chunk, so reordering, truncation or splicing fails.
The data key is wrapped by the candidate's key from the vault; shredding that key makes
the file unreadable wherever a copy of it lies.

A recording that arrives in pieces (the interview room) is written in the pieces format of
`appliance.media.pieces` under `pieces/` while it grows, and moved here once it is sealed:
`open` reads either format.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import secrets
import struct
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance.media.block_reader import BlockReader
from appliance.media.pieces import (
    PiecesFile,
    PiecesReader,
    create_pieces_file,
    is_pieces_file,
)
from appliance.platform.errors import MediaRejectedError, SpoolIntegrityError

MAGIC = b"APSPOOL1"
VERSION = 1
HEADER = struct.Struct(">8sB3xI16s")  # magic, version, pad, chunk size, file id
TAG_BYTES = 16
SUFFIX = ".spool"
PARTIAL_PREFIX = ".partial-"
READ_BLOCK = 1 << 20
# Recordings still arriving in pieces: a folder of their own, which `sweep` never looks into.
PIECES_FOLDER = "pieces"


class PiecesGoneError(SpoolIntegrityError):
    """A recording arriving in pieces is no longer where it was written (discarded, or moved
    among the complete recordings)."""


def _nonce(index: int) -> bytes:
    return b"\x00\x00\x00\x00" + struct.pack(">Q", index)


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if final else 0)


def wrap_data_key(candidate_key: bytes, data_key: bytes, spool_name: str) -> bytes:
    """Encrypt a file's data key under the candidate's key (nonce ‖ ciphertext)."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(candidate_key).encrypt(
        nonce, data_key, b"spool-key:" + spool_name.encode()
    )


def unwrap_data_key(candidate_key: bytes, wrapped: bytes, spool_name: str) -> bytes:
    """Recover a file's data key; SpoolIntegrityError if the key or the blob is wrong."""
    try:
        return AESGCM(candidate_key).decrypt(
            wrapped[:12], wrapped[12:], b"spool-key:" + spool_name.encode()
        )
    except InvalidTag:
        raise SpoolIntegrityError(
            f"the data key of spool file {spool_name} cannot be unwrapped"
        ) from None


@dataclass(frozen=True)
class SpooledFile:
    """What writing a recording into the spool produced."""

    name: str
    size_bytes: int
    sha256: str
    wrapped_data_key: bytes


class _ChunkWriter:
    """Encrypts a byte stream chunk by chunk into an open file."""

    def __init__(
        self,
        handle: BinaryIO,
        data_key: bytes,
        file_id: bytes,
        chunk_size: int,
        *,
        start_index: int = 0,
        resume: bool = False,
    ) -> None:
        self._handle = handle
        self._aead = AESGCM(data_key)
        self._chunk_size = int(chunk_size)
        self._header = HEADER.pack(MAGIC, VERSION, chunk_size, file_id)
        self._buffer = bytearray()
        self._index = start_index
        if not resume:
            handle.write(self._header)

    def _emit(self, plaintext: bytes, final: bool) -> None:
        sealed = self._aead.encrypt(
            _nonce(self._index), plaintext, _aad(self._header, self._index, final)
        )
        self._handle.write(sealed)
        self._index += 1

    def write(self, data: bytes) -> None:
        self._buffer.extend(data)
        # Keep at least one byte back: the last chunk must be sealed as final.
        while len(self._buffer) > self._chunk_size:
            self._emit(bytes(self._buffer[: self._chunk_size]), final=False)
            del self._buffer[: self._chunk_size]

    def finish(self) -> None:
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()

    def write_whole_chunks(self, data: bytes) -> None:
        """Seal `data` (a multiple of the chunk size) as non-final chunks."""
        if len(data) % self._chunk_size:
            raise ValueError("not a whole number of chunks")
        for start in range(0, len(data), self._chunk_size):
            self._emit(data[start : start + self._chunk_size], final=False)


# Decrypted chunks a reader keeps (in memory only): an MP4 whose audio and video lie apart is
# read alternately from both places, and with one cached chunk every switch decrypted again.
CACHED_CHUNKS = 8


class SpoolReader(BlockReader):
    """A seekable, read-only view of a spool file's plaintext, decrypted chunk by chunk (the
    last `CACHED_CHUNKS` decrypted chunks are kept in memory)."""

    def __init__(self, path: Path, data_key: bytes) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        header = self._file.read(HEADER.size)
        try:
            magic, version, chunk_size, _file_id = HEADER.unpack(header)
        except struct.error:
            self._file.close()
            raise SpoolIntegrityError(f"spool file {path.name} has no valid header") from None
        if magic != MAGIC or version != VERSION or chunk_size <= 0:
            self._file.close()
            raise SpoolIntegrityError(f"spool file {path.name} is not an appliance spool file")
        self._header = header
        self._aead = AESGCM(data_key)
        self._chunk_size: int = int(chunk_size)
        self._name = path.name
        body = os.fstat(self._file.fileno()).st_size - HEADER.size
        sealed = chunk_size + TAG_BYTES
        full, rest = divmod(body, sealed)
        if (rest and rest < TAG_BYTES) or body < TAG_BYTES:
            self._file.close()
            raise SpoolIntegrityError(f"spool file {path.name} is truncated")
        self._chunks: int = full + (1 if rest else 0)
        self._size: int = full * self._chunk_size + (rest - TAG_BYTES if rest else 0)
        self._pos: int = 0
        self._cached: OrderedDict[int, bytes] = OrderedDict()

    @property
    def size(self) -> int:
        """Plaintext length in bytes."""
        return self._size

    def _chunk(self, index: int) -> bytes:
        found = self._cached.get(index)
        if found is not None:
            self._cached.move_to_end(index)
            return found
        sealed = self._chunk_size + TAG_BYTES
        self._file.seek(HEADER.size + index * sealed)
        data = self._file.read(sealed)
        final = index == self._chunks - 1
        try:
            plain = self._aead.decrypt(_nonce(index), data, _aad(self._header, index, final))
        except InvalidTag:
            raise SpoolIntegrityError(
                f"spool file {self._name} failed authentication at chunk {index} "
                "(altered, truncated, or the wrong key)"
            ) from None
        self._cached[index] = plain
        if len(self._cached) > CACHED_CHUNKS:
            self._cached.popitem(last=False)
        return plain

    def _block_at(self, position: int) -> tuple[bytes, int]:
        index, offset = divmod(position, self._chunk_size)
        return self._chunk(index), offset

    def close(self) -> None:
        self._cached.clear()
        if not self._file.closed:
            self._file.close()
        super().close()


# What `Spool.open` returns: a recording written in one go, or one assembled from pieces.
SpoolFileReader = SpoolReader | PiecesReader


class Spool:
    """A folder of encrypted recordings."""

    def __init__(self, folder: Path, *, chunk_size: int = 1 << 20) -> None:
        self.folder = folder
        self.chunk_size = chunk_size

    def path_of(self, name: str) -> Path:
        """The file of a spool name; names are generated, never taken from users."""
        if not name.endswith(SUFFIX) or "/" in name or name.startswith("."):
            raise SpoolIntegrityError(f"{name!r} is not a spool file name")
        return self.folder / name

    def write_stream(
        self, source: BinaryIO | Iterable[bytes], candidate_key: bytes, *, max_bytes: int
    ) -> SpooledFile:
        """Encrypt a stream into a new spool file; refuses empty or over-limit input."""
        self.folder.mkdir(parents=True, exist_ok=True)
        file_id = uuid.uuid4()
        name = f"{file_id.hex}{SUFFIX}"
        partial = self.folder / f"{PARTIAL_PREFIX}{name}"
        data_key = secrets.token_bytes(32)
        digest = hashlib.sha256()
        size = 0
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                writer = _ChunkWriter(handle, data_key, file_id.bytes, self.chunk_size)
                for block in _blocks(source):
                    size += len(block)
                    if size > max_bytes:
                        raise MediaRejectedError(
                            f"the recording is larger than the configured limit of "
                            f"{max_bytes} bytes (media.max_upload_bytes)"
                        )
                    digest.update(block)
                    writer.write(block)
                if size == 0:
                    raise MediaRejectedError("the recording is empty (0 bytes)")
                writer.finish()
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self.folder / name)
            _fsync_dir(self.folder)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return SpooledFile(
            name, size, digest.hexdigest(), wrap_data_key(candidate_key, data_key, name)
        )

    def begin(self, candidate_key: bytes) -> tuple[str, bytes]:
        """Start a file written over several requests; returns its name and wrapped data key."""
        self.folder.mkdir(parents=True, exist_ok=True)
        file_id = uuid.uuid4()
        name = f"{file_id.hex}{SUFFIX}"
        data_key = secrets.token_bytes(32)
        fd = os.open(self._partial(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            _ChunkWriter(handle, data_key, file_id.bytes, self.chunk_size)
            handle.flush()
            os.fsync(handle.fileno())
        return name, wrap_data_key(candidate_key, data_key, name)

    def append(
        self,
        name: str,
        wrapped_data_key: bytes,
        candidate_key: bytes,
        *,
        offset: int,
        data: bytes,
        final: bool,
    ) -> None:
        """Add plaintext at `offset` (a chunk boundary) to a file started with `begin`.

        Whatever lies past `offset` (the torn tail of an interrupted request) is cut first,
        so a client can always resume from the offset the store last acknowledged.
        """
        if offset % self.chunk_size:
            raise MediaRejectedError(f"upload offsets must be multiples of {self.chunk_size} bytes")
        if not final and len(data) % self.chunk_size:
            raise MediaRejectedError(
                f"upload pieces before the last must be multiples of {self.chunk_size} bytes"
            )
        if final and not data:
            raise MediaRejectedError("the last upload piece is empty")
        data_key = unwrap_data_key(candidate_key, wrapped_data_key, name)
        path = self._partial(name)
        index = offset // self.chunk_size
        with open(path, "r+b") as handle:
            handle.truncate(HEADER.size + index * (self.chunk_size + TAG_BYTES))
            handle.seek(0, io.SEEK_END)
            file_id = uuid.UUID(hex=name.removesuffix(SUFFIX)).bytes
            writer = _ChunkWriter(
                handle, data_key, file_id, self.chunk_size, start_index=index, resume=True
            )
            if final:
                writer.write(data)
                writer.finish()
            else:
                writer.write_whole_chunks(data)
            handle.flush()
            os.fsync(handle.fileno())

    def open_partial(self, name: str, wrapped_data_key: bytes, candidate_key: bytes) -> SpoolReader:
        """A decrypting reader over a multi-request file not yet committed."""
        data_key = unwrap_data_key(candidate_key, wrapped_data_key, name)
        return SpoolReader(self._partial(name), data_key)

    def commit(self, name: str) -> None:
        """Make a completed multi-request file a spool file."""
        os.replace(self._partial(name), self.folder / name)
        _fsync_dir(self.folder)

    def uncommit(self, name: str) -> None:
        """Turn a just-committed file back into a partial one (its record could not be made)."""
        os.replace(self.folder / name, self._partial(name))

    @contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """Exclusive use of a multi-request file across threads and processes."""
        lock_path = self.folder / f".lock-{name}"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                if not self._partial(name).exists():
                    lock_path.unlink()

    def discard(self, name: str) -> None:
        """Drop an unfinished multi-request file (and its lock file)."""
        self._partial(name).unlink(missing_ok=True)
        (self.folder / f".lock-{name}").unlink(missing_ok=True)

    def _partial(self, name: str) -> Path:
        self.path_of(name)  # validates the name
        return self.folder / f"{PARTIAL_PREFIX}{name}"

    def open(self, name: str, wrapped_data_key: bytes, candidate_key: bytes) -> SpoolFileReader:
        """A decrypting reader over a spool file (either format)."""
        data_key = unwrap_data_key(candidate_key, wrapped_data_key, name)
        # A sealed pieces file is moved here after its record commits; until then (a crash in
        # between) it is read where it was written. Twice round: it may move while we look.
        for path in (self.path_of(name), self.pieces_path(name)) * 2:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                head = os.pread(fd, 8, 0)
            except BaseException:
                os.close(fd)
                raise
            if is_pieces_file(head):
                return PiecesReader(fd, data_key, name)
            os.close(fd)
            return SpoolReader(path, data_key)
        raise SpoolIntegrityError(f"spool file {name} is missing")

    def remove(self, name: str) -> None:
        """Delete a spool file (ciphertext only: no plaintext ever reached the disk)."""
        self.path_of(name).unlink(missing_ok=True)
        self.pieces_path(name).unlink(missing_ok=True)

    # --- recordings arriving in pieces -----------------------------------------------------
    def pieces_path(self, name: str) -> Path:
        """Where a recording arriving in pieces is written."""
        self.path_of(name)  # validates the name
        return self.folder / PIECES_FOLDER / name

    def begin_pieces(self, candidate_key: bytes) -> tuple[str, bytes]:
        """Start a recording that will arrive in pieces; returns its name and wrapped data key."""
        folder = self.folder / PIECES_FOLDER
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # private, like the spool
        name = f"{uuid.uuid4().hex}{SUFFIX}"
        data_key = secrets.token_bytes(32)
        create_pieces_file(folder / name)
        _fsync_dir(folder)
        return name, wrap_data_key(candidate_key, data_key, name)

    @contextmanager
    def pieces(
        self, name: str, wrapped_data_key: bytes, candidate_key: bytes, *, max_piece_bytes: int
    ) -> Iterator[PiecesFile]:
        """Exclusive use of a recording arriving in pieces, across threads and processes.

        SpoolIntegrityError when the file is gone (discarded, or moved once complete)."""
        data_key = unwrap_data_key(candidate_key, wrapped_data_key, name)
        path = self.pieces_path(name)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            raise PiecesGoneError(f"spool file {name} is missing") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Whoever held the lock before may have removed or moved the file meanwhile.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                raise PiecesGoneError(f"spool file {name} was moved or removed")
            yield PiecesFile(fd, data_key, name, max_piece_bytes=max_piece_bytes)
        finally:
            os.close(fd)  # also releases the lock

    def publish_pieces(self, name: str) -> None:
        """Move a sealed pieces file among the complete recordings (idempotent)."""
        try:
            os.replace(self.pieces_path(name), self.path_of(name))
        except FileNotFoundError:
            return
        _fsync_dir(self.folder)
        _fsync_dir(self.folder / PIECES_FOLDER)

    def pieces_names(self) -> dict[str, float]:
        """Recordings still in the pieces folder, with their modification times."""
        folder = self.folder / PIECES_FOLDER
        found: dict[str, float] = {}
        if not folder.is_dir():
            return found
        for path in folder.glob(f"*{SUFFIX}"):
            try:
                found[path.name] = path.stat().st_mtime
            except FileNotFoundError:
                continue
        return found

    def names(self) -> set[str]:
        """Complete spool files present."""
        return {
            path.name for path in self.folder.glob(f"*{SUFFIX}") if not path.name.startswith(".")
        }

    def sweep(self, referenced: set[str], *, min_age_s: float = 3600.0) -> list[str]:
        """Delete old partial writes and old files no record refers to; return their names.

        `referenced` holds recordings and open multi-request uploads (whose partial files stay).
        `min_age_s` protects an upload whose file is written but whose row is not yet committed.
        """
        removed = []
        cutoff = time.time() - min_age_s
        candidates = [
            *(
                path
                for path in self.folder.glob(f"{PARTIAL_PREFIX}*")
                if path.name.removeprefix(PARTIAL_PREFIX) not in referenced
            ),
            *(self.folder / name for name in self.names() - referenced),
        ]
        for path in candidates:
            try:
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed.append(path.name)
            except FileNotFoundError:
                continue
        return removed


def _blocks(source: BinaryIO | Iterable[bytes]) -> Iterable[bytes]:
    if hasattr(source, "read"):
        while True:
            block = source.read(READ_BLOCK)
            if not block:
                return
            yield block
    else:
        for block in source:
            if block:
                yield block


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
