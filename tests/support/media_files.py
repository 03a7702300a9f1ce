"""Real media written with PyAV for the media and speech tests: a tone and/or a moving colour bar
in any container and codec PyAV can write."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np

SECONDS = 2.0


def has_encoder(name: str) -> bool:
    """Whether this PyAV build can encode with codec `name`."""
    try:
        av.Codec(name, "w")
    except Exception:
        return False
    return True


H264_OR_MPEG4 = "libx264" if has_encoder("libx264") else "mpeg4"


def mux_all(out: Any, packets: Any) -> None:
    """Mux every packet an encoder returned."""
    for packet in packets:
        out.mux(packet)


def write_media(
    path: Path | BinaryIO,
    *,
    fmt: str | None = None,
    vcodec: str | None = None,
    acodec: str | None = None,
    seconds: float = SECONDS,
    rate: int = 48000,
    fps: int = 25,
    options: dict[str, str] | None = None,
) -> None:
    """Write a 440 Hz tone (plus a little noise) and/or a moving colour bar with PyAV."""
    target: Any = str(path) if isinstance(path, Path) else path
    width, height = 96, 64
    with av.open(target, mode="w", format=fmt, options=options or {}) as out:
        # Every stream must exist before the first packet is muxed (the header is written then).
        vstream: Any = out.add_stream(vcodec, rate=fps) if vcodec else None
        astream: Any = out.add_stream(acodec, rate=rate) if acodec else None
        if vstream is not None:
            vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        if astream is not None:
            astream.layout = "mono"
        if vstream is not None:
            for i in range(round(seconds * fps)):
                img = np.zeros((height, width, 3), np.uint8)
                img[:, (i * 3) % width : (i * 3) % width + 16] = (255, (i * 10) % 256, 64)
                vframe = av.VideoFrame.from_ndarray(img, format="rgb24")
                vframe.pts = i
                mux_all(out, vstream.encode(vframe))
            mux_all(out, vstream.encode(None))
        if astream is not None:
            n = round(seconds * rate)
            t = np.arange(n) / rate
            rng = np.random.default_rng(7)
            wave = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.02 * rng.standard_normal(n)
            pcm = (wave * 32767).astype(np.int16)
            formats = astream.codec_context.codec.audio_formats
            resampler = av.AudioResampler(
                format=formats[0].name if formats else "s16", layout="mono", rate=rate
            )
            for offset in range(0, n, 1024):
                aframe = av.AudioFrame.from_ndarray(
                    pcm[None, offset : offset + 1024], format="s16", layout="mono"
                )
                aframe.sample_rate, aframe.pts, aframe.time_base = rate, offset, Fraction(1, rate)
                for resampled in resampler.resample(aframe):
                    mux_all(out, astream.encode(resampled))
            for resampled in resampler.resample(None):
                mux_all(out, astream.encode(resampled))
            mux_all(out, astream.encode(None))
