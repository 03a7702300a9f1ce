"""Media probing and audio decoding with PyAV (no database access, no imports from `appliance`).

`probe()` opens an uploaded recording, reads every packet once (streaming, bounded memory: only
counters are kept), decodes the first audio stream to prove it is usable and describes the
result.  `decode_audio_pcm()` streams the first audio stream as 16 kHz mono s16le PCM for speech
recognition.  Both accept a path or a seekable binary file object (for example one that
decrypts a stored file on the fly) and map every PyAV failure onto the `MediaError` family.

What PyAV 18.1 (bundled FFmpeg) actually does with damaged input -- measured on files written
with PyAV itself, cut to 10 %, 50 % and 90 % of their size or to their first 100 bytes, both
from a path and from a file object (the behaviour is the same for both):

* random bytes (64 KiB), text, zeros: `av.open` raises `av.error.InvalidDataError`; a few
  hundred random bytes sometimes raise `av.error.EOFError` instead (a demuxer half-matched).
* MP4/MOV/M4A with the index at the end (the FFmpeg default, no `faststart`) cut anywhere:
  `av.open` raises `InvalidDataError` ("moov atom not found") -- exactly what random bytes
  raise.  The only way to tell them apart is the file header, so on an open failure we sniff
  the first bytes (`ftyp`/`moov`/`mdat`... box, EBML, RIFF, fLaC, OggS, ID3, ...): a recognised
  signature means "corrupt", anything else means "unrecognised".
* MP4 with `faststart` (index first) cut mid-way: opens fine; demuxing yields a short last
  packet flagged `is_corrupt` and decoding it raises `InvalidDataError` from
  `avcodec_send_packet()`.  Cut early (10 %) demuxing simply stops without any error after a
  packet flagged `is_corrupt`, so such packets are treated as damage.  Cut to 100 bytes it
  opens with *zero* streams, which we report as corrupt too (an MP4 always has tracks).
* WebM/Matroska cut mid-way: no error at all, demuxing stops at the last complete block and the
  measured duration is shorter than the one in the header.  Cut inside the header (100 bytes):
  `av.open` raises `av.error.OSError` (EIO).  Truncation is therefore only visible by comparing
  `MediaInfo.duration_s` with `MediaInfo.declared_duration_s`; we do not raise on that because
  the header duration is not authoritative for every format (estimated from bit rate when the
  muxer wrote none).
* WAV cut mid-way: no error; FFmpeg derives the duration from the file size, the last packet is
  short and flagged `is_corrupt`.  For PCM a short packet loses nothing but the missing tail,
  so the file probes fine with the shorter duration (the flag is ignored for `pcm_*` codecs).
* FLAC cut mid-way: opens, the last frame is partial and decoding raises `InvalidDataError`
  (`avcodec_send_packet()`).  Cut inside the header: `av.open` raises `av.error.EOFError`.
* Ogg/Opus cut mid-way: no error, the partial page is dropped and both the header-derived and
  the measured duration are shorter.  Cut inside the header: `av.open` raises `EOFError`.
* Garbage written over the middle of a file: MP4/FLAC decoding raises `InvalidDataError`; WAV
  decodes the garbage as (noisy) PCM; Ogg resynchronises on the next page; WebM silently stops.
* An exception raised by the caller's file object (say a failed authentication tag) is stored
  by PyAV and re-raised unchanged; we pass it through rather than calling the media corrupt.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Protocol, TypeAlias

import av
import av.error

logger = logging.getLogger(__name__)


class SeekableReader(Protocol):
    """A seekable binary reader: an open file, io.BytesIO, an io.RawIOBase (decrypting) reader."""

    def read(self, size: int = -1, /) -> bytes | None:
        """Return up to `size` bytes (b"" at the end)."""

    def seek(self, offset: int, whence: int = 0, /) -> int:
        """Move to `offset` relative to `whence` and return the new position."""

    def tell(self) -> int:
        """Return the current position."""

    def seekable(self) -> bool:
        """Return whether seek() works."""


MediaSource: TypeAlias = str | os.PathLike[str] | BinaryIO | SeekableReader

# What PyAV raises for unreadable data: FFmpegError covers InvalidDataError, av.error.EOFError,
# av.error.OSError...; a plain ValueError is what PyAV raises for e.g. inconsistent frames.
_AV_ERRORS: tuple[type[BaseException], ...] = (av.error.FFmpegError, ValueError, EOFError)
# Errors about the path itself are the caller's problem, not a property of the media.
_PATH_ERRORS: tuple[type[BaseException], ...] = (
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)
_HEAD_BYTES = 64
_ISO_BMFF_BOXES = frozenset(
    {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"styp", b"uuid"}
)
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_MP4_FAMILY = "MP4/MOV"


class MediaError(Exception):
    """Base class: the media could not be used; `code` is a stable machine-readable slug."""

    code: ClassVar[str] = "media_error"


class EmptyMediaError(MediaError):
    """The file holds zero bytes."""

    code: ClassVar[str] = "empty"


class UnrecognisedMediaError(MediaError):
    """The bytes are not a container format FFmpeg knows."""

    code: ClassVar[str] = "unrecognised"


class CorruptMediaError(MediaError):
    """The container was recognised but is truncated or damaged."""

    code: ClassVar[str] = "corrupt"


class NoMediaStreamsError(MediaError):
    """The container holds no audio and no video stream (or no audio where audio is needed)."""

    code: ClassVar[str] = "no_streams"


class MediaTooLongError(MediaError):
    """The media lasts longer than the allowed maximum."""

    code: ClassVar[str] = "too_long"


class UnsupportedCodecError(MediaError):
    """The audio codec is recognised but no decoder for it is built into this box."""

    code: ClassVar[str] = "unsupported_codec"


@dataclass(frozen=True)
class StreamInfo:
    """One audio or video stream of a probed file."""

    index: int
    kind: str  # "audio" | "video"
    codec: str
    duration_s: float | None
    sample_rate: int | None = None
    channels: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None


@dataclass(frozen=True)
class MediaInfo:
    """What `probe()` found out about a file."""

    container: str
    duration_s: float
    streams: tuple[StreamInfo, ...]
    audio_packets: int
    video_packets: int
    decoded_audio_s: float
    declared_duration_s: float | None = None  # what the container header claims, if anything

    @property
    def has_audio(self) -> bool:
        """Whether the file has at least one audio stream."""
        return any(s.kind == "audio" for s in self.streams)

    @property
    def has_video(self) -> bool:
        """Whether the file has at least one video stream (cover art does not count)."""
        return any(s.kind == "video" for s in self.streams)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable description."""
        return {
            "container": self.container,
            "duration_s": self.duration_s,
            "declared_duration_s": self.declared_duration_s,
            "streams": [asdict(s) for s in self.streams],
            "audio_packets": self.audio_packets,
            "video_packets": self.video_packets,
            "decoded_audio_s": self.decoded_audio_s,
            "has_audio": self.has_audio,
            "has_video": self.has_video,
        }


class _GuardedReader:
    """Wraps the caller's file object and remembers the first exception it raised."""

    def __init__(self, raw: BinaryIO | SeekableReader) -> None:
        self._raw = raw
        self.error: Exception | None = None

    def _remember(self, exc: Exception) -> None:
        if self.error is None:
            self.error = exc

    def read(self, size: int = -1) -> bytes:
        if self.error is not None:
            return b""  # already failed: let FFmpeg see EOF, the stored error wins afterwards
        try:
            return self._raw.read(size) or b""  # a RawIOBase may return None
        except Exception as exc:
            self._remember(exc)
            raise

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        try:
            return self._raw.seek(offset, whence)
        except Exception as exc:
            self._remember(exc)
            raise

    def tell(self) -> int:
        try:
            return self._raw.tell()
        except Exception as exc:
            self._remember(exc)
            raise

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self._raw.seekable())


def _sniff_family(head: bytes) -> str | None:
    """Name the container family a file header belongs to, or None if it is unknown."""
    if len(head) >= 8 and head[4:8] in _ISO_BMFF_BOXES:
        return _MP4_FAMILY
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "WebM/Matroska"
    if head[:4] in (b"RIFF", b"RF64", b"BW64"):
        return {b"WAVE": "WAV", b"AVI ": "AVI"}.get(head[8:12], "RIFF")
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    for magic, family in (
        (b"fLaC", "FLAC"),
        (b"OggS", "Ogg"),
        (b"ID3", "MP3"),
        (b"#!AMR", "AMR"),
        (b"caff", "CAF"),
        (_ASF_GUID, "ASF/WMA/WMV"),
    ):
        if head.startswith(magic):
            return family
    return None


def sniff_media_family(head: bytes) -> str | None:
    """The audio/video container family that the first bytes of a file announce, or None."""
    family = _sniff_family(head)
    if family is not None:
        return family
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "MPEG-TS"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "MPEG audio"
    return None


def _read_head(source: MediaSource, start: int) -> bytes:
    """Read the first bytes of the media without disturbing a file object's position."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            return fh.read(_HEAD_BYTES)
    source.seek(start)
    try:
        return source.read(_HEAD_BYTES) or b""
    finally:
        source.seek(start)


def _reason(exc: BaseException) -> str:
    """A short human reason for a PyAV exception, without file names."""
    text = getattr(exc, "strerror", None) if isinstance(exc, av.error.FFmpegError) else None
    if not text:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = text.strip().rstrip(".")[:120]
    return text[:1].lower() + text[1:]


def _corrupt(reason: str) -> CorruptMediaError:
    return CorruptMediaError(f"the media is damaged or truncated: {reason}")


def _open_failure(family: str) -> CorruptMediaError:
    if family == _MP4_FAMILY:
        return _corrupt(
            "the MP4/MOV index (moov atom) is missing or incomplete; the recording was "
            "probably cut off before it was finalised"
        )
    return _corrupt(f"the {family} header is incomplete or unreadable")


@contextmanager
def _opened(source: MediaSource) -> Iterator[av.container.InputContainer]:
    """Open `source` with PyAV, map every failure onto MediaError and always close it."""
    guard: _GuardedReader | None = None
    start = 0
    if isinstance(source, (str, os.PathLike)):
        target: Any = os.fspath(source)
        if Path(target).stat().st_size == 0:
            raise EmptyMediaError("the file is empty")
    else:
        if source.seekable():
            start = source.tell()
            source.seek(0, os.SEEK_END)
            end = source.tell()
            source.seek(start)
            if end <= start:
                raise EmptyMediaError("the file is empty")
        guard = target = _GuardedReader(source)

    try:
        container = av.open(target, mode="r", format=None)
    except _PATH_ERRORS:
        raise
    except _AV_ERRORS as exc:
        if guard is not None and guard.error is not None:
            raise guard.error from None
        logger.debug("media open failed: %s (%s)", type(exc).__name__, _reason(exc))
        family = _sniff_family(_read_head(source, start))
        if family is None:
            raise UnrecognisedMediaError(
                "the file is not a recognised audio or video format"
            ) from None
        raise _open_failure(family) from None

    with container:
        try:
            yield container
        except _AV_ERRORS as exc:
            if guard is not None and guard.error is not None:
                raise guard.error from None
            logger.debug("media read failed: %s (%s)", type(exc).__name__, _reason(exc))
            raise _corrupt(_reason(exc)) from None


def _is_attached_picture(stream: Any) -> bool:
    """Cover art (an embedded JPEG/PNG) shows up as a one-frame video stream; it is not video."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _media_streams(container: av.container.InputContainer) -> list[Any]:
    return [
        s for s in container.streams if s.type in ("audio", "video") and not _is_attached_picture(s)
    ]


def _codec_name(stream: Any) -> str:
    # The canonical codec name ("mp3"), not the decoder's ("mp3float").
    ctx = stream.codec_context
    return str(ctx.codec.canonical_name) if ctx is not None else "unknown"


def _check_damaged_packet(packet: Any, codec: str) -> None:
    # The demuxer flags a packet it could only read partly (file cut inside it).  For PCM that
    # is just a shorter tail; for compressed codecs the frame is broken.
    if packet.is_corrupt and not codec.startswith("pcm_"):
        raise _corrupt("an incomplete or damaged packet was found")


def _too_long(limit_s: float) -> MediaTooLongError:
    return MediaTooLongError(f"the media is longer than the limit of {limit_s:g} seconds")


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def _span(first: float, last: float) -> float:
    # Timestamps before zero are encoder pre-roll (AAC priming, Opus pre-skip) that decoders
    # drop; a positive start (MPEG-TS clocks, trimmed edits) is an offset, not content.
    return max(0.0, last - max(first, 0.0))


class _Track:
    """Running per-stream counters while demuxing."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.codec = _codec_name(stream)
        self.first: float = math.inf
        self.last: float = -math.inf
        self.packets = 0

    def info(self) -> StreamInfo:
        s = self.stream
        ctx = s.codec_context
        if self.last > self.first:
            duration: float | None = _span(self.first, self.last)
        elif s.duration is not None and s.time_base is not None:
            duration = _seconds(s.duration * s.time_base)
        else:
            duration = None
        if s.type == "audio":
            return StreamInfo(
                index=s.index,
                kind="audio",
                codec=self.codec,
                duration_s=duration,
                sample_rate=(ctx.sample_rate or None) if ctx is not None else None,
                channels=(ctx.channels or None) if ctx is not None else None,
            )
        rate = s.average_rate or s.guessed_rate
        return StreamInfo(
            index=s.index,
            kind="video",
            codec=self.codec,
            duration_s=duration,
            width=(ctx.width or None) if ctx is not None else None,
            height=(ctx.height or None) if ctx is not None else None,
            fps=_seconds(rate) if rate else None,
        )


def _validate_limit(max_duration_s: float | None) -> None:
    if max_duration_s is not None and not (max_duration_s > 0 and math.isfinite(max_duration_s)):
        raise ValueError("max_duration_s must be a positive number of seconds")


def probe(
    source: MediaSource,
    *,
    max_duration_s: float | None = None,
    decode_audio: bool = True,
) -> MediaInfo:
    """Read every packet (bounded memory), decode the first audio stream and describe the media."""
    _validate_limit(max_duration_s)
    with _opened(source) as container:
        streams = _media_streams(container)
        if not streams:
            if len(container.streams) == 0 and container.format.name.startswith("mov"):
                raise _open_failure(_MP4_FAMILY)
            raise NoMediaStreamsError("the file contains no audio or video")

        declared = _seconds(container.duration / 1_000_000) if container.duration else None
        if max_duration_s is not None and declared is not None and declared > max_duration_s:
            raise _too_long(max_duration_s)

        tracks = {s.index: _Track(s) for s in streams}
        audio = next((s for s in streams if s.type == "audio"), None)
        decoding = decode_audio and audio is not None
        if decoding and audio is not None and audio.codec_context is None:
            raise UnsupportedCodecError("the audio codec is not supported")
        start, end = math.inf, -math.inf
        decoded_s = 0.0

        for packet in container.demux():
            track = tracks.get(packet.stream.index)
            if track is None:
                continue
            if packet.size:
                _check_damaged_packet(packet, track.codec)
                track.packets += 1
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is not None and packet.time_base is not None:
                    t0 = float(ts * packet.time_base)
                    t1 = t0 + float((packet.duration or 0) * packet.time_base)
                    track.first = min(track.first, t0)
                    track.last = max(track.last, t1)
                    start, end = min(start, t0), max(end, t1)
                    if max_duration_s is not None and _span(start, end) > max_duration_s:
                        raise _too_long(max_duration_s)
            # Zero-size packets are PyAV's end-of-stream markers; decoding them flushes.
            if decoding and audio is not None and packet.stream.index == audio.index:
                for frame in packet.decode():
                    if isinstance(frame, av.AudioFrame) and frame.sample_rate:
                        decoded_s += frame.samples / frame.sample_rate

        duration = _span(start, end) if end > start else (declared or 0.0)
        info = MediaInfo(
            container=container.format.name,
            duration_s=duration,
            streams=tuple(tracks[s.index].info() for s in streams),
            audio_packets=sum(t.packets for t in tracks.values() if t.stream.type == "audio"),
            video_packets=sum(t.packets for t in tracks.values() if t.stream.type == "video"),
            decoded_audio_s=decoded_s,
            declared_duration_s=declared,
        )
    indexed = info.container.startswith("mov")
    if indexed and declared is not None and duration < declared - max(0.5, 0.05 * declared):
        # An MP4/MOV index is written whole before (faststart) or after the media: when it
        # promises more than the file holds, the file was cut, wherever the cut fell (even
        # exactly between two packets, which decodes without an error). Edit lists and
        # encoder priming account for far less than half a second.
        raise _corrupt(
            f"the file holds {duration:.1f} s of the {declared:.1f} s its index declares"
        )
    if declared is not None and duration < declared - max(1.0, 0.05 * declared):
        logger.warning(
            "media may be truncated: measured %.1f s, header declares %.1f s", duration, declared
        )
    logger.debug(
        "probed media: format=%s duration=%.2fs audio=%s video=%s decoded_audio=%.2fs",
        info.container,
        info.duration_s,
        info.has_audio,
        info.has_video,
        info.decoded_audio_s,
    )
    return info


def decode_audio_pcm(
    source: MediaSource,
    *,
    sample_rate: int = 16000,
    chunk_samples: int = 16000,
) -> Iterator[bytes]:
    """Yield the first audio stream as s16le mono PCM at `sample_rate`, `chunk_samples` a chunk."""
    if sample_rate <= 0 or chunk_samples <= 0:
        raise ValueError("sample_rate and chunk_samples must be positive")
    # Arguments are checked now; the media is opened (and its errors raised) on first iteration.
    return _pcm_chunks(source, sample_rate, chunk_samples)


def _pcm_chunks(source: MediaSource, sample_rate: int, chunk_samples: int) -> Iterator[bytes]:
    chunk_bytes = chunk_samples * 2
    with _opened(source) as container:
        audio = next((s for s in _media_streams(container) if s.type == "audio"), None)
        if audio is None:
            raise NoMediaStreamsError("the media has no audio stream")
        if audio.codec_context is None:
            raise UnsupportedCodecError("the audio codec is not supported")
        codec = _codec_name(audio)
        buf = bytearray()
        resampler: av.AudioResampler | None = None
        setup: tuple[str, str, int] | None = None

        def drain(frames: list[av.AudioFrame]) -> None:
            for out in frames:
                buf.extend(out.to_ndarray().astype("<i2", copy=False).tobytes())

        for packet in container.demux(audio):
            if packet.size:
                _check_damaged_packet(packet, codec)
            for frame in packet.decode():
                frame_setup = (frame.format.name, frame.layout.name, frame.sample_rate)
                if resampler is None or frame_setup != setup:
                    # The input format may change mid-stream; a resampler cannot follow that.
                    if resampler is not None:
                        drain(resampler.resample(None))
                    resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
                    setup = frame_setup
                drain(resampler.resample(frame))
                while len(buf) >= chunk_bytes:
                    yield bytes(buf[:chunk_bytes])
                    del buf[:chunk_bytes]
        if resampler is not None:
            drain(resampler.resample(None))
        while len(buf) >= chunk_bytes:
            yield bytes(buf[:chunk_bytes])
            del buf[:chunk_bytes]
        if buf:
            yield bytes(buf)
