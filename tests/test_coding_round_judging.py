"""The worker judges real submissions in the real sandbox: a correct, a wrong, a too-slow and a
crashing one, each beside the reference solution, with the growth estimate, lint and the edit
timeline; a hidden case's output is never kept."""

from __future__ import annotations

import json
import os

import pytest

from appliance.coding_round.judging import judge_submission
from appliance.coding_round.tasks import import_task
from appliance.coding_round.work import JOB_KIND, save_draft, submit
from appliance.jobs.worker import Worker
from appliance.privacy.erasure import erase_candidate
from appliance.store import Store
from tests.conftest import Appliance
from tests.support.coding_round import (
    HIDDEN_EXPECTED,
    HIDDEN_INPUT,
    SUBMISSIONS,
    coding_world,
    task_file,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops from root to a uid"),
]


def test_the_worker_judges_correct_wrong_slow_and_crashing_code(
    appliance: Appliance, store: Store
) -> None:
    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file())
    save_draft(store, world.hr, world.interview_id, task.id, "python", "import sys\n")
    save_draft(store, world.hr, world.interview_id, task.id, "python", SUBMISSIONS["correct"])
    ids = {
        name: submit(
            store, appliance.config, world.hr, world.interview_id, task.id, "python", code
        ).id
        for name, code in SUBMISSIONS.items()
    }
    worker = Worker(appliance.config, store, kinds=[JOB_KIND], chores=False)
    outcomes = [worker.run_once() for _ in ids]
    assert [o.state if o else None for o in outcomes] == ["succeeded"] * len(ids)
    results = {name: store.coding_work.submission(sid).result or {} for name, sid in ids.items()}
    for name, result in results.items():
        print(name, result["verdict"], result["tests"], result["complexity"]["submission"])

    correct = results["correct"]
    assert correct["verdict"] == "ok" and correct["task"]["version"] == 1
    assert correct["tests"] == {
        "visible": {"passed": 2, "total": 2},
        "hidden": {"passed": 2, "total": 2},
    }
    assert correct["reference"]["passed"] == 4 and correct["relative"]["cpu"] is not None
    growth = correct["complexity"]
    assert growth["available"] and growth["sizes"] == [500, 1000, 2000, 4000, 8000]
    assert growth["submission"]["law"] in ("1", "log n", "n", "n log n")
    assert growth["submission"]["agrees_with_reference"] == 5
    assert correct["lint"]["available"] is True or correct["lint"]["reason"] == "no_linter"
    assert correct["timeline"]["drafts"] == 2
    assert correct["timeline"]["to_submission_added"] == 0  # submitted as last saved
    assert "seccomp" in correct["isolation"] and "net_namespace" in correct["isolation"]

    wrong = results["wrong"]
    assert wrong["verdict"] == "wrong"
    assert wrong["tests"]["visible"]["passed"] == 0 and wrong["tests"]["hidden"]["passed"] == 0
    assert wrong["complexity"]["submission"]["agrees_with_reference"] == 0
    visible_outputs = [c["output"] for c in wrong["cases"] if not c["hidden"]]
    assert visible_outputs == ["3\n", "3\n"]  # what it printed, for the expert

    slow = results["slow"]
    assert slow["verdict"] == "time_limit"
    by_name = {case["name"]: case for case in slow["cases"]}
    assert by_name["many numbers"]["verdict"] == "time_limit"
    assert by_name["three numbers"]["verdict"] == "ok" and by_name["big numbers"]["verdict"] == "ok"
    own = slow["complexity"]["submission"]
    assert own["law"] in ("n^2", "n^3") and own["exponent"] is not None and own["exponent"] > 1.5
    if own["stopped_at"] is not None:
        assert own["stopped_verdict"] == "time_limit"

    crash = results["crash"]
    assert crash["verdict"] == "runtime_error"
    assert {case["verdict"] for case in crash["cases"]} == {"runtime_error"}
    assert crash["complexity"]["submission"]["stopped_at"] == 500

    everything = json.dumps(results)
    assert HIDDEN_EXPECTED not in everything and HIDDEN_INPUT not in everything
    assert all(
        case["output"] is None for r in results.values() for case in r["cases"] if case["hidden"]
    )


def test_a_submission_erased_before_judging_ends_the_job_quietly(
    appliance: Appliance, store: Store
) -> None:
    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file(generator=False))
    made = submit(
        store,
        appliance.config,
        world.hr,
        world.interview_id,
        task.id,
        "python",
        SUBMISSIONS["correct"],
    )
    erase_candidate(store, appliance.spool(), world.hr, world.candidate_id, "request")
    result = judge_submission(store, appliance.config, {"submission_id": made.id}, lambda *_: None)
    assert result == {"submission_id": made.id, "judged": False, "reason": "erased"}
