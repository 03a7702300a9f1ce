"""Coding rounds without running code: task files and their line-precise errors, versions,
drafts and submissions sealed with the candidate's key, erasure, retention, the subject's
export, the notice paragraph, and the measurements' arithmetic (growth fit, timeline, lint)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml

from appliance.coding.complexity import fit_growth
from appliance.coding.lint import lint, ruff_binary
from appliance.coding.task import task_to_json
from appliance.coding.task_file import TaskFileError, dump_task_file, parse_task_file
from appliance.coding.timeline import Snapshot, build_timeline, line_changes
from appliance.coding_round.tasks import export_task, import_task, job_tasks
from appliance.coding_round.work import (
    JOB_KIND,
    MAX_SUBMISSIONS,
    room_save_draft,
    room_submit,
    room_tasks,
    save_draft,
    submit,
)
from appliance.compliance.notices import CODING_ROUND, notice_text, rounds_for_interview
from appliance.platform.clock import to_stamp, utcnow
from appliance.platform.errors import NotFoundError, RefusedError
from appliance.privacy.erasure import erase_candidate
from appliance.privacy.retention_job import run_retention
from appliance.privacy.subject_export import collect
from appliance.security.permissions import PermissionDeniedError
from appliance.store import Store
from appliance.store.fieldcrypt import is_sealed
from tests.conftest import REPO, Appliance, make_user
from tests.support.coding_round import HIDDEN_EXPECTED, coding_world, task_data, task_file

OFFERED = ["python", "c"]


def _errors(text: str, filename: str = "task.yaml") -> list[str]:
    with pytest.raises(TaskFileError) as caught:
        parse_task_file(text.encode(), filename, offered=OFFERED)
    return [str(problem) for problem in caught.value.problems]


# --- task files ----------------------------------------------------------------------------------


def test_the_documented_example_parses_and_round_trips_as_yaml_and_json() -> None:
    task = parse_task_file((REPO / "examples" / "coding-task.yaml").read_bytes(), "x.yaml")
    assert task.key == "distinct-values" and task.title_in("zh") == "不同数值的个数"
    assert len(task.visible_tests) == 2 and task.hidden_count == 2
    assert task.generator is not None and task.generator.sizes[0] == 4000
    for fmt in ("yaml", "json"):
        again = parse_task_file(dump_task_file(task, fmt), f"again.{fmt}")
        assert task_to_json(again) == task_to_json(task)


def test_errors_name_their_line_and_field() -> None:
    text = (
        "schema: coding-task/1\n"  # 1
        "key: Sum\n"  # 2
        "title: {en: Sum}\n"  # 3
        "statement: Add them up.\n"  # 4
        "colour: blue\n"  # 5
        "limits:\n"  # 6
        "  cpu_seconds: 99\n"  # 7
        "languages: [python, cobol]\n"  # 8
        "reference: {language: python, code: 'print(1)'}\n"  # 9
        "tests:\n"  # 10
        "  - input: '1'\n"  # 11
        "    output: '1'\n"  # 12
        "    hidden: maybe\n"  # 13
        "  - input: '2'\n"  # 14
    )
    problems = _errors(text)
    assert "line 2, field key: starts with a-z, then a-z, 0-9, _ or - (at most 40)" in problems
    assert any(p.startswith("line 5, field colour: unknown field") for p in problems)
    assert "line 7, field limits.cpu_seconds: must be between 0.1 and 10" in problems
    assert any(
        p.startswith("line 8, field languages[1]: unknown language 'cobol'") for p in problems
    )
    assert "line 13, field tests[0].hidden: must be true or false" in problems
    assert "line 14, field tests[1].output: is required" in problems


def test_a_language_this_box_lacks_is_refused_with_what_it_has() -> None:
    text = yaml.safe_dump(task_data(generator=False, languages=["python", "java"]))
    problems = _errors(text)
    assert len(problems) == 1
    assert problems[0].endswith(
        "field languages[1]: this box has no toolchain for java (it runs: python, c)"
    )


def test_every_case_hidden_is_refused() -> None:
    data = task_data(generator=False)
    data["tests"] = [dict(case, hidden=True) for case in data["tests"]]
    problems = _errors(yaml.safe_dump(data, sort_keys=False))
    assert any("field tests: at least one case must be visible" in p for p in problems)


def test_json_syntax_depth_and_yaml_aliases_are_refused_before_reading_further() -> None:
    assert _errors('{\n  "key": "a",\n  "title": oops\n}\n', "task.json") == [
        "line 3, column 12: invalid JSON: Expecting value"
    ]
    deep = "[" * 200 + "]" * 200
    assert _errors(deep, "task.json") == ["the file is nested more than 32 levels deep"]
    assert _errors("a: &x [1]\nb: *x\n") == ["line 2, column 4: aliases (*name) are not allowed"]
    nested = "a:\n" + "".join("  " * depth + "- \n" for depth in range(1, 40))
    assert _errors(nested)[0].endswith("nested more than 32 levels deep")
    assert _errors("key: [unclosed\n")[0].startswith("line 2, column 1: invalid YAML")


# --- tasks of a job: versions, rights -------------------------------------------------------------


def test_a_save_is_a_new_version_and_export_gives_back_the_file(store: Store) -> None:
    world = coding_world(store)
    first = import_task(store, world.hr, world.requisition_id, task_file(), "sum.yaml")
    changed = task_file(title={"en": "Sum, again"})
    second = import_task(store, world.hr, world.requisition_id, changed, "sum.yaml")
    assert (first.version, second.version) == (1, 2) and first.key == second.key
    current = job_tasks(store, world.hr, world.requisition_id)
    assert [(t.stored.id, t.versions) for t in current] == [(second.id, 2)]
    assert store.coding_tasks.get(first.id).title == "Sum of numbers"  # versions never change
    name, data = export_task(store, world.hr, first.id)
    assert name == "sum-numbers-v1.yaml" and HIDDEN_EXPECTED.encode() in data
    with pytest.raises(PermissionDeniedError):
        export_task(store, world.expert, first.id)  # the hidden cases stay with HR


def test_only_people_who_edit_the_job_save_tasks(store: Store) -> None:
    world = coding_world(store)
    with pytest.raises(PermissionDeniedError):
        import_task(store, world.expert, world.requisition_id, task_file())
    elsewhere = coding_world(store, region="CN")
    with pytest.raises(NotFoundError):
        import_task(store, world.hr, elsewhere.requisition_id, task_file())


# --- drafts and submissions ----------------------------------------------------------------------


def test_drafts_are_sealed_deduplicated_and_reach_only_the_interviews_job(
    appliance: Appliance, store: Store
) -> None:
    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file())
    one = save_draft(store, world.hr, world.interview_id, task.id, "python", "print(1)\n")
    same = save_draft(store, world.hr, world.interview_id, task.id, "python", "print(1)\n")
    two = save_draft(store, world.hr, world.interview_id, task.id, "python", "print(2)\n")
    assert same.id == one.id and two.id != one.id
    raw = store.conn.execute("SELECT code FROM coding_drafts").fetchall()
    assert all(is_sealed(row[0]) and "print" not in row[0] for row in raw)
    assert [d.code for d in store.coding_work.drafts(world.interview_id)] == [
        "print(1)\n",
        "print(2)\n",
    ]
    other = coding_world(store, region="US-IL")
    foreign = import_task(store, other.hr, other.requisition_id, task_file())
    with pytest.raises(NotFoundError):
        save_draft(store, world.hr, world.interview_id, foreign.id, "python", "x")
    with pytest.raises(RefusedError, match="language must be one of: python"):
        save_draft(store, world.hr, world.interview_id, task.id, "c", "int main(){}")


def test_a_submission_is_queued_for_the_worker_and_audited(
    appliance: Appliance, store: Store
) -> None:
    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file())
    made = submit(
        store, appliance.config, world.hr, world.interview_id, task.id, "python", "print(6)\n"
    )
    job = store.jobs.get(made.job_id) if made.job_id is not None else None
    assert job is not None and job.kind == JOB_KIND and job.payload == {"submission_id": made.id}
    assert made.task_id == task.id and made.state == "queued"
    raw = store.conn.execute("SELECT code FROM coding_submissions").fetchone()[0]
    assert is_sealed(raw)
    entries = [e for e in store.audit.entries() if e.action == "coding.submitted"]
    assert entries and entries[-1].details["version"] == 1
    with pytest.raises(PermissionDeniedError):
        submit(store, appliance.config, world.expert, world.interview_id, task.id, "python", "1")


def test_the_room_acts_through_the_candidates_link_only(appliance: Appliance, store: Store) -> None:
    from appliance.hiring.links import InvalidLinkError, issue_link, revoke_link

    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file())
    link = issue_link(store, world.hr, interview_id=world.interview_id)
    given = room_tasks(store, link.token)
    assert [t["id"] for t in given] == [task.id] and "reference" not in given[0]
    room_save_draft(store, link.token, task.id, "python", "print(1)")
    made = room_submit(store, appliance.config, link.token, task.id, "python", "print(6)")
    assert made.submitted_by == "candidate" and made.job_id is not None
    entry = store.audit.entries(action="coding.submitted")[-1]
    assert (
        entry.actor == "candidate"
        and entry.subject == store.candidates.get(world.candidate_id).pseudonym
    )
    revoke_link(store, world.hr, link_id=link.link.id)
    with pytest.raises(InvalidLinkError):
        room_save_draft(store, link.token, task.id, "python", "print(2)")
    with pytest.raises(InvalidLinkError):
        room_submit(store, appliance.config, "not-a-link", task.id, "python", "print(2)")


def test_submissions_per_task_are_capped(appliance: Appliance, store: Store) -> None:
    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file())
    for number in range(MAX_SUBMISSIONS):
        submit(
            store,
            appliance.config,
            world.hr,
            world.interview_id,
            task.id,
            "python",
            f"print({number})",
        )
    with pytest.raises(RefusedError, match="at most 20 submissions"):
        submit(store, appliance.config, world.hr, world.interview_id, task.id, "python", "print(0)")


# --- privacy: erasure, export, retention, notices -------------------------------------------------


def _judged_result() -> dict[str, object]:
    return {"verdict": "ok", "tests": {"visible": {"passed": 2, "total": 2}}, "cases": []}


def test_erasure_removes_drafts_and_submissions(appliance: Appliance, store: Store) -> None:
    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file())
    save_draft(store, world.hr, world.interview_id, task.id, "python", "print('draft')")
    made = submit(
        store, appliance.config, world.hr, world.interview_id, task.id, "python", "print(6)"
    )
    with store.transaction():
        store.coding_work.record_result(made.id, "judged", _judged_result())
    erasure = erase_candidate(store, appliance.spool(), world.hr, world.candidate_id, "request")
    assert erasure.counts["coding_drafts"] == 1 and erasure.counts["coding_submissions"] == 1
    for table in ("coding_drafts", "coding_submissions"):
        assert store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    assert store.coding_work.submissions(world.interview_id) == []


def test_the_subject_export_holds_the_code_and_results(appliance: Appliance, store: Store) -> None:
    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file())
    save_draft(store, world.hr, world.interview_id, task.id, "python", "print('first try')")
    made = submit(
        store, appliance.config, world.hr, world.interview_id, task.id, "python", "print(6)"
    )
    with store.transaction():
        store.coding_work.record_result(made.id, "judged", _judged_result())
    data = collect(store, world.hr, store.candidates.get(world.candidate_id))
    coding = data["interviews"][0]["coding_round"]
    assert coding["drafts"][0]["code"] == "print('first try')"
    assert coding["submissions"][0]["code"] == "print(6)"
    assert coding["submissions"][0]["result"]["verdict"] == "ok"
    assert coding["submissions"][0]["task"] == {
        "key": "sum-numbers",
        "version": 1,
        "title": "Sum of numbers",
    }
    assert HIDDEN_EXPECTED not in json.dumps(data)


def test_retention_deletes_coding_work_with_the_scores(appliance: Appliance, store: Store) -> None:
    world = coding_world(store)
    task = import_task(store, world.hr, world.requisition_id, task_file())
    save_draft(store, world.hr, world.interview_id, task.id, "python", "print(1)")
    submit(store, appliance.config, world.hr, world.interview_id, task.id, "python", "print(6)")
    assert run_retention(store, appliance.spool()).counts.get("coding_work", 0) == 0
    # The work dates from 200 days ago (past the EU's six months); the candidate is active.
    old = to_stamp(utcnow() - timedelta(days=200))
    with store.transaction():
        store.conn.execute("UPDATE coding_drafts SET saved_at = ?", (old,))
        store.conn.execute("UPDATE coding_submissions SET submitted_at = ?", (old,))
    summary = run_retention(store, appliance.spool())
    assert summary.counts["coding_work"] == 2 and not summary.erased_candidates
    assert store.conn.execute("SELECT count(*) FROM coding_drafts").fetchone()[0] == 0
    assert store.coding_work.submissions(world.interview_id) == []
    logged = store.audit.entries(action="retention.erased")
    assert logged[-1].details == {"category": "scores", "items": 2, "keep_days": 183}


def test_the_notice_carries_the_coding_round_where_the_job_has_tasks(store: Store) -> None:
    from appliance.store.compliance import compliance_of

    world = coding_world(store)
    fields = {name: f"{name} text" for name in ("controller", "purposes", "retention", "rights")}
    fields["automated_evaluation"] = "how"
    with store.transaction():
        notice = compliance_of(store).notices.create("EU", "zh_CN", fields, world.hr.user_id)
    assert rounds_for_interview(store, world.interview_id) == ()
    import_task(store, world.hr, world.requisition_id, task_file())
    rounds = rounds_for_interview(store, world.interview_id)
    assert rounds == (CODING_ROUND,)
    text = notice_text(notice, rounds)
    assert "编程测试:\n" in text and "隔离沙箱" in text
    assert "Coding round" not in notice_text(notice)
    # The candidate reads it on the room's consent page, once the notice is published.
    from appliance.room.consent import consent_form

    with store.transaction():
        compliance_of(store).notices.publish(notice.id, world.hr.user_id)

    form = consent_form(store, world.interview_id, "zh")
    assert any("编程测试" in shown for shown in form.notice_texts), form.notice_texts


# --- the measurements' arithmetic ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("law", "work", "expected"),
    [
        ("n", lambda n: 2e-6 * n, "n"),
        ("n^2", lambda n: 3e-9 * n * n, "n^2"),
        ("constant", lambda n: 0.0, "1"),
    ],
)
def test_growth_fit_finds_the_law_under_a_start_up_cost(law: str, work, expected: str) -> None:  # type: ignore[no-untyped-def]
    sizes = [1000, 2000, 4000, 8000, 16000, 32000]
    times = [0.012 + work(n) * (1.03 if i % 2 else 0.97) for i, n in enumerate(sizes)]
    fit = fit_growth(sizes, times)
    assert fit.law == expected, law
    if expected == "n^2":
        assert fit.exponent is not None and 1.8 <= fit.exponent <= 2.2
    assert fit_growth(sizes[:2], times[:2]).law is None  # too few sizes to tell


def test_timeline_counts_drafts_and_changes() -> None:
    assert line_changes("a\nb\nc", "a\nx\nc\nd") == (2, 1)
    drafts = [
        Snapshot("2026-01-01T10:00:00.000000Z", "import sys\n"),
        Snapshot("2026-01-01T10:05:00.000000Z", "import sys\n" + "x = 1\n" * 30),
        Snapshot("2026-01-01T10:20:00.000000Z", "import sys\nprint(1)\n"),
    ]
    timeline = build_timeline(drafts, "import sys\nprint(2)\n", starter="import sys\n")
    assert timeline.drafts == 3 and timeline.span_s == 1200.0
    assert timeline.largest_addition == 30 and timeline.largest_addition_at == drafts[1].at
    assert (timeline.to_submission_added, timeline.to_submission_removed) == (1, 1)
    empty = build_timeline([], "print(1)")
    assert empty.drafts == 0 and empty.first_at is None


def test_lint_reports_pyflakes_findings_for_python_only() -> None:
    if ruff_binary() is None:
        assert lint("python", "import os\n").reason == "no_linter"
        return
    report = lint("python", "import os\n\ndef f():\n    return y\n")
    assert report.available and [f.code for f in report.findings] == ["F401", "F821"]
    assert report.findings[1].line == 4
    assert lint("c", "int main(){}").reason == "not_python"


def test_a_second_hr_account_of_another_region_sees_no_task(store: Store) -> None:
    from appliance.accounts.auth import principal_of

    world = coding_world(store)
    import_task(store, world.hr, world.requisition_id, task_file())
    outsider = principal_of(
        store.users.get(make_user(store, "hr.cn2", "hr_admin", departments=["*"], regions=["CN"]))
    )
    with pytest.raises(NotFoundError):
        job_tasks(store, outsider, world.requisition_id)
