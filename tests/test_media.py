"""Tests for inference.media on real media written with PyAV into tmp_path."""

from __future__ import annotations

import io
import json
import logging
import struct
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from inference.media import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MediaInfo,
    MediaTooLongError,
    NoMediaStreamsError,
    UnrecognisedMediaError,
    decode_audio_pcm,
    probe,
)
from tests.support.media_files import H264_OR_MPEG4, SECONDS, has_encoder, mux_all, write_media

MOV_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"
SPEECH_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_zh"


def write_raw_wav(path: Path, seconds: float, rate: int = 8000) -> None:
    """Write a mono s16 WAV directly (fast even for long durations)."""
    n = round(seconds * rate)
    header = b"RIFF" + struct.pack("<I", 36 + 2 * n) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
    header += b"data" + struct.pack("<I", 2 * n)
    tone = (np.sin(np.arange(n) * 2 * np.pi * 300 / rate) * 8000).astype("<i2")
    path.write_bytes(header + tone.tobytes())


@dataclass(frozen=True)
class Case:
    name: str
    suffix: str
    container: str
    audio: bool
    video: bool
    kwargs: dict[str, Any]


CASES = [
    Case("wav", ".wav", "wav", True, False, {"acodec": "pcm_s16le", "rate": 16000}),
    Case("flac", ".flac", "flac", True, False, {"acodec": "flac", "rate": 16000}),
    Case("ogg_opus", ".ogg", "ogg", True, False, {"acodec": "libopus"}),
    Case("webm", ".webm", "matroska,webm", True, True, {"vcodec": "libvpx", "acodec": "libopus"}),
    Case("mp4", ".mp4", MOV_FAMILY, True, True, {"vcodec": H264_OR_MPEG4, "acodec": "aac"}),
    Case("mov", ".mov", MOV_FAMILY, True, True, {"vcodec": H264_OR_MPEG4, "acodec": "aac"}),
    Case("m4a", ".m4a", MOV_FAMILY, True, False, {"acodec": "aac", "fmt": "ipod"}),
    # MPEG-TS timestamps do not start at zero: the duration must not include the offset.
    Case("mpegts", ".ts", "mpegts", True, True, {"vcodec": H264_OR_MPEG4, "acodec": "aac"}),
]


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All generated fixture files, written once per module."""
    root = tmp_path_factory.mktemp("media")
    for case in CASES:
        write_media(root / f"sample{case.suffix}", **case.kwargs)
    write_media(root / "video_only.mp4", vcodec=H264_OR_MPEG4)
    write_media(
        root / "faststart.mp4",
        vcodec=H264_OR_MPEG4,
        acodec="aac",
        options={"movflags": "faststart"},
    )
    return root


def _probe_via(kind: str, path: Path, **kwargs: Any) -> MediaInfo:
    """Probe `path` given as a path, an open file object or an in-memory io.BytesIO."""
    if kind == "path":
        return probe(path, **kwargs)
    if kind == "file":
        with open(path, "rb") as fh:
            info = probe(fh, **kwargs)
            assert not fh.closed  # the caller's file object is left open
            return info
    assert kind == "bytesio"
    return probe(io.BytesIO(path.read_bytes()), **kwargs)


@pytest.mark.parametrize("kind", ["path", "file", "bytesio"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_probe_formats(media_dir: Path, case: Case, kind: str) -> None:
    info = _probe_via(kind, media_dir / f"sample{case.suffix}")
    assert info.container == case.container
    assert info.has_audio is case.audio
    assert info.has_video is case.video
    assert info.duration_s == pytest.approx(SECONDS, abs=0.2)
    assert info.decoded_audio_s == pytest.approx(SECONDS, abs=0.2)
    assert info.audio_packets > 0
    assert (info.video_packets > 0) is case.video
    audio = next(s for s in info.streams if s.kind == "audio")
    assert audio.sample_rate == case.kwargs.get("rate", 48000)
    assert audio.channels == 1
    if case.video:
        video = next(s for s in info.streams if s.kind == "video")
        assert (video.width, video.height) == (96, 64)
        assert video.fps == pytest.approx(25.0)
    json.dumps(info.to_dict())


def test_codec_names(media_dir: Path) -> None:
    info = probe(media_dir / "sample.webm")
    assert sorted(s.codec for s in info.streams) == ["opus", "vp8"]
    info = probe(media_dir / "sample.mp4")
    video_codec = "h264" if H264_OR_MPEG4 == "libx264" else "mpeg4"
    assert sorted(s.codec for s in info.streams) == sorted(["aac", video_codec])


def test_video_only_is_fine(media_dir: Path) -> None:
    info = probe(media_dir / "video_only.mp4")
    assert info.has_video and not info.has_audio
    assert info.decoded_audio_s == 0
    assert info.audio_packets == 0
    assert info.duration_s == pytest.approx(SECONDS, abs=0.2)


def test_decode_audio_can_be_skipped(media_dir: Path) -> None:
    info = probe(media_dir / "sample.webm", decode_audio=False)
    assert info.decoded_audio_s == 0
    assert info.duration_s == pytest.approx(SECONDS, abs=0.2)


def test_file_object_position_is_respected(media_dir: Path) -> None:
    data = (media_dir / "sample.wav").read_bytes()
    buf = io.BytesIO(b"JUNK" * 8 + data)
    buf.seek(32)
    assert probe(buf).duration_s == pytest.approx(SECONDS, abs=0.2)


def test_cover_art_is_not_video(tmp_path: Path) -> None:
    if not has_encoder("libmp3lame"):
        pytest.skip("no MP3 encoder in this PyAV build")
    jpeg_buf = io.BytesIO()
    with av.open(jpeg_buf, "w", format="image2pipe") as pipe:
        still = pipe.add_stream("mjpeg", rate=1)
        still.width = still.height = 32
        still.pix_fmt = "yuvj420p"
        image = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        jpeg = bytes(next(iter(still.encode(image) + still.encode(None))))
    path = tmp_path / "cover.mp3"
    with av.open(str(path), "w") as out:
        audio = out.add_stream("libmp3lame", rate=44100)
        cover = out.add_stream("mjpeg", rate=1)
        cover.width = cover.height = 32
        cover.pix_fmt = "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        packet = av.Packet(jpeg)
        packet.stream, packet.pts, packet.dts = cover, 0, 0
        out.mux(packet)
        pcm = (np.sin(np.arange(44100) * 2 * np.pi * 440 / 44100) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm[None], format="s16", layout="mono")
        frame.sample_rate = 44100
        resampler = av.AudioResampler(format="s16p", layout="mono", rate=44100)
        for resampled in resampler.resample(frame) + resampler.resample(None):
            mux_all(out, audio.encode(resampled))
        mux_all(out, audio.encode(None))
    info = probe(path)
    assert info.has_audio and not info.has_video
    assert [s.codec for s in info.streams] == ["mp3"]
    assert info.duration_s == pytest.approx(1.0, abs=0.2)


# --- error cases -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["path", "file", "bytesio"])
def test_empty(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "empty.webm"
    path.write_bytes(b"")
    with pytest.raises(EmptyMediaError) as err:
        _probe_via(kind, path)
    assert err.value.code == "empty"


@pytest.mark.parametrize("kind", ["path", "bytesio"])
def test_random_bytes_are_unrecognised(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(1234).bytes(64 * 1024))
    with pytest.raises(UnrecognisedMediaError) as err:
        _probe_via(kind, path)
    assert err.value.code == "unrecognised"
    assert str(err.value) == "the file is not a recognised audio or video format"


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".m4a"])
def test_truncated_mp4_is_corrupt(media_dir: Path, tmp_path: Path, suffix: str) -> None:
    # Index at the end (FFmpeg's default): av.open raises InvalidDataError ("moov atom not
    # found"), the same class as for random bytes; the ftyp header tells them apart.
    data = (media_dir / f"sample{suffix}").read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError) as err:
        probe(cut)
    assert err.value.code == "corrupt"
    message = str(err.value)
    assert message.startswith("the media is damaged or truncated: ")
    assert "moov" in message
    assert str(tmp_path) not in message and "cut" not in message.split(":")[0]


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_faststart_mp4_is_corrupt(media_dir: Path, fraction: float) -> None:
    # Index first: opens fine, then the cut packet is flagged corrupt / fails to decode.
    data = (media_dir / "faststart.mp4").read_bytes()
    with pytest.raises(CorruptMediaError):
        probe(io.BytesIO(data[: int(len(data) * fraction)]))


def test_mp4_cut_inside_header_is_corrupt(media_dir: Path) -> None:
    # PyAV opens this with zero streams; an MP4 without tracks is a damaged MP4.
    data = (media_dir / "faststart.mp4").read_bytes()
    with pytest.raises(CorruptMediaError):
        probe(io.BytesIO(data[:100]))


@pytest.mark.parametrize(
    ("suffix", "fraction"), [(".flac", 0.5), (".flac", 0.05), (".ogg", 0.05), (".webm", 0.002)]
)
def test_other_damaged_headers_and_frames(media_dir: Path, suffix: str, fraction: float) -> None:
    # FLAC cut mid-frame fails to decode; cut inside the header (FLAC/Ogg: av.error.EOFError,
    # WebM: av.error.OSError on open) is recognised by its magic bytes.
    data = (media_dir / f"sample{suffix}").read_bytes()
    with pytest.raises(CorruptMediaError):
        probe(io.BytesIO(data[: max(64, int(len(data) * fraction))]))


def test_truncated_wav_probes_shorter(media_dir: Path) -> None:
    # A WAV cut mid-way is still valid PCM up to the cut: PyAV raises nothing, FFmpeg derives
    # the duration from the file size and only the last (short) packet is flagged incomplete,
    # which loses nothing for PCM.  So the right answer is "usable, but shorter".
    data = (media_dir / "sample.wav").read_bytes()
    info = probe(io.BytesIO(data[: len(data) // 2]))
    assert info.duration_s == pytest.approx(SECONDS / 2, abs=0.05)
    assert info.decoded_audio_s == pytest.approx(SECONDS / 2, abs=0.05)


def test_truncated_webm_probes_shorter_than_declared(media_dir: Path) -> None:
    # Matroska cut mid-way: no error at all; only the header duration reveals the loss.
    data = (media_dir / "sample.webm").read_bytes()
    info = probe(io.BytesIO(data[: len(data) // 2]))
    assert info.declared_duration_s == pytest.approx(SECONDS, abs=0.05)
    assert info.duration_s < SECONDS * 0.75


def test_no_streams(media_dir: Path) -> None:
    # An SRT subtitle file is a container FFmpeg knows, with a subtitle stream only.
    srt = b"1\n00:00:00,000 --> 00:00:01,000\nhello\n\n2\n00:00:01,500 --> 00:00:02,000\nbye\n\n"
    with pytest.raises(NoMediaStreamsError) as err:
        probe(io.BytesIO(srt))
    assert err.value.code == "no_streams"


def test_too_long_from_header(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    write_raw_wav(path, 30.0)
    with pytest.raises(MediaTooLongError) as err:
        probe(path, max_duration_s=5)
    assert err.value.code == "too_long"
    assert "5 seconds" in str(err.value)
    assert probe(path, max_duration_s=31).duration_s == pytest.approx(30.0, abs=0.01)


class CountingReader(io.RawIOBase):
    """A seekable reader that counts bytes handed out, like the decrypting reader will be."""

    def __init__(self, data: bytes, fail_at: int | None = None) -> None:
        self._buf = io.BytesIO(data)
        self.bytes_read = 0
        self._fail_at = fail_at

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._fail_at is not None and self._buf.tell() >= self._fail_at:
            raise ValueError("authentication tag mismatch")
        chunk = self._buf.read(size)
        self.bytes_read += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._buf.seek(offset, whence)

    def tell(self) -> int:
        return self._buf.tell()


def test_too_long_while_demuxing_stops_early(tmp_path: Path) -> None:
    # A live WebM (as browsers record) declares no duration: the running pts must trip it.
    path = tmp_path / "live.webm"
    write_media(path, acodec="libopus", seconds=20.0, options={"live": "1"})
    data = path.read_bytes()
    with av.open(str(path)) as container:
        assert container.duration is None
    reader = CountingReader(data)
    with pytest.raises(MediaTooLongError):
        probe(reader, max_duration_s=3)
    assert reader.bytes_read < len(data) / 2
    assert probe(io.BytesIO(data), max_duration_s=25).duration_s == pytest.approx(20, abs=0.2)


def test_bad_limit_is_rejected(media_dir: Path) -> None:
    with pytest.raises(ValueError, match="max_duration_s"):
        probe(media_dir / "sample.wav", max_duration_s=0)


@pytest.mark.parametrize("fail_at", [0, 4096])
def test_reader_errors_pass_through(media_dir: Path, fail_at: int) -> None:
    # A decryption failure is not "corrupt media": the caller's own exception must surface.
    data = (media_dir / "sample.webm").read_bytes()
    with pytest.raises(ValueError, match="authentication tag mismatch") as err:
        probe(CountingReader(data, fail_at=fail_at))
    assert not isinstance(err.value, MediaError)


def test_missing_path_is_not_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "nope.wav")


def test_logs_never_name_the_file(
    media_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = (media_dir / "sample.webm").read_bytes()
    secret = tmp_path / "candidate_jane_doe.webm"
    secret.write_bytes(data[: len(data) // 2])
    broken = tmp_path / "candidate_john_roe.mp4"
    broken.write_bytes((media_dir / "sample.mp4").read_bytes()[:5000])
    with caplog.at_level(logging.DEBUG, logger="inference.media"):
        probe(secret)
        with pytest.raises(CorruptMediaError) as err:
            probe(broken)
    assert any("truncated" in r.getMessage() for r in caplog.records)
    for text in [r.getMessage() for r in caplog.records] + [str(err.value)]:
        assert "candidate" not in text


# --- PCM decoding ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sample.wav", "sample.ogg", "sample.mp4", "sample.webm"])
def test_decode_audio_pcm_length(media_dir: Path, name: str) -> None:
    chunks = list(decode_audio_pcm(media_dir / name, chunk_samples=4000))
    total = sum(len(c) for c in chunks)
    assert total == pytest.approx(SECONDS * 16000 * 2, rel=0.01)
    assert all(len(c) == 8000 for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= 8000
    samples = np.frombuffer(b"".join(chunks), dtype="<i2")
    assert 0.1 < np.abs(samples).max() / 32767 < 0.5  # the 0.3 tone survived


def test_decode_audio_pcm_from_file_object(media_dir: Path) -> None:
    with open(media_dir / "sample.m4a", "rb") as fh:
        total = sum(len(c) for c in decode_audio_pcm(fh, sample_rate=8000))
    assert total == pytest.approx(SECONDS * 8000 * 2, rel=0.01)


def test_decode_audio_pcm_errors(media_dir: Path) -> None:
    with pytest.raises(ValueError):
        decode_audio_pcm(media_dir / "sample.wav", sample_rate=0)
    with pytest.raises(NoMediaStreamsError):
        next(decode_audio_pcm(media_dir / "video_only.mp4"))
    with pytest.raises(EmptyMediaError):
        next(decode_audio_pcm(io.BytesIO()))
    data = (media_dir / "sample.flac").read_bytes()
    with pytest.raises(CorruptMediaError):
        list(decode_audio_pcm(io.BytesIO(data[: len(data) // 2])))


def test_decode_audio_pcm_stops_cleanly(media_dir: Path) -> None:
    gen = decode_audio_pcm(media_dir / "sample.webm")
    assert isinstance(gen, Generator)
    assert len(next(gen)) == 32000
    gen.close()  # closes the container without decoding the rest


# --- real Mandarin recordings (shared data, optional) -----------------------------------------


def _speech_files() -> list[Path]:
    if not SPEECH_DIR.is_dir():
        return []
    return sorted([*SPEECH_DIR.glob("*.wav"), *SPEECH_DIR.glob("*.flac")])


@pytest.mark.parametrize("index", range(2))
def test_real_speech(index: int) -> None:
    files = _speech_files()
    if index >= len(files):
        pytest.skip(f"shared speech samples not present in {SPEECH_DIR}")
    path = files[index]
    info = probe(path)
    assert info.has_audio and not info.has_video
    # The AISHELL WAV lasts 4.2 s (16 kHz); the SpeechRecognition FLAC only 0.96 s and is
    # 48 kHz mono despite SOURCES.md saying 16 kHz -- so "longer than 1 s" is too strict.
    assert info.duration_s > 0.5
    assert info.duration_s == pytest.approx(info.declared_duration_s, abs=0.05)
    audio = info.streams[0]
    assert audio.sample_rate is not None and audio.sample_rate > 0
    assert info.decoded_audio_s == pytest.approx(info.duration_s, abs=0.1)
    total = sum(len(c) for c in decode_audio_pcm(path))
    assert total == pytest.approx(info.decoded_audio_s * 16000 * 2, rel=0.01)


def test_mp4_cut_exactly_between_two_packets_is_corrupt(media_dir: Path) -> None:
    """A cut that falls on a packet boundary decodes without an error: the index still says
    how long the media was, and the file holds less."""
    data = (media_dir / "faststart.mp4").read_bytes()
    with av.open(io.BytesIO(data)) as container:
        positions = sorted(
            packet.pos for packet in container.demux() if packet.pos is not None and packet.pos > 0
        )
    boundary = positions[len(positions) // 2]
    with pytest.raises(CorruptMediaError, match="index declares"):
        probe(io.BytesIO(data[:boundary]))
