"""Whisper's features taken a block at a time equal faster-whisper's own, bit for bit."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from inference.speech.features import BLOCK_FRAMES, BlockwiseFeatureExtractor, install

RATE = 16000


@pytest.mark.parametrize(
    "samples",
    [30, 5000, RATE * 30, RATE * 31 + 7, BLOCK_FRAMES * 160 * 2 + 161, RATE * 95 + 123],
)
def test_blockwise_features_equal_the_engines(samples: int) -> None:
    rng = np.random.default_rng(samples)
    audio = (rng.standard_normal(samples) * 0.1).astype(np.float32)
    # A loud stretch moves the window's maximum, which the log scaling clips against.
    audio[samples // 3 : samples // 3 + 800] *= 20
    expected = FeatureExtractor(feature_size=80)(audio, chunk_length=30)
    found = BlockwiseFeatureExtractor(feature_size=80)(audio, chunk_length=30)
    assert found.shape == expected.shape
    assert found.dtype == expected.dtype
    assert np.array_equal(found, expected)


def test_long_window_needs_a_fraction_of_the_memory() -> None:
    audio = (np.random.default_rng(3).standard_normal(RATE * 300) * 0.1).astype(np.float32)
    peaks = []
    for extractor in (
        FeatureExtractor(feature_size=80),
        BlockwiseFeatureExtractor(feature_size=80),
    ):
        tracemalloc.start()
        try:
            extractor(audio, chunk_length=30)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    engine, blockwise = peaks
    assert blockwise < engine / 2, (engine, blockwise)


def test_install_keeps_the_models_settings() -> None:
    class Model:
        feature_extractor = FeatureExtractor(feature_size=128, chunk_length=30)

    model = Model()
    install(model)
    assert isinstance(model.feature_extractor, BlockwiseFeatureExtractor)
    assert model.feature_extractor.mel_filters.shape == (128, 201)
    assert model.feature_extractor.n_samples == RATE * 30
