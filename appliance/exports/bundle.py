"""The bundle as a stream: tables → tar → age (pyrage) → file, in bounded memory.

`appliance.exports.build` decides what goes into a bundle and why age (see its docstring); this
module only writes it. Nothing here touches the disk in clear: table parts are built in
memory, the tar is produced front to back into the age encryptor, and only ciphertext reaches
the file, which is deleted again unless the stream completes.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import queue
import tarfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol

import pyrage  # type: ignore[import-untyped]

from appliance.platform.errors import ApplianceError

CHUNK_BYTES = 64 << 10  # plaintext handed to the encryptor at a time
QUEUE_DEPTH = 16  # chunks in flight between the tar writer and the encryptor
_TAR_BLOCK = 512
_TAR_RECORD = 20 * _TAR_BLOCK


class BundleWriteError(ApplianceError):
    """Writing the encrypted bundle failed (disk, encryptor): worth another attempt."""

    exit_code = 37


class BundleSizeError(ApplianceError):
    """A file's bytes differ from the size announced in its tar header."""

    exit_code = 38


class _Abort(Exception):
    """Raised inside the encryptor's reader when the bundle is abandoned."""


class AgeStreamWriter:
    """A write-only stream whose bytes land age-encrypted (X25519, pyrage) in `target`.

    pyrage pulls its plaintext from a reader while the tar is pushed; a bounded queue joins
    them and pyrage runs in a helper thread, so at most QUEUE_DEPTH * CHUNK_BYTES of plaintext
    are in flight, in memory only.
    """

    def __init__(self, target: Any, age_recipient: str) -> None:
        recipient = pyrage.x25519.Recipient.from_str(age_recipient)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._pending = bytearray()
        self._current = memoryview(b"")
        self._aborted = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._encrypt, args=(target, recipient), name="export-age", daemon=True
        )
        self._thread.start()

    def _encrypt(self, target: Any, recipient: Any) -> None:
        try:
            pyrage.encrypt_io(self, target, [recipient])
        except BaseException as exc:  # handed to the writer's thread, which raises it
            self._error = exc

    def read(self, size: int = -1) -> bytes:
        """What pyrage calls: the next plaintext bytes (b"" at the end)."""
        while not self._current:
            item = self._queue.get()
            if self._aborted.is_set():
                raise _Abort("the bundle was abandoned")
            if item is None:
                return b""
            self._current = memoryview(item)
        size = len(self._current) if size < 0 else size
        piece, self._current = self._current[:size], self._current[size:]
        return bytes(piece)

    def write(self, data: bytes | memoryview) -> int:
        """Queue plaintext for encryption (blocks while the encryptor is behind)."""
        view = memoryview(data)
        while view:
            room = CHUNK_BYTES - len(self._pending)
            self._pending += view[:room]
            view = view[room:]
            if len(self._pending) >= CHUNK_BYTES:
                self._put(bytes(self._pending))
                self._pending.clear()
        return len(data)

    def _put(self, item: bytes | None) -> None:
        while True:
            if self._error is not None or not self._thread.is_alive():
                raise BundleWriteError(f"the encryption stopped: {self._error}") from self._error
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Flush, end the age stream and wait for the encryptor to finish."""
        if self._pending:
            self._put(bytes(self._pending))
            self._pending.clear()
        self._put(None)
        self._thread.join()
        if self._error is not None:
            raise BundleWriteError(f"the encryption failed: {self._error}") from self._error

    def abort(self) -> None:
        """Stop the encryptor without finishing the stream (the file is then deleted)."""
        self._aborted.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        with contextlib.suppress(queue.Full):  # it was just emptied
            self._queue.put_nowait(None)
        self._thread.join(timeout=30)


class _HashingFile:
    """The ciphertext's way to disk: counts and hashes what is written."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        """Hash and write."""
        self.digest.update(data)
        self.bytes += len(data)
        return self._handle.write(data)

    def flush(self) -> None:
        """Flush the file."""
        self._handle.flush()


class ByteSink(Protocol):
    """Where a tar stream goes (the age encryptor)."""

    def write(self, data: bytes | memoryview, /) -> int:
        """Take these bytes."""


class TarStream:
    """A tar written front to back; each member's size is known before its data is written."""

    def __init__(self, sink: ByteSink, mtime: int) -> None:
        self._sink = sink
        self._mtime = mtime
        self._names: set[str] = set()
        self.bytes = 0

    def _write(self, data: bytes | memoryview) -> None:
        self._sink.write(data)
        self.bytes += len(data)

    def add(self, name: str, size: int, chunks: Iterable[bytes | memoryview]) -> str:
        """Add a regular file of exactly `size` bytes; returns its SHA-256 (hex)."""
        if name in self._names:
            raise ValueError(f"{name} is already in the bundle")
        self._names.add(name)
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = self._mtime
        info.mode = 0o600
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict"))
        digest = hashlib.sha256()
        written = 0
        for chunk in chunks:
            written += len(chunk)
            if written > size:
                raise BundleSizeError(f"{name} is longer than the {size} bytes announced")
            digest.update(chunk)
            self._write(chunk)
        if written != size:
            raise BundleSizeError(f"{name} is {written} bytes, not the {size} announced")
        if size % _TAR_BLOCK:
            self._write(b"\0" * (_TAR_BLOCK - size % _TAR_BLOCK))
        return digest.hexdigest()

    def close(self) -> None:
        """The end-of-archive blocks, padded to a whole record."""
        self._write(b"\0" * (2 * _TAR_BLOCK))
        if self.bytes % _TAR_RECORD:
            self._write(b"\0" * (_TAR_RECORD - self.bytes % _TAR_RECORD))


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return value


class _Utf8Into:
    """A text sink for csv.writer that appends UTF-8 to a bytearray."""

    def __init__(self, buffer: bytearray) -> None:
        self._buffer = buffer

    def write(self, text: str) -> int:
        """Append `text`."""
        self._buffer += text.encode("utf-8")
        return len(text)


class Table:
    """One table of a bundle, in parts of bounded size, as JSON lines and/or CSV.

    A JSONL row is written as the dict it is given (nested values allowed); a CSV row takes
    the table's columns in order (nested values as compact JSON). Part N of each format holds
    the same rows.
    """

    def __init__(
        self, bundle: BundleWriter, name: str, columns: Sequence[str], formats: Sequence[str]
    ) -> None:
        if not set(formats) <= {"jsonl", "csv"} or not formats:
            raise ValueError(f"unknown table formats {formats!r}")
        self._bundle = bundle
        self.name = name
        self.columns = tuple(columns)
        self.formats = tuple(formats)
        self.rows = 0
        self._parts = 0
        self._part_rows = 0
        self._buffers = {fmt: bytearray() for fmt in ("jsonl", "csv") if fmt in self.formats}
        csv_buffer = self._buffers.get("csv")
        self._csv = None if csv_buffer is None else csv.writer(_Utf8Into(csv_buffer))
        if self._csv is not None:
            self._csv.writerow(self.columns)

    def add(self, row: dict[str, Any]) -> None:
        """Append one row."""
        jsonl = self._buffers.get("jsonl")
        if jsonl is not None:  # bytearray += extends in place
            jsonl += json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
            jsonl += b"\n"
        if self._csv is not None:
            self._csv.writerow([_csv_cell(row.get(column)) for column in self.columns])
        self.rows += 1
        self._part_rows += 1
        if max(map(len, self._buffers.values())) >= self._bundle.part_bytes:
            self._flush()

    def _flush(self) -> None:
        self._parts += 1
        for fmt, buffer in self._buffers.items():
            path = f"data/{self.name}-{self._parts:04d}.{fmt}"
            with memoryview(buffer) as view:  # no copy of the part
                self._bundle.add_file(path, view, table=self.name, fmt=fmt, rows=self._part_rows)
            buffer.clear()
        self._part_rows = 0
        if self._csv is not None:
            self._csv.writerow(self.columns)

    def close(self) -> None:
        """Write the last part (an empty table still gets one, so its absence means nothing)."""
        if self._part_rows or not self._parts:
            self._flush()


class BundleWriter:
    """What a kind writes into: tables, files and notes for the manifest."""

    def __init__(self, tar: TarStream, part_bytes: int) -> None:
        self._tar = tar
        self.part_bytes = part_bytes
        self.files: list[dict[str, Any]] = []
        self.tables: dict[str, Table] = {}
        self.notes: dict[str, Any] = {}

    def table(self, name: str, columns: Sequence[str], formats: Sequence[str]) -> Table:
        """A new table (closed by the builder after the kind has written)."""
        if name in self.tables:
            raise ValueError(f"the table {name} exists already")
        table = Table(self, name, columns, formats)
        self.tables[name] = table
        return table

    def add_file(
        self,
        path: str,
        data: bytes | memoryview,
        *,
        table: str | None = None,
        fmt: str | None = None,
        rows: int | None = None,
    ) -> str:
        """A whole file held in memory (small, or one part)."""
        return self.add_stream(path, len(data), [data], table=table, fmt=fmt, rows=rows)

    def add_stream(
        self,
        path: str,
        size: int,
        chunks: Iterable[bytes | memoryview],
        *,
        table: str | None = None,
        fmt: str | None = None,
        rows: int | None = None,
    ) -> str:
        """A file streamed in chunks (media); its size must be known first."""
        digest = self._tar.add(path, size, chunks)
        self.files.append(
            {
                "path": path,
                "bytes": size,
                "sha256": digest,
                "table": table,
                "format": fmt,
                "rows": rows,
            }
        )
        return digest

    def close_tables(self) -> None:
        """Write every table's last part."""
        for table in self.tables.values():
            table.close()


class EncryptedFile:
    """`path` opened for the age ciphertext; removed again unless the stream completes."""

    def __init__(self, path: Path, age_recipient: str) -> None:
        self.path = path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._handle = os.fdopen(fd, "wb")
        self.file = _HashingFile(self._handle)
        try:
            self.stream = AgeStreamWriter(self.file, age_recipient)
        except BaseException:
            self._handle.close()
            path.unlink(missing_ok=True)
            raise

    def __enter__(self) -> EncryptedFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if error is None:
                self.stream.close()
                self._handle.flush()
                os.fsync(self._handle.fileno())
            else:
                self.stream.abort()
        except BaseException:
            self._handle.close()
            self.path.unlink(missing_ok=True)
            raise
        self._handle.close()
        if error is not None:
            self.path.unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
