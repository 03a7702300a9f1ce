"""Human oversight rules EU-2 and EU-3: people override and stop the AI; only people decide."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.accounts.auth import principal_of
from appliance.analysis.control import StopError, stop_analysis
from appliance.hiring.review import ReviewError, override_score
from appliance.media.recordings import ingest_recording

from .conftest import REPO, Appliance, demo_interview, make_user, write_wav


@pytest.mark.slow
def test_EU_2_overrides_need_a_reason_and_a_stop_control_halts_running_scoring(
    appliance: Appliance, tmp_path: Path
) -> None:
    store = appliance.open_store()
    interview_id = demo_interview(store)
    hr = principal_of(store.users.get(make_user(store, "hr", "hr_admin", regions=["*"])))
    with open(write_wav(tmp_path / "long.wav", 1800, rate=8000), "rb") as source:
        job_id = ingest_recording(
            store,
            appliance.spool(),
            appliance.config,
            interview_id=interview_id,
            source=source,
            filename="long.wav",
            actor="test",
        ).job.id
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "appliance",
            "worker",
            "--config",
            str(appliance.config_path),
            "--exit-when-idle",
        ],
        env=appliance.env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while store.jobs.get(job_id).state != "running":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.02)
        stop_analysis(store, hr, job_id, "the candidate withdrew consent")
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    job = store.jobs.get(job_id)
    assert (job.state, job.error_code) == ("cancelled", "stopped")
    assert store.reports.for_interview(interview_id) == []  # the result was discarded
    assert store.audit.entries(action="analysis.stopped")
    with pytest.raises(StopError):
        stop_analysis(store, hr, job_id, "again")
    # Overrides: any AI score can be replaced by a person, never without a reason.
    with store.transaction():
        other = store.jobs.enqueue("analyse", max_open=10, max_attempts=1)
        report = store.reports.create(
            interview_id, other.id, {"scores": {"ownership": {"score": 4, "evidence": []}}}
        )
    with pytest.raises(ReviewError, match="reason"):
        override_score(
            store, hr, report_id=report.id, dimension="ownership", new_score=7, reason=" "
        )
    override_score(
        store,
        hr,
        report_id=report.id,
        dimension="ownership",
        new_score=7,
        reason="the quote at 01:10 shows clear ownership",
    )
    assert store.audit.entries(action="score.overridden")
    store.close()


def _calls_to(attribute: str) -> list[str]:
    found = []
    for package in ("appliance", "webui", "provisioning", "inference", "firmware"):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add"
                    and isinstance(node.func.value, ast.Attribute)
                    and node.func.value.attr == attribute
                ):
                    found.append(path.relative_to(REPO).as_posix())
    return found


def test_EU_3_no_automated_reject_or_advance_exists(appliance: Appliance) -> None:
    # Decisions are written in exactly one place, which requires the acting person; data
    # imported from another HR system carries the person who decided there.
    writers = set(_calls_to("decisions"))
    assert writers <= {"appliance/hiring/review.py", "appliance/imports/service.py"}, writers
    assert "appliance/hiring/review.py" in writers
    worker_source = (REPO / "appliance" / "jobs" / "worker.py").read_text(encoding="utf-8")
    assert "decision" not in worker_source
    store = appliance.open_store()
    columns = {row["name"]: row for row in store.conn.execute("PRAGMA table_info(decisions)")}
    assert columns["decided_by"]["notnull"] == 1 and columns["reason"]["notnull"] == 1
    store.close()
