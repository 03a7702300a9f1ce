"""Real speech through every container/codec a browser or phone produces, and a two-hour
recording decoded in bounded memory (item 2 of issue 4, the audio side)."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
import psutil
import pytest

from inference.media import CorruptMediaError, MediaSource, decode_audio_pcm, probe
from tests.support.speech_packs import LIBRIVOX, encode_speech

CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
SAMPLE_RATE = 16000

# (file name, encoder, muxer or None from the suffix, sample rate): what browsers and phones make.
FORMATS = [
    ("answer.webm", "libopus", None, 48000),  # Chrome/Firefox MediaRecorder
    ("answer.mp4", "aac", None, 48000),  # Safari MediaRecorder, Android camera
    ("answer.mov", "aac", None, 44100),  # iPhone camera
    ("answer.m4a", "aac", "ipod", 44100),  # voice memos
    ("answer.ogg", "libopus", None, 48000),  # Firefox audio-only
    ("answer.flac", "flac", None, 16000),
    ("answer.wav", "pcm_s16le", None, 44100),
]


def _samples(source: MediaSource) -> np.ndarray:
    return np.frombuffer(b"".join(decode_audio_pcm(source)), dtype="<i2").astype(np.float32)


def _similarity(a: np.ndarray, b: np.ndarray, max_lag: int = 400) -> float:
    """Best normalised correlation of two signals over small shifts (codec delays)."""
    n = min(len(a), len(b))
    best = 0.0
    for lag in range(-max_lag, max_lag + 1, 2):
        x = a[max(0, -lag) : n - max(0, lag)]
        y = b[max(0, lag) : n - max(0, -lag)]
        denom = float(np.sqrt(np.dot(x, x) * np.dot(y, y))) or 1.0
        best = max(best, float(np.dot(x, y)) / denom)
    return best


@pytest.fixture(scope="module")
def original() -> np.ndarray:
    if not CLIP.is_file():
        pytest.skip("pocketsphinx-testdata is not installed")
    return _samples(CLIP)


@pytest.mark.parametrize(("name", "codec", "fmt", "rate"), FORMATS)
def test_speech_survives_every_browser_and_phone_format(
    original: np.ndarray, tmp_path: Path, name: str, codec: str, fmt: str | None, rate: int
) -> None:
    path = encode_speech(CLIP, tmp_path / name, codec=codec, rate=rate, fmt=fmt)
    info = probe(path)
    assert info.has_audio and info.streams[0].sample_rate == rate
    with open(path, "rb") as handle:  # as the worker reads it: a file object, not a path
        decoded = _samples(handle)
    assert len(decoded) / SAMPLE_RATE == pytest.approx(len(original) / SAMPLE_RATE, abs=0.05)
    # Lossy codecs change the waveform a little; the speech is the same signal.
    assert _similarity(original, decoded) > 0.95


def test_damaged_speech_file_is_a_specific_error(tmp_path: Path) -> None:
    path = encode_speech(CLIP, tmp_path / "answer.m4a", codec="aac", rate=44100, fmt="ipod")
    cut = path.read_bytes()[: path.stat().st_size // 2]
    with pytest.raises(CorruptMediaError, match="moov"):
        next(decode_audio_pcm(io.BytesIO(cut)))


class _VirtualWav(io.RawIOBase):
    """A seekable mono 16-bit WAV of `seconds` of a tone, made on the fly (never on disk)."""

    def __init__(self, seconds: float, rate: int = SAMPLE_RATE) -> None:
        self._samples = int(seconds * rate)
        data = 2 * self._samples
        self._header = (
            b"RIFF"
            + struct.pack("<I", 36 + data)
            + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
            + b"data"
            + struct.pack("<I", data)
        )
        period = np.arange(rate, dtype=np.float64)  # one second, repeated
        self._second = (6000 * np.sin(2 * np.pi * 220 * period / rate)).astype("<i2").tobytes()
        self._size = len(self._header) + data
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        out = bytearray()
        pos = self._pos
        while len(out) < want:
            if pos < len(self._header):
                piece = self._header[pos : pos + want - len(out)]
            else:
                offset = (pos - len(self._header)) % len(self._second)
                piece = self._second[offset : offset + want - len(out)]
            out += piece
            pos += len(piece)
        buffer[: len(out)] = out
        self._pos = pos
        return len(out)


@pytest.mark.slow
def test_two_hour_recording_decodes_in_bounded_memory() -> None:
    hours = 2.0
    source = _VirtualWav(hours * 3600)
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    total = 0
    for index, chunk in enumerate(decode_audio_pcm(source, chunk_samples=SAMPLE_RATE)):
        total += len(chunk)
        if index % 300 == 0:
            peak = max(peak, process.memory_info().rss)
    assert total == int(hours * 3600 * SAMPLE_RATE) * 2
    # 230 MB of PCM went through; memory grew by far less than that.
    assert peak - baseline < 64 << 20, f"grew by {(peak - baseline) >> 20} MiB"
