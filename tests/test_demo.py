"""The demo data the quick start loads: its interview is analysed and scored end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from appliance.cli.demo import load_demo_data
from appliance.jobs.worker import Worker
from appliance.platform.config import DEFAULT_PIPELINE
from tests.conftest import MODEL_PACKS, make_appliance


@pytest.mark.slow
def test_the_demo_interview_is_transcribed_and_scored_with_evidence(tmp_path: Path) -> None:
    if not (MODEL_PACKS / "whisper-base" / "manifest.json").is_file():
        pytest.skip("model packs not built (make setup)")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng absent: the demo answer is a tone, with nothing to score")
    appliance = make_appliance(tmp_path, worker={"pipeline": list(DEFAULT_PIPELINE)})
    store = appliance.open_store()
    try:
        load_demo_data(store, appliance.config)
        outcome = Worker(appliance.config, store).run_once()
        assert outcome is not None and outcome.state == "succeeded", outcome
        job = store.jobs.get(outcome.job_id)
        report = store.reports.get(job.result["report_id"])  # type: ignore[index]
        sections = report.content["sections"]
        assert "index" in sections["transcript"]["text"].lower()
        scoring = sections["scoring"]  # the EU notice was given: the AI may score
        scored = [d for d in scoring["dimensions"] if d["score"] is not None]
        assert scored, scoring["dimensions"]
        duration = sections["transcript"]["duration_s"]
        for dimension in scored:
            assert dimension["evidence"]
            for span in dimension["evidence"]:
                assert 0 <= span["start"] <= span["end"] <= duration + 0.5
    finally:
        store.close()
