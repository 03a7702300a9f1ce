"""Whisper's log-Mel features computed a block of frames at a time, with the same result.

faster-whisper's own extractor takes the short-time Fourier transform of the whole window at
once: for a 300 s window that is about 290 MiB of transient complex arrays (measured with
tracemalloc), the largest single allocation of a long interview's analysis. Each frame of the
transform depends only on its own 400 samples, so the frames can be computed in blocks; only
the final log scaling needs the whole window (it clips at the window's maximum less 8), and it
runs on the small Mel matrix (80 x frames, 9 MiB for 300 s).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper.feature_extractor import FeatureExtractor

# 30 s of 10 ms frames a block: about 30 MiB transient instead of 290 MiB for 300 s.
BLOCK_FRAMES = 3000


class BlockwiseFeatureExtractor(FeatureExtractor):  # type: ignore[misc]
    """faster-whisper's feature extractor with its transform taken a block at a time."""

    def __call__(
        self, waveform: npt.NDArray[Any], padding: int = 160, chunk_length: int | None = None
    ) -> npt.NDArray[np.float32]:
        """The log-Mel spectrogram of `waveform`, exactly as the parent computes it."""
        if chunk_length is not None:
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        samples = waveform.astype(np.float32)
        if padding:
            samples = np.pad(samples, (0, padding))
        half = self.n_fft // 2
        # The parent pads both ends by half a transform length (reflected), then drops the
        # last frame; short inputs go to the parent as they are (one block is all it takes).
        frames = (len(samples) + 2 * half - self.n_fft) // self.hop_length
        if frames <= BLOCK_FRAMES or len(samples) <= half:
            result: npt.NDArray[np.float32] = super().__call__(samples, padding=0)
            return result
        padded = np.pad(samples, (half, half), mode="reflect")
        window = np.hanning(self.n_fft + 1)[:-1].astype("float32")
        # The power spectrum is kept whole (201 x frames float32, 23 MiB for 300 s) so that the
        # Mel projection is one product, as in the parent: blocks of it round differently.
        power = np.empty((self.n_fft // 2 + 1, frames), dtype=np.float32)
        for start in range(0, frames, BLOCK_FRAMES):
            stop = min(frames, start + BLOCK_FRAMES)
            segment = padded[start * self.hop_length : (stop - 1) * self.hop_length + self.n_fft]
            stft = self.stft(
                segment,
                self.n_fft,
                self.hop_length,
                window=window,
                center=False,
                return_complex=True,
            ).astype("complex64")
            power[:, start:stop] = np.abs(stft) ** 2
        mel = self.mel_filters @ power
        log_spec = np.log10(np.clip(mel, a_min=1e-10, a_max=None))
        log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
        scaled: npt.NDArray[np.float32] = (log_spec + 4.0) / 4.0
        return scaled


def install(model: Any) -> None:
    """Give a faster-whisper `WhisperModel` the blockwise extractor with its own settings."""
    current = model.feature_extractor
    blockwise = BlockwiseFeatureExtractor(
        feature_size=current.mel_filters.shape[0],
        sampling_rate=current.sampling_rate,
        hop_length=current.hop_length,
        chunk_length=current.chunk_length,
        n_fft=current.n_fft,
    )
    model.feature_extractor = blockwise
