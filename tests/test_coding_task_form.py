"""Coding tasks made in a form (the core's rules): the form is checked by the task file's own
rules and each fault is named by its form field; reference solutions per language (the file
and the stored JSON, old single-reference versions still read); saving a new task and an edit
as the next version over the real encrypted store; and migration 0021 (origin 'form'), which
rebuilds coding_tasks with every task, draft and submission kept."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from appliance.coding.languages import available
from appliance.coding.task import task_from_json, task_to_json
from appliance.coding.task_file import (
    TaskFileError,
    check_task_data,
    dump_task_file,
    parse_task_file,
)
from appliance.coding_round.task_form import (
    CaseRow,
    TaskForm,
    TaskFormError,
    check_form,
    create_task,
    edit_task,
    form_from_task,
    key_from_title,
    new_form,
)
from appliance.coding_round.tasks import import_task
from appliance.coding_round.work import JOB_KIND, submit
from appliance.jobs.worker import Worker
from appliance.platform.words import Said
from appliance.security.permissions import PermissionDeniedError
from appliance.store import Store
from appliance.store.db import IntegrityError
from appliance.store.migrate import current_version
from tests.conftest import Appliance
from tests.support.coding_round import REFERENCE, SUBMISSIONS, coding_world, task_data, task_file
from tests.support.old_stores import NOW, store_before

C_REFERENCE = (
    "#include <stdio.h>\nint main(void){long long s=0,v;"
    'while(scanf("%lld",&v)==1)s+=v;printf("%lld\\n",s);return 0;}\n'
)


def _sum_form(**changes: Any) -> TaskForm:
    """The support's sum task as a person fills the form in."""
    data = task_data(generator=False)
    form = TaskForm(
        key="",
        title=dict(data["title"]),
        statement=dict(data["statement"]),
        languages=["python"],
        starter={"python": data["starter"]["python"]},
        references={"python": REFERENCE},
        cpu_seconds="1",
        wall_seconds="5",
        memory_mb="128",
        visible=[CaseRow(t["name"], t["input"], t["output"]) for t in data["tests"][:2]],
        hidden=[CaseRow(t["name"], t["input"], t["output"]) for t in data["tests"][2:]],
    )
    for name, value in changes.items():
        setattr(form, name, value)
    return form


def _faults(form: TaskForm, **options: Any) -> dict[str, str]:
    with pytest.raises(TaskFormError) as caught:
        check_form(form, **{"key": "sum-numbers", **options})
    assert all(isinstance(fault.message, Said) for fault in caught.value.faults)
    return {fault.field: fault.message for fault in caught.value.faults}


def test_a_filled_form_is_the_task_its_file_would_be() -> None:
    made = check_form(_sum_form(), key="sum-numbers", offered=["python"])
    assert made == parse_task_file(task_file(generator=False), "sum.yaml", offered=["python"])
    # An empty row anywhere is left out, and the filled form reads back from the task.
    form = form_from_task(made)
    form.visible.append(CaseRow())
    assert check_form(form, key="sum-numbers", offered=["python"]) == made


def test_each_fault_is_named_by_its_field_in_the_file_rules_words() -> None:
    form = _sum_form(
        title={"en": " ", "zh": ""},
        cpu_seconds="fast",
        memory_mb="5000",
        starter={"python": "pass\n", "c": "int main;\n"},
        references={"python": "   "},
        visible=[CaseRow("same", "1\n", "1\n"), CaseRow("same", "2\n", "2\n")],
        hidden=[CaseRow(), CaseRow("", "3\n", "")],
    )
    faults = _faults(form, key="Sum Numbers", offered=["python", "c"])
    assert faults == {
        "key": "starts with a-z, then a-z, 0-9, _ or - (at most 40)",
        "title-en": "needs an English (en) or Chinese (zh) text",
        "cpu_seconds": "must be a number",
        "memory_mb": "must be between 16 and 1024",
        "starter-c": "is not one of the task's languages",
        "references": "is required",
        "visible-1-name": "'same' is taken by tests[0]",
    }
    # The same words as the file import says, there with the line.
    with pytest.raises(TaskFileError) as caught:
        parse_task_file(task_file(limits={"cpu_seconds": "fast"}), offered=["python"])
    assert [p.message for p in caught.value.problems] == ["must be a number"]


def test_tests_languages_and_references_faults_point_at_their_fields() -> None:
    only_hidden = _sum_form(visible=[CaseRow()])
    assert _faults(only_hidden) == {
        "visible-tests": "at least one case must be visible (hidden: false)"
    }
    assert _faults(_sum_form(visible=[CaseRow()], hidden=[CaseRow()])) == {
        "visible-tests": "must be a non-empty list of cases"
    }
    too_long = _sum_form(statement={"en": "x" * 20_001})
    assert _faults(too_long) == {"statement-en": "is longer than 20000 characters"}
    no_toolchain = _sum_form(
        languages=["python", "java"], references={"python": REFERENCE, "java": "class Main {}"}
    )
    assert _faults(no_toolchain, offered=["python"]) == {
        "languages": "this box has no toolchain for java (it runs: python)",
        "reference-java": "this box has no toolchain for java (it runs: python)",
    }
    assert _faults(_sum_form(languages=["cobol"])) == {
        "languages": "unknown language 'cobol' (known: python, javascript, java, c, cpp)",
        "starter-python": "is not one of the task's languages",
    }
    assert _faults(_sum_form(languages=[])) == {"languages": "must be a non-empty list"}


def test_reference_solutions_per_language_in_the_file_and_the_stored_json() -> None:
    form = _sum_form(references={"python": REFERENCE, "c": C_REFERENCE})
    task = check_form(form, key="sum-numbers", offered=["python", "c"])
    assert task.references == {"python": REFERENCE, "c": C_REFERENCE}
    assert task.reference_for("c") == ("c", C_REFERENCE)
    assert task.reference_for("python") == ("python", REFERENCE)
    assert task.reference_for("java") == ("python", REFERENCE)  # the main one
    stored = task_to_json(task)
    assert [r["language"] for r in stored["reference"]] == ["python", "c"]
    assert task_from_json(stored) == task
    assert parse_task_file(dump_task_file(task), "t.yaml", offered=["python", "c"]) == task
    # A version stored before (one reference, a mapping) reads as it did, and writes the same.
    old = task_to_json(parse_task_file(task_file(), offered=["python"]))
    assert old["reference"] == {"language": "python", "code": REFERENCE}
    assert task_to_json(task_from_json(old)) == old
    twice = task_data(
        reference=[
            {"language": "python", "code": REFERENCE},
            {"language": "python", "code": "print(0)\n"},
        ]
    )
    with pytest.raises(TaskFileError) as caught:
        check_task_data(twice, offered=["python"])
    assert [(p.field, p.message) for p in caught.value.problems] == [  # type: ignore[attr-defined]
        ("reference[1].language", "a second reference in python (one per language)")
    ]


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops from root to a uid")
@pytest.mark.skipif("c" not in available(), reason="no C toolchain on this box")
def test_a_submission_is_judged_beside_the_reference_in_its_own_language(
    appliance: Appliance, store: Store
) -> None:
    world = coding_world(store)
    references = [{"language": "python", "code": REFERENCE}, {"language": "c", "code": C_REFERENCE}]
    data = task_file(generator=False, languages=["python", "c"], reference=references)
    task = import_task(store, world.hr, world.requisition_id, data)
    sent = {
        language: submit(
            store, appliance.config, world.hr, world.interview_id, task.id, language, code
        ).id
        for language, code in (("c", C_REFERENCE), ("python", SUBMISSIONS["correct"]))
    }
    worker = Worker(appliance.config, store, kinds=[JOB_KIND], chores=False)
    assert [worker.run_once() is not None for _ in sent] == [True, True]
    for language, submission_id in sent.items():
        result = store.coding_work.submission(submission_id).result or {}
        assert result["verdict"] == "ok", result
        assert result["reference"]["language"] == language
        assert result["reference"]["passed"] == result["reference"]["total"] == 4


def test_keys_from_titles_and_the_empty_form() -> None:
    assert key_from_title("Two Sum!") == "two-sum"
    assert key_from_title("2D grid: paths") == "task-2d-grid-paths"
    assert key_from_title("数字求和") == ""
    assert len(key_from_title("word " * 30)) <= 40
    blank = new_form()
    assert (blank.cpu_seconds, blank.wall_seconds, blank.memory_mb) == ("2", "5", "256")
    assert len(blank.visible) == len(blank.hidden) == 1 and "python" in blank.languages


def test_saving_a_new_task_and_an_edit_as_its_next_version(store: Store) -> None:
    world = coding_world(store)
    created = create_task(store, world.hr, world.requisition_id, _sum_form(key=""))
    assert (created.key, created.version, created.origin) == ("sum-of-numbers", 1, "form")
    with pytest.raises(TaskFormError) as caught:
        create_task(store, world.hr, world.requisition_id, _sum_form(key="sum-of-numbers"))
    assert [f.field for f in caught.value.faults] == ["key"]

    imported = import_task(store, world.hr, world.requisition_id, task_file())  # has a generator
    form = form_from_task(task_from_json(imported.spec))
    form.title = {"en": "Sum of all numbers", "zh": "所有数字之和"}
    form.visible.append(CaseRow("zero", "0\n", "0\n"))
    edited = edit_task(store, world.hr, imported.id, form)
    assert (edited.key, edited.version, edited.origin) == ("sum-numbers", 2, "form")
    task = task_from_json(edited.spec)
    assert task.title["en"] == "Sum of all numbers" and task.generator is not None
    assert [t.name for t in task.visible_tests][-1] == "zero" and task.hidden_count == 2
    assert store.coding_tasks.get(imported.id).spec == imported.spec  # versions never change
    entry = store.audit.entries(action="coding_task.saved")[-1]
    assert entry.details["origin"] == "form" and entry.details["version"] == 2

    with pytest.raises(TaskFormError) as stale:  # the form started from version 1
        edit_task(store, world.hr, imported.id, form)
    assert stale.value.faults[0].field == "" and "version 2" in stale.value.faults[0].message
    with pytest.raises(PermissionDeniedError):
        edit_task(store, world.expert, edited.id, form)
    with pytest.raises(PermissionDeniedError):
        create_task(store, world.expert, world.requisition_id, _sum_form(key="other"))


def test_migration_0021_allows_form_tasks_and_keeps_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = store_before(tmp_path, monkeypatch, 21)
    rebuild = next(m for m in old.shipped if m.version == 21)
    assert rebuild.name == "coding_task_form"
    conn = old.conn
    now = NOW
    for version in (1, 2):
        conn.execute(
            "INSERT INTO coding_tasks (requisition_id, key, version, title, spec, origin,"
            " created_at) VALUES (1, 'sum', ?, 'Sum', ?, 'import', ?)",
            (version, '{"key": "sum"}', now),
        )
    conn.execute(
        "INSERT INTO coding_drafts (interview_id, task_id, language, code, size_bytes, saved_at)"
        " VALUES (1, 2, 'python', 'sealed-draft', 12, ?)",
        (now,),
    )
    conn.execute(
        "INSERT INTO coding_submissions (interview_id, task_id, language, code, state, result,"
        " submitted_by, submitted_at) VALUES (1, 1, 'python', 'sealed-code', 'judged', '{}',"
        " 'candidate', ?)",
        (now,),
    )
    with pytest.raises(IntegrityError):  # before: a form's task does not fit
        conn.execute(
            "INSERT INTO coding_tasks (requisition_id, key, version, title, spec, origin,"
            " created_at) VALUES (1, 'sum', 3, 'Sum', '{}', 'form', ?)",
            (now,),
        )
    schema_before = conn.execute(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE tbl_name LIKE 'coding%' ORDER BY 2"
    ).fetchall()

    applied = old.migrate_to(21, monkeypatch)
    assert [m.version for m in applied] == [21] and current_version(conn) == 21
    assert [tuple(r) for r in conn.execute("SELECT id, version, origin FROM coding_tasks")] == [
        (1, 1, "import"),
        (2, 2, "import"),
    ]
    assert [tuple(r) for r in conn.execute("SELECT id, task_id, code FROM coding_drafts")] == [
        (1, 2, "sealed-draft")
    ]
    assert [
        tuple(r) for r in conn.execute("SELECT id, task_id, code, state FROM coding_submissions")
    ] == [(1, 1, "sealed-code", "judged")]
    assert (
        conn.execute(
            "SELECT type, name, tbl_name FROM sqlite_master WHERE tbl_name LIKE 'coding%'"
            " ORDER BY 2"
        ).fetchall()
        == schema_before
    )  # the same tables and indexes, no copy left behind
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.execute(
        "INSERT INTO coding_tasks (requisition_id, key, version, title, spec, origin, created_at)"
        " VALUES (1, 'sum', 3, 'Sum', '{}', 'form', ?)",
        (now,),
    )
    with pytest.raises(IntegrityError):  # still one key per version
        conn.execute(
            "INSERT INTO coding_tasks (requisition_id, key, version, title, spec, origin,"
            " created_at) VALUES (1, 'sum', 3, 'Sum', '{}', 'api', ?)",
            (now,),
        )
    with pytest.raises(IntegrityError):  # and drafts still need their task
        conn.execute(
            "INSERT INTO coding_drafts (interview_id, task_id, language, code, size_bytes,"
            " saved_at) VALUES (1, 99, 'python', 'x', 1, ?)",
            (now,),
        )
    conn.close()
