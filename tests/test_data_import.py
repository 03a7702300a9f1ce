"""Data migration from another HR system: dry run, all-or-nothing import, three-way verification
(counts, per-record hashes, re-export round trip), the web flow with CSRF, and the CLI helper."""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import re
import time
from pathlib import Path
from typing import Any, get_args

import pytest
from flask import Flask

from appliance.accounts.auth import principal_of
from appliance.cli.imports import add_import_arguments, cmd_import
from appliance.hiring.candidates import INTERVIEW_KINDS
from appliance.hiring.common import INTERVIEW_STATUSES, REGIONS
from appliance.hiring.review import DECISIONS, RECOMMENDATIONS
from appliance.imports.parsing import MAX_SOURCE_BYTES, ImportSource
from appliance.imports.planning import ImportPlan, plan_import, recent_batches, staged_plan
from appliance.imports.problems import ImportFailedError, ImportRejectedError
from appliance.imports.schema import (
    SCHEMA_ID,
    DecisionKind,
    InterviewKind,
    InterviewStatus,
    Region,
)
from appliance.imports.service import run_import
from appliance.platform.errors import NotFoundError
from appliance.security.permissions import PermissionDeniedError, Principal
from appliance.store import Store
from appliance.store.imports import ImportRepository

from .conftest import REPO, Appliance, csrf_token_from, login, make_user

EXAMPLES = REPO / "docs" / "examples"
ENTITIES = ("requisitions", "candidates", "interviews", "decisions")
SCRIPT = "<script>alert(1)</script>"
SQLISH = "Robert'); DROP TABLE candidates;--"


# --- set-up ------------------------------------------------------------------------------------


def _principal(
    store: Store,
    username: str = "importer",
    role: str = "hr_admin",
    regions: list[str] | None = None,
) -> Principal:
    with store.transaction():
        user = store.users.create(
            username, username.title(), role, departments=["*"], regions=regions or ["*"]
        )
    return principal_of(user)


def _world(store: Store) -> Principal:
    """Deciders and the requisitions the examples refer to by title; the importer."""
    with store.transaction():
        store.users.create("rec.bob", "Bob Recruiter", "recruiter", departments=["*"])
        store.users.create("lead.dana", "Dana Lead", "business_lead", departments=["*"])
        store.requisitions.create("Backend engineer", "Engineering", "Berlin", "EU")
        store.requisitions.create("Mobile engineer", "Engineering", "Shanghai", "CN")
    return _principal(store)


def _totals(store: Store) -> dict[str, int]:
    conn = store.conn
    return {
        table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for table in (
            "requisitions",
            "candidates",
            "interviews",
            "decisions",
            "interview_assignments",
            "import_records",
        )
    }


def _source(document: dict[str, Any], name: str = "source.json") -> ImportSource:
    return ImportSource(name, json.dumps(document, ensure_ascii=False).encode("utf-8"))


def _csv(text: str, name: str = "source.csv") -> ImportSource:
    return ImportSource(name, text.encode("utf-8"))


def _candidate(external_id: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "external_id": external_id,
        "full_name": f"Person {external_id}",
        "email": f"{external_id.lower()}@example.invalid",
        "residence_region": "EU",
        "language": "en",
        "applications": [{"requisition_title": "Backend engineer"}],
    }
    record.update(fields)
    return record


def _document(*candidates: dict[str, Any], requisitions: list[Any] | None = None) -> dict[str, Any]:
    return {"schema": SCHEMA_ID, "requisitions": requisitions or [], "candidates": list(candidates)}


def _problems(plan: ImportPlan) -> dict[str, str]:
    return {
        problem.location + (f" {problem.column}" if problem.column else ""): problem.message
        for problem in plan.problems
    }


def _assert_verified(report: dict[str, Any]) -> None:
    assert report["ok"], report["mismatches"]
    assert report["mismatches"] == []
    for entity in ENTITIES:
        row = report["counts"][entity]
        assert row["match"] and row["expected"] == row["imported"] == row["stored"], (entity, row)
    assert report["records"] and all(entry["match"] for entry in report["records"])
    assert all(
        entry["source_sha256"] == entry["store_sha256"]
        and re.fullmatch(r"[0-9a-f]{64}", entry["source_sha256"])
        for entry in report["records"]
    )
    assert report["records_matching"] == len(report["records"])
    trip = report["round_trip"]
    assert trip["match"] and trip["export_valid"] and trip["differences"] == []
    assert trip["source_sha256"] == trip["export_sha256"]


def _no_personal_data(text: str, *needles: str) -> None:
    for needle in needles:
        assert needle not in text, needle


# --- the format --------------------------------------------------------------------------------


def test_the_format_names_the_appliances_own_values() -> None:
    assert set(get_args(Region)) == set(REGIONS)
    assert set(get_args(InterviewStatus)) == set(INTERVIEW_STATUSES)
    assert set(get_args(InterviewKind)) == set(INTERVIEW_KINDS)
    assert set(get_args(DecisionKind)) == set(DECISIONS) | set(RECOMMENDATIONS)
    assert MAX_SOURCE_BYTES <= 4 << 20


# --- happy paths -------------------------------------------------------------------------------


def test_json_example_dry_run_then_import_verifies_three_ways(store: Store) -> None:
    principal = _world(store)
    before = _totals(store)
    plan = plan_import(store, principal, EXAMPLES / "import-example.json")
    assert plan.ok, [str(p) for p in plan.problems]
    assert plan.duplicates == []
    assert {e: plan.counts[e]["create"] for e in ENTITIES} == {
        "requisitions": 2,
        "candidates": 3,
        "interviews": 4,
        "decisions": 3,
    }
    assert _totals(store) == before  # a dry run creates nothing
    batch = ImportRepository(store).get(plan.batch_id)
    assert batch.status == "planned" and not batch.staged
    assert (
        batch.source_sha256
        == hashlib.sha256((EXAMPLES / "import-example.json").read_bytes()).hexdigest()
    )

    report = run_import(store, principal, plan)
    _assert_verified(report.data)
    assert {e: report.data["counts"][e]["stored"] for e in ENTITIES} == {
        "requisitions": 2,
        "candidates": 3,
        "interviews": 4,
        "decisions": 3,
    }
    after = _totals(store)
    assert after["candidates"] - before["candidates"] == 3
    assert after["interviews"] - before["interviews"] == 4
    assert after["decisions"] - before["decisions"] == 3
    assert after["import_records"] == 5

    # The records are what the file says, read through the repositories.
    imports = ImportRepository(store)
    ids = dict(imports.records(plan.batch_id, "candidate"))
    amelie = store.candidates.get(ids["ATS-C-20001"])
    assert (amelie.full_name, amelie.email, amelie.residence_region) == (
        "Amélie Exemple",
        "amelie@example.invalid",
        "EU",
    )
    store.vault.key_for(amelie.pseudonym)  # the data key exists
    (interview,) = store.interviews.for_candidate(amelie.id)
    assert (interview.round, interview.status, interview.kind) == (2, "cancelled", "live")
    assert interview.scheduled_at == "2025-05-14T07:30:00.000000Z"
    decisions = store.decisions.for_candidate(amelie.id)
    assert [(d.kind, d.decided_at) for d in decisions] == [
        ("advance", "2025-05-02T14:10:00.000000Z"),
        ("recommend_hold", "2025-05-20T08:00:00.000000Z"),
    ]
    assert store.users.get(decisions[1].decided_by).username == "lead.dana"
    assert store.candidates.get(ids["ATS-C-20003"]).full_name == "王芳"

    # The log and the audit trail hold counts and hashes, never names or addresses.
    batch = imports.get(plan.batch_id)
    assert batch.status == "completed" and batch.finished_at and not batch.staged
    assert batch.report == report.data
    assert batch.counts["candidates"]["imported"] == 3
    logged = json.dumps([batch.counts, batch.report], ensure_ascii=False)
    _no_personal_data(logged, "Amélie", "amelie@", "王芳", "Jordan", "+49", "ATS-C-2000")
    actions = [entry.action for entry in store.audit.entries()]
    assert "import.dry_run" in actions and "import.completed" in actions
    assert actions.count("candidate.imported") == 3
    audited = json.dumps(
        [e.details for e in store.audit.entries() if e.action.startswith("import.")],
        ensure_ascii=False,
    )
    _no_personal_data(audited, "Amélie", "amelie@", "王芳", "ATS-C-2000")
    completed = store.audit.entries(action="import.completed")[0].details
    assert completed["imported"] == {
        "requisitions": 2,
        "candidates": 3,
        "interviews": 4,
        "decisions": 3,
    }
    assert store.audit.first_broken_link() is None
    assert "verified" in report.summary() and "5 of 5 match" in report.summary()


def test_csv_example_imports_and_verifies(store: Store) -> None:
    principal = _world(store)
    run_import(store, principal, plan_import(store, principal, EXAMPLES / "import-example.json"))
    plan = plan_import(store, principal, EXAMPLES / "import-example.csv")
    assert plan.ok, [str(p) for p in plan.problems]
    assert plan.source_format == "csv"
    assert {e: plan.counts[e]["create"] for e in ENTITIES} == {
        "requisitions": 0,
        "candidates": 3,
        "interviews": 4,
        "decisions": 2,
    }
    report = run_import(store, principal, plan)
    _assert_verified(report.data)
    ids = dict(ImportRepository(store).records(plan.batch_id, "candidate"))
    siobhan = store.candidates.get(ids["ATS-C-30002"])
    assert siobhan.full_name == "O'Brien, Siobhán" and siobhan.phone is None
    li = store.candidates.get(ids["ATS-C-30003"])
    (decision,) = store.decisions.for_candidate(li.id)
    assert decision.reason == "通过初筛。\nSecond line of the reason."
    noah = store.candidates.get(ids["ATS-C-30001"])
    interviews = store.interviews.for_candidate(noah.id)
    assert [(i.round, i.status, i.language) for i in interviews] == [
        (1, "planned", "en"),
        (2, "cancelled", "en"),
    ]
    assert [r["location"] for r in report.data["records"]] == ["2", "4", "5"]


def test_a_csv_file_can_name_requisitions_by_title_or_external_id(store: Store) -> None:
    principal = _world(store)
    text = (
        "external_id,full_name,residence_region,language,requisition_title,round\n"
        "X-1,Ann Lee,EU,en,Backend engineer,3\n"
    )
    report = run_import(store, principal, plan_import(store, principal, _csv(text)))
    _assert_verified(report.data)
    (candidate_id,) = [i for _, i in ImportRepository(store).records(report.batch_id, "candidate")]
    (interview,) = store.interviews.for_candidate(candidate_id)
    assert interview.round == 3 and store.requisitions.get(interview.requisition_id).title == (
        "Backend engineer"
    )


# --- validation --------------------------------------------------------------------------------


def test_json_problems_name_their_json_path(store: Store) -> None:
    principal = _world(store)
    before = _totals(store)
    document = _document(
        _candidate("C-1", applications=[{"requisition_title": "Backend engineer", "round": "two"}]),
        _candidate("C-2", nickname="Bobby"),
        _candidate("C-3", residence_region="Mars"),
        _candidate("C-4", email="not-an-e-mail"),
        _candidate("C-5", applications=[{"requisition": "R-1", "requisition_title": "Analyst"}]),
        _candidate(
            "C-6",
            applications=[
                {
                    "requisition_title": "Backend engineer",
                    "decisions": [
                        {
                            "kind": "hire",
                            "reason": "ok",
                            "decided_at": "2025-01-01T00:00:00",
                            "decided_by": "rec.bob",
                        }
                    ],
                }
            ],
        ),
        _candidate("C-7", applications=[]),
        _candidate("C-8", full_name=42),
    )
    plan = plan_import(store, principal, _source(document))
    assert not plan.ok
    problems = _problems(plan)
    assert problems == {
        "$.candidates[0].applications[0].round": "Input should be a valid integer",
        "$.candidates[1].nickname": "unknown field (not part of import-v1)",
        "$.candidates[2].residence_region": (
            "Input should be 'EU', 'US-NYC', 'US-IL', 'US-MD', 'CN' or 'default'"
        ),
        "$.candidates[3].email": "not a valid e-mail address",
        "$.candidates[4].applications[0]": (
            "give either requisition (an external id) or requisition_title"
        ),
        "$.candidates[5].applications[0].decisions[0].decided_at": (
            "Input should have timezone info"
        ),
        "$.candidates[6].applications": "List should have at least 1 item after validation, not 0",
        "$.candidates[7].full_name": "Input should be a valid string",
    }
    assert _totals(store) == before
    rejected = ImportRepository(store).get(plan.batch_id)
    assert rejected.status == "rejected" and not rejected.staged
    logged = json.dumps([rejected.counts, rejected.report])
    assert "$.candidates[2].residence_region" in logged
    _no_personal_data(logged, "Bobby", "Mars", "not-an-e-mail", "Person C-")
    with pytest.raises(ImportRejectedError, match="problem"):
        run_import(store, principal, plan)
    assert _totals(store) == before


def test_problems_found_across_records_are_located_too(store: Store) -> None:
    principal = _world(store)
    requisitions = [
        {
            "external_id": "R-1",
            "title": "Analyst",
            "department": "Finance",
            "location": "Paris",
            "region": "EU",
        }
    ]
    document = _document(
        _candidate("C-1", applications=[{"requisition": "R-1"}]),
        _candidate("C-1", email="second@example.invalid"),
        _candidate("C-3", email="C-1@EXAMPLE.invalid"),
        _candidate("C-4", applications=[{"requisition": "R-404"}]),
        _candidate("C-5", applications=[{"requisition_title": "No such job"}]),
        _candidate(
            "C-6",
            applications=[
                {"requisition": "R-1"},
                {"requisition": "R-1", "round": 2},
                {
                    "requisition_title": "Backend engineer",
                    "decisions": [
                        {
                            "kind": "advance",
                            "reason": "fine",
                            "decided_at": "2025-01-01T00:00:00Z",
                            "decided_by": "nobody.here",
                        }
                    ],
                },
            ],
        ),
        requisitions=requisitions * 2,
    )
    plan = plan_import(store, principal, _source(document))
    assert _problems(plan) == {
        "$.requisitions[1].external_id": (
            "the external id is used twice in the file (first at $.requisitions[0])"
        ),
        "$.candidates[1].external_id": (
            "the external id is used twice in the file (first at $.candidates[0])"
        ),
        "$.candidates[2].email": "another candidate in the file has this e-mail address "
        "($.candidates[0])",
        "$.candidates[3].applications[0].requisition": (
            "no requisition with this external id in the file or imported before (within your "
            "regions)"
        ),
        "$.candidates[4].applications[0].requisition_title": (
            "no requisition within your regions has this title"
        ),
        "$.candidates[5].applications[1].requisition": (
            "the candidate applies to this requisition twice (one application per requisition)"
        ),
        "$.candidates[5].applications[2].decisions[0].decided_by": (
            "there is no account with this user name"
        ),
    }


def test_csv_problems_name_line_and_column(store: Store) -> None:
    principal = _world(store)
    text = (
        "external_id,full_name,email,residence_region,language,requisition_title,round,"
        "decision_kind,decision_reason,decided_at,decided_by\n"
        "C-1,Ann Lee,ann@example.invalid,EU,en,Backend engineer,1,,,,\n"
        "C-2,Bo Park,not-an-e-mail,Mars,en,Backend engineer,two,,,,\n"
        '"C-3","Multi\nline",,EU,en,Backend engineer,1,hire,,2025-01-01T00:00:00Z,rec.bob\n'
        "C-1,Ann Leigh,ann@example.invalid,EU,en,Mobile engineer,1,,,,\n"
    )
    plan = plan_import(store, principal, _csv(text))
    assert not plan.ok
    assert _problems(plan) == {
        "6:2 full_name": "differs from line 2, which has the same external_id",
    }
    # Without the inconsistent row, the model's problems show with their cell.
    plan = plan_import(store, principal, _csv(text.rsplit("C-1,Ann Leigh", 1)[0]))
    assert _problems(plan) == {
        "3:3 email": "not a valid e-mail address",
        "3:4 residence_region": (
            "Input should be 'EU', 'US-NYC', 'US-IL', 'US-MD', 'CN' or 'default'"
        ),
        "3:7 round": "Input should be a valid integer",
        "4:2 full_name": "control characters are not allowed",
        "4:9 decision_reason": "this field is required",
    }


def test_csv_header_problems(store: Store) -> None:
    principal = _world(store)
    plan = plan_import(
        store,
        principal,
        _csv(
            "external_id,full_name,nickname,residence_region,language,language\nC-1,A,b,EU,en,en\n"
        ),
    )
    assert _problems(plan) == {
        "1:3 nickname": "unknown column",
        "1:6 language": "the column appears twice",
        "1": "a column requisition or requisition_title is needed",
    }
    plan = plan_import(store, principal, _csv("full_name,requisition\nA,R-1\n"))
    assert [str(p) for p in plan.problems] == [
        "1: the column external_id is missing",
        "1: the column residence_region is missing",
        "1: the column language is missing",
    ]
    plan = plan_import(store, principal, _csv('external_id,full_name\n"C-1,A\n'))
    assert not plan.ok


def test_unreadable_files_are_refused_with_a_location(store: Store) -> None:
    principal = _world(store)
    plan = plan_import(store, principal, ImportSource("a.json", b'{"schema": \n  "x",, }'))
    assert [str(p) for p in plan.problems] == [
        "2:7: not valid JSON: Expecting property name enclosed in double quotes"
    ]
    plan = plan_import(store, principal, ImportSource("a.json", b'{"schema": 1, "schema": 2}'))
    assert [str(p) for p in plan.problems] == ["$: the key 'schema' appears twice in one object"]
    plan = plan_import(store, principal, ImportSource("a.json", b"[]"))
    assert [str(p) for p in plan.problems] == ["$: the file must hold one JSON object"]
    plan = plan_import(store, principal, ImportSource("a.json", b'{"schema": "other/v9"}'))
    assert _problems(plan) == {"$.schema": "Input should be 'interview-appliance/import-v1'"}
    plan = plan_import(store, principal, ImportSource("a.csv", b"external_id\n\xff\xfe\n"))
    assert [str(p) for p in plan.problems] == ["1: the file is not UTF-8 text (byte 13 is not)"]
    big = ImportSource("big.json", b" " * (MAX_SOURCE_BYTES + 1))
    plan = plan_import(store, principal, big)
    assert [str(p) for p in plan.problems] == ["$: the file is larger than the limit of 4 MiB"]
    plan = plan_import(store, principal, _source(_document()))
    assert [str(p) for p in plan.problems] == [
        "$: the file holds no requisitions and no candidates"
    ]


# --- hostile input -----------------------------------------------------------------------------


def test_hostile_strings_are_kept_as_text_and_long_ones_refused(store: Store) -> None:
    principal = _world(store)
    requisitions = [
        {
            "external_id": "R-<b>",
            "title": "<img src=x onerror=alert(1)>",
            "department": "'; DELETE FROM users; --",
            "location": "%_\\",
            "region": "EU",
        }
    ]
    hostile = _candidate(
        "C-1",
        full_name=SCRIPT,
        email="x'--@example.invalid",
        applications=[
            {
                "requisition": "R-<b>",
                "decisions": [
                    {
                        "kind": "reject",
                        "reason": SQLISH + "\n" + SCRIPT,
                        "decided_at": "2025-02-03T04:05:06.789+01:00",
                        "decided_by": "rec.bob",
                    }
                ],
            }
        ],
    )
    sqlish = _candidate("C-2", full_name=SQLISH, email=None)
    document = _document(hostile, sqlish, requisitions=requisitions)
    plan = plan_import(store, principal, _source(document))
    assert plan.ok, [str(p) for p in plan.problems]
    report = run_import(store, principal, plan)
    _assert_verified(report.data)
    ids = dict(ImportRepository(store).records(plan.batch_id, "candidate"))
    assert store.candidates.get(ids["C-1"]).full_name == SCRIPT
    assert store.candidates.get(ids["C-2"]).full_name == SQLISH
    assert store.users.count() >= 3  # nothing was executed
    (decision,) = store.decisions.for_candidate(ids["C-1"])
    assert decision.reason == SQLISH + "\n" + SCRIPT
    _no_personal_data(json.dumps(report.data), SCRIPT, SQLISH, "onerror")

    too_long = _document(
        _candidate("C-9", full_name="x" * 201),
        _candidate("C-10", full_name="Ok", email="a@" + "b" * 200 + ".invalid"),
        _candidate("C-11", full_name="Tab\there"),
        _candidate("has space", email=None),
        _candidate(
            "C-13",
            applications=[
                {
                    "requisition_title": "Backend engineer",
                    "decisions": [
                        {
                            "kind": "hire",
                            "reason": "r" * 4001,
                            "decided_at": "2025-01-01T00:00:00Z",
                            "decided_by": "rec.bob",
                        }
                    ],
                }
            ],
        ),
    )
    plan = plan_import(store, principal, _source(too_long))
    assert _problems(plan) == {
        "$.candidates[0].full_name": "too long: the limit is 200 characters",
        "$.candidates[1].email": "too long: the limit is 200 characters",
        "$.candidates[2].full_name": "control characters are not allowed",
        "$.candidates[3].external_id": "an external id holds no spaces or control characters",
        "$.candidates[4].applications[0].decisions[0].reason": (
            "too long: the limit is 4000 characters"
        ),
    }


# --- duplicates --------------------------------------------------------------------------------


def test_duplicates_by_external_id_or_e_mail_are_reported_and_skipped(store: Store) -> None:
    principal = _world(store)
    existing = store.candidates.create("Someone Already Here", email="Taken@Example.invalid")
    first = plan_import(store, principal, _source(_document(_candidate("C-1"))))
    run_import(store, principal, first)
    before = _totals(store)
    document = _document(
        _candidate("C-1", full_name="Changed Name"),  # imported before
        _candidate("C-2", email="taken@example.INVALID"),  # same address, other case
        _candidate("C-3"),  # new
    )
    plan = plan_import(store, principal, _source(document))
    assert plan.ok
    ids = dict(ImportRepository(store).records(first.batch_id, "candidate"))
    assert [d.as_dict() for d in plan.duplicates] == [
        {
            "entity": "candidate",
            "location": "$.candidates[0]",
            "reason": "external_id",
            "existing_id": ids["C-1"],
        },
        {
            "entity": "candidate",
            "location": "$.candidates[1]",
            "reason": "email",
            "existing_id": existing.id,
        },
    ]
    assert plan.counts["candidates"] == {"source": 3, "create": 1, "skipped": 2}
    assert plan.counts["interviews"] == {"source": 3, "create": 1, "skipped": 2}
    assert [(r.external_id, r.action, r.reason) for r in plan.records()] == [
        ("C-1", "skip", "external_id"),
        ("C-2", "skip", "email"),
        ("C-3", "create", ""),
    ]
    report = run_import(store, principal, plan)
    _assert_verified(report.data)
    assert report.data["counts"]["candidates"] == {
        "source": 3,
        "skipped": 2,
        "expected": 1,
        "imported": 1,
        "stored": 1,
        "match": True,
    }
    assert len(report.data["duplicates"]) == 2
    after = _totals(store)
    assert after["candidates"] == before["candidates"] + 1
    assert store.candidates.get(ids["C-1"]).full_name == "Person C-1"  # not overwritten

    # A requisition imported before is reused, not created again.
    requisition = {
        "external_id": "R-1",
        "title": "Analyst",
        "department": "Finance",
        "location": "Paris",
        "region": "EU",
    }
    again = _document(_candidate("C-4", applications=[{"requisition": "R-1"}]))
    run_import(
        store,
        principal,
        plan_import(store, principal, _source(again | {"requisitions": [requisition]})),
    )
    plan = plan_import(
        store,
        principal,
        _source(
            _document(
                _candidate("C-5", applications=[{"requisition": "R-1"}]),
                requisitions=[requisition],
            )
        ),
    )
    assert plan.ok and plan.counts["requisitions"] == {"source": 1, "create": 0, "skipped": 1}
    report = run_import(store, principal, plan)
    _assert_verified(report.data)
    assert len([r for r in store.requisitions.all() if r.title == "Analyst"]) == 1


# --- all or nothing ----------------------------------------------------------------------------


def _many(n: int) -> dict[str, Any]:
    candidates = []
    for i in range(n):
        applications: list[dict[str, Any]] = [{"requisition": "R-1", "status": "recorded"}]
        if i % 2:
            applications[0]["decisions"] = [
                {
                    "kind": "advance",
                    "reason": f"reason {i}",
                    "decided_at": "2025-01-01T00:00:00Z",
                    "decided_by": "rec.bob",
                },
                {
                    "kind": "recommend_hire",
                    "reason": "good",
                    "decided_at": "2025-01-02T00:00:00Z",
                    "decided_by": "lead.dana",
                },
            ]
        candidates.append(_candidate(f"C-{i:05d}", applications=applications))
    requisition = {
        "external_id": "R-1",
        "title": "Analyst",
        "department": "Finance",
        "location": "Paris",
        "region": "EU",
    }
    return _document(*candidates, requisitions=[requisition])


def _track_pseudonyms(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    create = store.candidates.create

    def tracking(*args: Any, **kwargs: Any) -> Any:
        candidate = create(*args, **kwargs)
        made.append(candidate.pseudonym)
        return candidate

    monkeypatch.setattr(store.candidates, "create", tracking)
    return made


def _assert_nothing_imported(
    store: Store, before: dict[str, int], batch_id: int, pseudonyms: list[str]
) -> None:
    assert _totals(store) == before
    imports = ImportRepository(store)
    assert imports.records(batch_id, "candidate") == []
    assert imports.records(batch_id, "requisition") == []
    conn = store.conn
    orphans = conn.execute(
        "SELECT (SELECT count(*) FROM interviews WHERE candidate_id NOT IN"
        " (SELECT id FROM candidates)) + (SELECT count(*) FROM decisions WHERE candidate_id"
        " NOT IN (SELECT id FROM candidates))"
    ).fetchone()[0]
    assert orphans == 0
    assert pseudonyms, "the failure should come after some candidates were written"
    for pseudonym in pseudonyms:
        with pytest.raises(NotFoundError):
            store.vault.key_for(pseudonym)  # the rolled-back candidates' keys are shredded
    batch = imports.get(batch_id)
    assert batch.status == "failed" and not batch.staged
    failed = store.audit.entries(action="import.failed")
    assert failed and failed[-1].details["batch"] == batch_id
    assert store.audit.entries(action="import.completed") == []
    assert store.audit.entries(action="candidate.imported") == []
    assert store.audit.first_broken_link() is None


def test_a_failure_in_the_middle_imports_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal = _world(store)
    plan = plan_import(store, principal, _source(_many(40)))
    assert plan.ok
    before = _totals(store)
    pseudonyms = _track_pseudonyms(store, monkeypatch)
    add = store.decisions.add
    calls = 0

    def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 17:
            raise RuntimeError("disk on fire")
        return add(*args, **kwargs)

    monkeypatch.setattr(store.decisions, "add", failing)
    with pytest.raises(ImportFailedError, match="rolled back and nothing was imported") as caught:
        run_import(store, principal, plan)
    assert caught.value.reason == "error:RuntimeError"
    assert len(pseudonyms) > 10
    _assert_nothing_imported(store, before, plan.batch_id, pseudonyms)
    assert store.audit.entries(action="import.failed")[-1].details["reason"] == (
        "error:RuntimeError"
    )
    # The batch is closed: importing it again needs a new dry run.
    with pytest.raises(ImportRejectedError, match="failed, not waiting"):
        run_import(store, principal, plan)


def test_an_unknown_user_discovered_late_imports_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal = _world(store)
    plan = plan_import(store, principal, _source(_many(10)))
    assert plan.ok
    before = _totals(store)
    pseudonyms = _track_pseudonyms(store, monkeypatch)
    by_username = store.users.by_username
    asked: list[str] = []

    def vanishing(username: str) -> Any:
        # The run checks both accounts up front; while writing, lead.dana is gone.
        asked.append(username)
        if username == "lead.dana" and asked.count("lead.dana") > 1:
            return None
        return by_username(username)

    monkeypatch.setattr(store.users, "by_username", vanishing)
    with pytest.raises(ImportFailedError) as caught:
        run_import(store, principal, plan)
    assert caught.value.reason == "reference_failed"
    assert [str(p) for p in caught.value.problems] == [
        "$.candidates[1].applications[0].decisions[1].decided_by: there is no account with "
        "this user name"
    ]
    _assert_nothing_imported(store, before, plan.batch_id, pseudonyms)


def test_a_store_that_changed_since_the_dry_run_imports_nothing(store: Store) -> None:
    principal = _world(store)
    plan = plan_import(store, principal, _source(_many(4)))
    before = _totals(store)
    with store.transaction():
        store.conn.execute("UPDATE users SET username = 'dana.lead' WHERE username = 'lead.dana'")
    with pytest.raises(ImportFailedError, match="changed since the dry run") as caught:
        run_import(store, principal, plan)
    assert caught.value.reason == "conflict"
    assert "$.candidates[1].applications[0].decisions[1].decided_by" in {
        p.location for p in caught.value.problems
    }
    assert _totals(store) == before
    assert ImportRepository(store).get(plan.batch_id).status == "failed"


def test_a_verification_mismatch_rolls_the_import_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    principal = _world(store)
    plan = plan_import(store, principal, _source(_many(3)))
    before = _totals(store)
    pseudonyms = _track_pseudonyms(store, monkeypatch)
    get = store.candidates.get

    def garbling(candidate_id: int) -> Any:
        candidate = get(candidate_id)
        if len(pseudonyms) > 1 and candidate.pseudonym == pseudonyms[1]:
            return type(candidate)(**{**candidate.__dict__, "full_name": "Somebody Else"})
        return candidate

    monkeypatch.setattr(store.candidates, "get", garbling)
    with pytest.raises(ImportFailedError, match="did not verify") as caught:
        run_import(store, principal, plan)
    report = caught.value.report
    assert report is not None and not report["ok"]
    assert report["mismatches"] == [
        "candidate at $.candidates[1] (id "
        f"{report['records'][2]['id']}): the store's canonical form has another SHA-256 than "
        "the source's",
        "round trip: $.candidates[1].full_name: differs",
    ]
    assert [entry["match"] for entry in report["records"]] == [True, True, False, True]
    assert all(row["match"] for row in report["counts"].values())
    assert ImportRepository(store).get(plan.batch_id).report == report
    _assert_nothing_imported(store, before, plan.batch_id, pseudonyms)


# --- scope, staging ----------------------------------------------------------------------------


def test_importing_needs_the_permission_and_stays_in_the_importers_regions(store: Store) -> None:
    _world(store)
    recruiter = _principal(store, "recruiter.rita", "recruiter")
    with pytest.raises(PermissionDeniedError):
        plan_import(store, recruiter, _source(_many(1)))
    eu_admin = _principal(store, "eu.admin", regions=["EU"])
    document = _many(1)
    document["requisitions"].append(
        {
            "external_id": "R-2",
            "title": "Trader",
            "department": "Sales",
            "location": "Chicago",
            "region": "US-IL",
        }
    )
    document["candidates"].append(
        _candidate("C-X", applications=[{"requisition_title": "Mobile engineer"}])
    )
    plan = plan_import(store, eu_admin, _source(document))
    assert _problems(plan) == {
        "$.requisitions[1].region": "you may not import requisitions into this region",
        "$.candidates[1].applications[0].requisition_title": (
            "no requisition within your regions has this title"
        ),
    }


def test_a_staged_file_waits_for_its_importer_and_is_dropped_after(store: Store) -> None:
    principal = _world(store)
    other = _principal(store, "other.admin")
    source = _source(_many(2))
    plan = plan_import(store, principal, source, stage=True)
    imports = ImportRepository(store)
    assert imports.get(plan.batch_id).staged
    assert imports.staged_source(plan.batch_id) == source.data
    with pytest.raises(NotFoundError):
        staged_plan(store, other, plan.batch_id)
    again = staged_plan(store, principal, plan.batch_id)
    assert again.ok and again.batch_id == plan.batch_id and again.counts == plan.counts
    _assert_verified(run_import(store, principal, again).data)
    assert imports.staged_source(plan.batch_id) is None
    with pytest.raises(ImportRejectedError, match="no file waiting"):
        staged_plan(store, principal, plan.batch_id)

    # A file with problems is never staged; an old staged file expires.
    bad = plan_import(store, principal, _source(_document()), stage=True)
    assert not imports.get(bad.batch_id).staged
    waiting = plan_import(store, principal, _source(_many(1)), stage=True)
    with store.transaction():
        store.conn.execute(
            "UPDATE import_batches SET created_at = '2000-01-01T00:00:00.000000Z' WHERE id = ?",
            (waiting.batch_id,),
        )
    recent_batches(store, principal)
    expired = imports.get(waiting.batch_id)
    assert expired.status == "discarded" and not expired.staged


# --- scale -------------------------------------------------------------------------------------


def test_a_thousand_candidates(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    principal = _world(store)
    source = _source(_many(1000))
    started = time.perf_counter()
    plan = plan_import(store, principal, source)
    planned = time.perf_counter()
    assert plan.ok
    report = run_import(store, principal, plan)
    done = time.perf_counter()
    _assert_verified(report.data)
    assert report.data["counts"]["candidates"]["stored"] == 1000
    assert report.data["counts"]["decisions"]["stored"] == 1000
    with capsys.disabled():
        print(
            f"\n1000 candidates ({len(source.data) / 1024:.0f} KiB): dry run "
            f"{planned - started:.2f} s, import + verification {done - planned:.2f} s"
        )


# --- the web -----------------------------------------------------------------------------------

Web = tuple[Flask, Store]


@pytest.fixture
def import_web(web: Web) -> Web:
    """The web app with the imports blueprint (registered here until the app lists it)."""
    app, store = web
    if "imports.index" not in app.view_functions:
        from webui.views import imports

        app.register_blueprint(imports.bp)
    return app, store


def test_the_imports_blueprint_is_wired_into_the_app() -> None:
    from webui.views import blueprints, imports

    assert imports.bp in blueprints(), "add imports.bp to webui/views/__init__.py blueprints()"


def _upload(client: Any, token: str, name: str, data: bytes) -> Any:
    return client.post(
        "/imports",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_the_web_flow_with_csrf(import_web: Web) -> None:
    app, store = import_web
    _world(store)
    make_user(store, "web.admin", "hr_admin", departments=["*"], regions=["*"])
    make_user(store, "web.recruiter", "recruiter", departments=["*"], regions=["*"])
    client = app.test_client()
    login(client, "web.admin")
    page = client.get("/imports")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and "no-imports" in html
    token = csrf_token_from(html)
    data = json.dumps(
        _document(
            _candidate("W-1", full_name=SCRIPT),
            _candidate("W-2", full_name="Zoë Web", email="zoe@example.invalid"),
        )
    ).encode()

    # No CSRF token: refused, nothing planned.
    refused = client.post(
        "/imports",
        data={"file": (io.BytesIO(data), "w.json")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400 and b"csrf_failed" in refused.get_data()
    assert ImportRepository(store).recent() == []

    # No file chosen.
    assert client.post("/imports", data={"csrf_token": token}).status_code == 422

    # The dry run: shown, escaped, nothing imported yet.
    before = _totals(store)
    planned = _upload(client, token, "w.json", data)
    assert planned.status_code == 200
    html = planned.get_data(as_text=True)
    assert "plan-ok" in html and "Import now" in html
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert _totals(store) == before
    (batch,) = ImportRepository(store).recent()
    assert batch.status == "planned" and batch.staged

    # Another role is refused; confirming needs the token too.
    other = app.test_client()
    login(other, "web.recruiter")
    assert other.get("/imports").status_code == 403
    assert client.post(f"/imports/{batch.id}/confirm").status_code == 400
    assert _totals(store) == before

    confirmed = client.post(f"/imports/{batch.id}/confirm", data={"csrf_token": token})
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"].endswith(f"/imports/{batch.id}")
    assert _totals(store)["candidates"] == before["candidates"] + 2
    shown = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "report-ok" in shown and "2 of 2 records" in shown
    assert "The import is complete" in shown
    assert "Import now" not in shown  # the file is gone once imported
    report = client.get(f"/imports/{batch.id}/report.json")
    assert report.status_code == 200 and report.mimetype == "application/json"
    body = report.get_data(as_text=True)
    assert json.loads(body)["ok"] is True
    _no_personal_data(body, "Zoë", "zoe@", "W-1", "W-2", "script")
    listed = client.get("/imports").get_data(as_text=True)
    assert f"/imports/{batch.id}" in listed and "imported and verified" in listed

    # Confirming twice does not import twice.
    again = client.post(f"/imports/{batch.id}/confirm", data={"csrf_token": token})
    assert again.status_code == 303
    assert _totals(store)["candidates"] == before["candidates"] + 2


def test_the_web_shows_problems_and_refuses_large_files(
    import_web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = import_web
    _world(store)
    make_user(store, "web.admin", "hr_admin", departments=["*"], regions=["*"])
    client = app.test_client()
    login(client, "web.admin")
    token = csrf_token_from(client.get("/imports").get_data(as_text=True))
    text = (
        "external_id,full_name,residence_region,language,requisition_title\n"
        "C-1,Ann,Mars,en,Backend engineer\n"
    )
    reply = _upload(client, token, "bad.csv", text.encode())
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert "<code>2:3</code>" in html and "residence_region" in html
    assert "Import now" not in html
    (batch,) = ImportRepository(store).recent()
    assert batch.status == "rejected"
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "<code>2:3</code>" in page and "dry run found problems" in page
    big = _upload(client, token, "big.json", b" " * (MAX_SOURCE_BYTES + 1))
    assert big.status_code == 413

    # Discarding a staged file.
    reply = _upload(client, token, "ok.json", json.dumps(_document(_candidate("D-1"))).encode())
    assert reply.status_code == 200
    staged = ImportRepository(store).recent()[0]
    gone = client.post(f"/imports/{staged.id}/discard", data={"csrf_token": token})
    assert gone.status_code == 303
    assert ImportRepository(store).get(staged.id).status == "discarded"
    assert client.post(f"/imports/{staged.id}/confirm", data={"csrf_token": token}).status_code == (
        303
    )
    assert store.candidates.count() == 0

    # A failure while importing: rolled back, and the batch page says so.
    reply = _upload(client, token, "ok.json", json.dumps(_many(3)).encode())
    assert reply.status_code == 200
    staged = ImportRepository(store).recent()[0]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store.decisions, "add", broken)
    failed = client.post(f"/imports/{staged.id}/confirm", data={"csrf_token": token})
    assert failed.status_code == 303
    page = client.get(f"/imports/{staged.id}").get_data(as_text=True)
    assert "failed, rolled back" in page and "report-failed" in page
    assert "error:RuntimeError" in page
    assert store.candidates.count() == 0


# --- the command line --------------------------------------------------------------------------


def _args(appliance: Appliance, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--data-dir")
    parser.add_argument("--passphrase-file", type=Path)
    add_import_arguments(parser)
    return parser.parse_args([*argv, "--config", str(appliance.config_path)])


def test_the_cli_dry_run_and_import(
    appliance: Appliance,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _world(store)
    monkeypatch.setenv("APPLIANCE_PASSPHRASE", appliance.passphrase)
    example = str(EXAMPLES / "import-example.json")
    assert cmd_import(_args(appliance, example, "--as", "importer", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "ready to import" in out and "dry run: nothing was imported" in out
    assert store.candidates.count() == 0

    report_path = tmp_path / "report.json"
    args = _args(appliance, example, "--as", "importer", "--report", str(report_path))
    assert cmd_import(args) == 0
    out = capsys.readouterr().out
    assert "verified" in out and "round trip (re-export as import-v1): identical" in out
    assert json.loads(report_path.read_text(encoding="utf-8"))["ok"] is True
    assert store.candidates.count() == 3

    # Again: everything is a duplicate and skipped.
    assert cmd_import(_args(appliance, example, "--as", "importer")) == 0
    assert "skipped" in capsys.readouterr().out
    assert store.candidates.count() == 3

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_document(_candidate("C-1", residence_region="Mars"))))
    refused = cmd_import(_args(appliance, str(bad), "--as", "importer"))
    assert refused == ImportRejectedError.exit_code == 31
    assert "$.candidates[0].residence_region" in capsys.readouterr().out
    with pytest.raises(PermissionDeniedError):
        cmd_import(_args(appliance, example, "--as", "rec.bob"))


def test_a_copy_of_the_example_round_trips_with_every_default_spelled_out(store: Store) -> None:
    """The re-export fills in defaults; importing it elsewhere gives the same records."""
    principal = _world(store)
    document = json.loads((EXAMPLES / "import-example.json").read_text(encoding="utf-8"))
    spelled = copy.deepcopy(document)
    for candidate in spelled["candidates"]:
        for application in candidate["applications"]:
            application.setdefault("round", 1)
            application.setdefault("status", "planned")
            application.setdefault("kind", "upload")
            application.setdefault("language", candidate["language"])
    plan = plan_import(store, principal, _source(spelled))
    _assert_verified(run_import(store, principal, plan).data)
