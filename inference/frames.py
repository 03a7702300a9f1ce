"""Video frames for visual cues: decoded with PyAV, sampled at a fixed rate, streamed.

`sample_frames()` yields `(t, rgb)` pairs: `t` the presentation time in seconds from the start
of the video stream, `rgb` an H x W x 3 uint8 array no wider than `max_width`. Every frame has
to be decoded (inter-coded video cannot skip), but only the sampled ones are converted to RGB
and scaled, and nothing is kept between yields, so memory stays bounded by one decoded frame
whatever the length of the recording. Errors map onto the `MediaError` family of
`inference.media`, with the same rules as audio decoding (damaged packets, unknown bytes).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from inference.interfaces import Frame
from inference.media import (
    MediaSource,
    NoMediaStreamsError,
    UnsupportedCodecError,
    _check_damaged_packet,
    _codec_name,
    _media_streams,
    _opened,
)


@dataclass(frozen=True)
class FrameSampling:
    """How frames are sampled: `fps` frames a second, scaled down to at most `max_width`."""

    fps: float = 2.0
    max_width: int = 640

    def __post_init__(self) -> None:
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise ValueError("fps must be a positive number")
        if self.max_width < 16:
            raise ValueError("max_width must be at least 16 pixels")


def scaled_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The (even) output size of a frame scaled to at most `max_width`, aspect kept."""
    if width <= max_width:
        return width, height
    out_h = max(2, round(height * max_width / width / 2) * 2)
    return max_width, out_h


def sample_frames(
    source: MediaSource, sampling: FrameSampling | None = None
) -> Iterator[tuple[float, Frame]]:
    """Yield `(t, rgb)` for the first video stream at `sampling.fps` (see the module doc)."""
    chosen = sampling or FrameSampling()
    # Arguments are checked now; the media is opened (and its errors raised) on first iteration.
    return _frames(source, chosen)


def _frames(source: MediaSource, sampling: FrameSampling) -> Iterator[tuple[float, Frame]]:
    step = 1.0 / sampling.fps
    with _opened(source) as container:
        video = next((s for s in _media_streams(container) if s.type == "video"), None)
        if video is None:
            raise NoMediaStreamsError("the media has no video stream")
        if video.codec_context is None:
            raise UnsupportedCodecError("the video codec is not supported")
        codec = _codec_name(video)
        # Frame threads let FFmpeg use both cores for the decode we cannot skip.
        video.thread_type = "AUTO"
        origin: float | None = None
        next_t = 0.0
        for packet in container.demux(video):
            if packet.size:
                _check_damaged_packet(packet, codec)
            for frame in packet.decode():
                if not isinstance(frame, av.VideoFrame) or frame.time is None:
                    continue
                if origin is None:
                    # Times count from the first frame: edit lists and pre-roll shift pts.
                    origin = float(frame.time)
                t = float(frame.time) - origin
                # A frame is taken when it is the first at or after the next sampling instant
                # (half a frame early counts, so 2 fps on 30 fps video hits every 15th frame).
                if t + 1e-3 < next_t:
                    continue
                width, height = scaled_size(frame.width, frame.height, sampling.max_width)
                rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
                yield round(t, 4), np.asarray(rgb, dtype=np.uint8)
                next_t = (math.floor(t / step + 1e-6) + 1) * step
