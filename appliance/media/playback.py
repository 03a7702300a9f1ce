"""Playing a stored recording back to a person: one byte range of its plaintext at a time.

The spool file is decrypted chunk by chunk in memory while it is sent (nothing in clear ever
reaches the disk), for a viewer whose scope reaches the recording's interview and only while
the candidate is not (being) erased. Starting a playback is a read of the candidate's data and
goes into the audit log; the seeks that follow it are not logged again.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.media.spool import Spool, SpoolFileReader
from appliance.platform.errors import NotFoundError, RefusedError, SpoolIntegrityError
from appliance.store import Store
from appliance.store.erasures import ErasureRepository

if TYPE_CHECKING:  # the caller works the visibility out; media needs only its type
    from appliance.security.permissions import Visibility

# One piece of the response: small enough to start playing at once, large enough to be cheap.
SEND_BLOCK = 256 << 10
# A single range of the form `bytes=first-last`, `bytes=first-` or `bytes=-suffix`. Several
# ranges (multipart answers) are not served: players never ask for them.
_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})", re.ASCII | re.IGNORECASE)
# Only audio and video types are echoed: the stored type came from the uploading client, and
# `text/html` from our own origin would be a page, not a recording.
_MEDIA_TYPE = re.compile(r"(audio|video)/[a-z0-9][a-z0-9.+-]{0,63}", re.ASCII)
FALLBACK_TYPE = "application/octet-stream"


class RecordingErasedError(NotFoundError):
    """The recording's candidate is erased (or being erased): it no longer plays."""


class RangeNotSatisfiableError(RefusedError):
    """The Range header is malformed, asks for several ranges, or lies outside the file."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the range cannot be served from a recording of {size} bytes")
        self.size = size


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `end` of the plaintext, both included."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """How many bytes the range holds."""
        return self.end - self.start + 1


def requested_range(header: str | None, size: int) -> ByteRange | None:
    """The part a Range header asks for: None for the whole file, else one satisfiable range.

    RangeNotSatisfiableError for a malformed header, several ranges, another unit, or a range
    that starts past the end (RFC 9110 section 14.1.2; a `last` past the end is cut to it).
    """
    if header is None or not header.strip():
        return None
    found = _RANGE.fullmatch(header.strip())
    if found is None or size <= 0:
        raise RangeNotSatisfiableError(size)
    first, last = found.groups()
    if first:
        start = int(first)
        end = int(last) if last else size - 1
        if end < start or start >= size:
            raise RangeNotSatisfiableError(size)
        return ByteRange(start, min(end, size - 1))
    if not last or int(last) == 0:  # `bytes=-` and a suffix of nothing
        raise RangeNotSatisfiableError(size)
    return ByteRange(max(0, size - int(last)), size - 1)


def playback_type(content_type: str, display_name: str) -> str:
    """The media type to send: the recording's own when it names audio or video, else a guess
    from the file name's extension, else `application/octet-stream`."""
    stored = (content_type or "").split(";", 1)[0].strip().lower()
    if _MEDIA_TYPE.fullmatch(stored):
        return stored
    guessed = (mimetypes.guess_type(display_name or "")[0] or "").lower()
    return guessed if _MEDIA_TYPE.fullmatch(guessed) else FALLBACK_TYPE


class MediaStream:
    """The plaintext of one range, decrypted block by block as it is sent.

    The WSGI server iterates it once and then calls `close()` (also when the viewer went away
    half-way, or for a HEAD request that never iterates): the spool file is closed either way.
    """

    def __init__(self, reader: SpoolFileReader, start: int, length: int) -> None:
        self._reader = reader
        self._start = start
        self._length = length

    def __iter__(self) -> Iterator[bytes]:
        try:
            self._reader.seek(self._start)
            left = self._length
            while left > 0:
                block = self._reader.read(min(SEND_BLOCK, left))
                if not block:
                    raise SpoolIntegrityError("a spool file ended before its recorded size")
                left -= len(block)
                yield block
        finally:
            self.close()

    def close(self) -> None:
        """Close the spool file (and drop the decrypted chunk it caches)."""
        self._reader.close()


@dataclass
class Playback:
    """An opened recording: what to send for one request, and the stream that sends it."""

    recording_id: int
    content_type: str
    size: int
    part: ByteRange | None
    stream: MediaStream

    @property
    def length(self) -> int:
        """How many bytes this response carries."""
        return self.part.length if self.part is not None else self.size

    def content_range(self) -> str | None:
        """The Content-Range header of a partial answer (None when the whole file is sent)."""
        if self.part is None:
            return None
        return f"bytes {self.part.start}-{self.part.end}/{self.size}"


def starts_playback(part: ByteRange | None) -> bool:
    """Whether a request begins a playback (whole file, or from byte 0) rather than seeking."""
    return part is None or part.start == 0


def open_playback(
    store: Store,
    spool: Spool,
    visibility: Visibility,
    recording_id: int,
    range_header: str | None,
    *,
    actor: str,
) -> Playback:
    """Open a recording for `actor` to play, as far as `range_header` asks.

    `visibility` is the viewer's scope for viewing reports: a recording of an interview outside
    it is NotFoundError, like a missing one. RecordingErasedError once its candidate's erasure
    has begun; RangeNotSatisfiableError (with the file's size) for a range that cannot be served.
    The start of a playback is logged as a read of the candidate's data (ALL-3).
    """
    recording = store.recordings.get(recording_id)
    store.interviews.get_visible(recording.interview_id, visibility)
    candidate = store.candidates.get(recording.candidate_id)
    # The tombstone is written before the key is shredded: an interrupted erasure counts too.
    if candidate.erased or ErasureRepository(store).for_candidate(candidate.id) is not None:
        raise RecordingErasedError(f"recording {recording_id} belongs to an erased candidate")
    try:
        key = store.vault.key_for(candidate.pseudonym)
    except NotFoundError:
        raise RecordingErasedError(f"recording {recording_id} can no longer be decrypted") from None
    reader = spool.open(recording.spool_name, recording.wrapped_data_key, key)
    try:
        part = requested_range(range_header, reader.size)
        if starts_playback(part):
            with store.audited(
                actor,
                "candidate.read",
                subject=candidate.pseudonym,
                what=f"recording-media:{recording.id}",
            ):
                pass
    except BaseException:
        reader.close()
        raise
    start, length = (part.start, part.length) if part is not None else (0, reader.size)
    return Playback(
        recording.id,
        playback_type(recording.content_type, recording.display_name),
        reader.size,
        part,
        MediaStream(reader, start, length),
    )


__all__ = [
    "ByteRange",
    "MediaStream",
    "Playback",
    "RangeNotSatisfiableError",
    "RecordingErasedError",
    "open_playback",
    "playback_type",
    "requested_range",
    "starts_playback",
]
