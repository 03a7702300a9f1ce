"""Post-hire outcomes (issue 17, item 2): entered per hired person or imported from CSV/XLSX
with a dry run and line-precise errors; audited without values; only for hires; erased with
the candidate and carried in the data-subject export."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import Workbook

from appliance.accounts.auth import principal_of
from appliance.hiring.common import InvalidInputError
from appliance.hiring.outcome_import import OutcomeImportError, plan_outcomes
from appliance.hiring.outcomes import hires, record_outcome, record_rating, remove_rating
from appliance.platform.errors import NotFoundError
from appliance.privacy.erasure import erase_candidate
from appliance.privacy.subject_export import collect
from appliance.security.permissions import PermissionDeniedError, Principal
from appliance.store import Store
from appliance.store.outcomes import OutcomeFields
from tests.support.hiring_world import Applicant, World, build

from .conftest import Appliance, make_user


def _person(store: Store, name: str, role: str = "hr_admin") -> Principal:
    return principal_of(
        store.users.get(make_user(store, name, role, departments=["*"], regions=["*"]))
    )


def _world(store: Store, admin: Principal) -> World:
    return build(
        store,
        admin,
        [
            Applicant((7.0, 6.0), "hire"),
            Applicant((8.0, 8.0), "hire"),
            Applicant((4.0, 5.0), "reject"),
            Applicant((6.0, 6.0), None),
        ],
    )


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_record_an_outcome_and_ratings(store: Store) -> None:
    admin = _person(store, "hr.admin")
    world = _world(store, admin)
    (first, _), (second, _), _, _ = world.candidates
    listed = hires(store, admin)
    assert {h.candidate.id for h in listed} == {first, second}
    assert all(h.outcome is None for h in listed)
    outcome = record_outcome(
        store,
        admin,
        candidate_id=first,
        requisition_id=world.requisition_id,
        employee_id=" E-100 ",
        fields=OutcomeFields("2026-01-05", "passed"),
    )
    assert (outcome.employee_id, outcome.start_date, outcome.probation) == (
        "E-100",
        "2026-01-05",
        "passed",
    )
    outcome = record_rating(
        store,
        admin,
        candidate_id=first,
        requisition_id=world.requisition_id,
        rated_on="2026-06-30",
        rating="4,5",
    )
    assert [(r.rated_on, r.rating) for r in outcome.ratings] == [("2026-06-30", 4.5)]
    entries = [e for e in store.audit.entries() if e.action.startswith("outcome.")]
    assert [e.action for e in entries] == ["outcome.recorded", "outcome.rating_recorded"]
    assert entries[0].details["fields"] == ["employee_id", "probation", "start_date"]
    assert "E-100" not in json.dumps([e.details for e in entries])  # names fields, not values
    outcome = remove_rating(
        store,
        admin,
        candidate_id=first,
        requisition_id=world.requisition_id,
        rated_on="2026-06-30",
    )
    assert outcome.ratings == ()


@pytest.mark.parametrize(
    ("fields", "employee", "problem"),
    [
        (OutcomeFields("2026-01-05", "maybe"), "E1", "probation must be one of"),
        (OutcomeFields("2026-01-05", "passed", "2026-02-01", None), "E1", "voluntarily"),
        (OutcomeFields("2026-03-05", "passed", "2026-02-01", True), "E1", "before the start"),
        (OutcomeFields(None, "passed"), "E1", "needs the start date"),
        (OutcomeFields("2026-01-05", "passed", "2999-01-01", False), "E1", "in the future"),
        (OutcomeFields("2026-01-05"), "../etc/passwd", "employee id is 1 to 64"),
        (OutcomeFields("2026-01-05"), "", "employee id is 1 to 64"),
    ],
)
def test_bad_outcomes_are_refused_with_the_reason(
    store: Store, fields: OutcomeFields, employee: str, problem: str
) -> None:
    admin = _person(store, "hr.admin")
    world = _world(store, admin)
    with pytest.raises(InvalidInputError, match=problem):
        record_outcome(
            store,
            admin,
            candidate_id=world.candidates[0][0],
            requisition_id=world.requisition_id,
            employee_id=employee,
            fields=fields,
        )
    assert store.outcomes.for_candidate(world.candidates[0][0]) == []


def test_only_hires_have_outcomes_and_only_hr_records_them(store: Store) -> None:
    admin = _person(store, "hr.admin")
    world = _world(store, admin)
    rejected = world.candidates[2][0]
    with pytest.raises(NotFoundError):
        record_outcome(
            store,
            admin,
            candidate_id=rejected,
            requisition_id=world.requisition_id,
            employee_id="E9",
            fields=OutcomeFields("2026-01-05"),
        )
    record_outcome(
        store,
        admin,
        candidate_id=world.candidates[0][0],
        requisition_id=world.requisition_id,
        employee_id="E1",
        fields=OutcomeFields("2026-01-05"),
    )
    with pytest.raises(InvalidInputError, match="belongs to another hire"):
        record_outcome(
            store,
            admin,
            candidate_id=world.candidates[1][0],
            requisition_id=world.requisition_id,
            employee_id="E1",
            fields=OutcomeFields("2026-01-05"),
        )
    for role in ("recruiter", "business_lead", "interviewer", "auditor", "tech_expert"):
        other = _person(store, f"someone.{role}", role)
        with pytest.raises(PermissionDeniedError):
            hires(store, other)
    # A hire withdrawn (a later rejection) leaves the list.
    with store.transaction():
        store.decisions.add(
            world.candidates[1][0], world.requisition_id, "reject", "withdrawn", admin.user_id
        )
    assert [h.candidate.id for h in hires(store, admin)] == [world.candidates[0][0]]


def test_import_dry_run_then_apply(store: Store) -> None:
    admin = _person(store, "hr.admin")
    world = _world(store, admin)
    (first, ref1), (second, ref2) = world.candidates[:2]
    data = _csv(
        "employee_id,candidate,start_date,probation,left_on,left_voluntarily,rating_date,rating",
        f"E-1,{ref1},2025-02-03,passed,,,2025-12-31,4",
        "E-1,,,,,,2026-06-30,3.5",
        f"E-2,{ref2},2025-03-01,failed,2025-06-01,no,,",
    )
    plan = plan_outcomes(store, admin, "outcomes.csv", data)
    assert plan.ok and not plan.applied
    assert (plan.linked, plan.updated, plan.ratings, plan.lines) == (2, 0, 2, 3)
    assert store.outcomes.for_candidate(first) == []  # a dry run writes nothing
    done = plan_outcomes(store, admin, "outcomes.csv", data, apply=True)
    assert done.applied
    one = store.outcomes.by_employee("E-1")
    two = store.outcomes.by_employee("E-2")
    assert one is not None and two is not None
    assert (one.candidate_id, one.start_date, one.probation) == (first, "2025-02-03", "passed")
    assert [r.rating for r in one.ratings] == [4.0, 3.5]
    assert (two.candidate_id, two.left_on, two.left_voluntarily) == (second, "2025-06-01", False)
    # The same file again changes nothing; a later file updates by employee id alone.
    again = plan_outcomes(store, admin, "outcomes.csv", data)
    assert (again.linked, again.updated, again.unchanged, again.ratings) == (0, 0, 2, 0)
    later = plan_outcomes(
        store,
        admin,
        "later.csv",
        _csv("employee_id,left_on,left_voluntarily", "E-1,2026-09-30,yes"),
        apply=True,
    )
    assert (later.updated, later.linked) == (1, 0)
    one = store.outcomes.by_employee("E-1")
    assert one is not None and (one.left_on, one.left_voluntarily) == ("2026-09-30", True)
    actions = [e.action for e in store.audit.entries() if e.action.startswith("outcome.")]
    assert actions.count("outcome.imported") == 2 and actions.count("outcome.recorded") == 3


def test_import_from_xlsx_with_real_dates(store: Store) -> None:
    from datetime import datetime

    admin = _person(store, "hr.admin")
    world = _world(store, admin)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["employee_id", "candidate", "start_date", "rating_date", "rating"])
    sheet.append([1001, world.candidates[0][1], datetime(2025, 4, 1), datetime(2026, 4, 1), 5])
    buffer = io.BytesIO()
    book.save(buffer)
    plan = plan_outcomes(store, admin, "hr.xlsx", buffer.getvalue(), apply=True)
    assert plan.applied, plan.problems
    outcome = store.outcomes.by_employee("1001")
    assert outcome is not None and outcome.start_date == "2025-04-01"
    assert [r.rating for r in outcome.ratings] == [5.0]


def test_import_errors_name_the_line_and_column(store: Store) -> None:
    admin = _person(store, "hr.admin")
    world = _world(store, admin)
    ref1, ref2, rejected = (c[1] for c in world.candidates[:3])
    data = _csv(
        "employee_id,candidate,start_date,probation,left_on,left_voluntarily,rating_date,rating",
        f"E-1,{ref1},2025-02-30,passed,,,,",  # 2: no 30 February
        f"E-2,{rejected},2025-01-01,,,,,",  # 3: not hired
        "E-3,,2025-01-01,,,,,",  # 4: new id without a candidate
        f"E-4,{ref2},2025-01-01,probably,,,,",  # 5: bad probation
        "E-4,,2025-01-02,,,,,",  # 6: disagrees with line 5
        "E-5,cand-0000000000000000,2025-01-01,,,,,",  # 7: unknown reference
        "E-4,,,,,,2026-01-01,7",  # 8: rating off the scale
        "E-4,,,,,,2026-01-01,",  # 9: date without a rating
        "E-4,,,,2026-01-01,,,",  # 10: leaving date needs voluntary
        "a,b,c,d,e,f,g,h,i,j",  # 11: too many cells
    )
    plan = plan_outcomes(store, admin, "bad.csv", data, apply=True)
    assert not plan.applied
    found = {(p.line, p.column) for p in plan.problems}
    for expected in [
        (2, "start_date"),
        (3, "candidate"),
        (4, "candidate"),
        (5, "probation"),
        (6, "start_date"),
        (7, "candidate"),
        (8, "rating"),
        (9, "rating"),
        (11, None),
    ]:
        assert expected in found, (expected, [str(p) for p in plan.problems])
    assert not any(p.line == 10 for p in plan.problems)
    assert str(next(p for p in plan.problems if p.line == 2)).startswith(
        "line 2, column start_date:"
    )
    assert store.outcomes.by_employee("E-1") is None  # nothing written from a bad file
    leaving = plan_outcomes(
        store,
        admin,
        "leaving.csv",
        _csv("employee_id,candidate,start_date,left_on", f"E-1,{ref1},2025-01-01,2026-01-01"),
    )
    assert [str(p) for p in leaving.problems] == [
        "line 2: employee E-1: a leaving date needs whether the person left voluntarily"
        " (yes or no), and back"
    ]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("x.csv", b"", "empty"),
        ("x.csv", b"\xff\xfe\x00e\x00m", "not UTF-8"),
        ("x.csv", b"name,score\nA,1\n", "unknown column 'name'"),
        ("x.csv", b"candidate\nA\n", "employee_id is required"),
        ("x.csv", b"employee_id,employee_id\n1,2\n", "appears twice"),
        ("x.csv", b'employee_id\n"unterminated\n', "malformed"),
        ("x.xlsx", b"PK\x03\x04 not really a workbook", "cannot be read"),
        ("x.pdf", b"%PDF-1.4", ".csv or .xlsx"),
        ("x.csv", b"employee_id\n" + b"E1\n" * 20_001, "more than 20000 lines"),
    ],
)
def test_files_that_are_not_outcome_files(
    store: Store, name: str, data: bytes, message: str
) -> None:
    admin = _person(store, "hr.admin")
    with pytest.raises(OutcomeImportError, match=message):
        plan_outcomes(store, admin, name, data)


def test_outcomes_go_with_erasure_and_into_the_subject_export(
    appliance: Appliance, store: Store
) -> None:
    admin = _person(store, "hr.admin")
    world = _world(store, admin)
    first = world.candidates[0][0]
    record_outcome(
        store,
        admin,
        candidate_id=first,
        requisition_id=world.requisition_id,
        employee_id="E-77",
        fields=OutcomeFields("2025-01-05", "passed"),
    )
    record_rating(
        store,
        admin,
        candidate_id=first,
        requisition_id=world.requisition_id,
        rated_on="2025-12-31",
        rating=4,
    )
    exported = collect(store, admin, store.candidates.get(first))
    assert exported["hire_outcomes"][0]["employee_id"] == "E-77"
    assert exported["performance_ratings"][0]["rating"] == 4.0
    erasure = erase_candidate(store, appliance.spool(), admin, first, "asked")
    assert erasure.counts.get("hire_outcomes") == 1
    assert erasure.counts.get("performance_ratings") == 1
    assert store.outcomes.by_employee("E-77") is None
    rows = store.conn.execute(
        "SELECT count(*) FROM performance_ratings WHERE candidate_id = ?", (first,)
    ).fetchone()
    assert rows[0] == 0


def test_an_import_cannot_reach_hires_out_of_scope(store: Store) -> None:
    admin = _person(store, "hr.admin")
    world = _world(store, admin)  # jobs in US-NYC
    record_outcome(
        store,
        admin,
        candidate_id=world.candidates[0][0],
        requisition_id=world.requisition_id,
        employee_id="NYC-1",
        fields=OutcomeFields("2025-01-05", "passed"),
    )
    eu = principal_of(
        store.users.get(make_user(store, "hr.eu", "hr_admin", departments=["*"], regions=["EU"]))
    )
    plan = plan_outcomes(
        store, eu, "x.csv", _csv("employee_id,probation", "NYC-1,failed"), apply=True
    )
    assert not plan.applied and [p.column for p in plan.problems] == ["candidate"]
    assert "NYC-1 is new" in str(plan.problems[0])  # its existence is not told
    outcome = store.outcomes.by_employee("NYC-1")
    assert outcome is not None and outcome.probation == "passed"


def test_a_damaged_workbook_is_refused_not_a_crash(store: Store) -> None:
    import zipfile

    admin = _person(store, "hr.admin")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["employee_id", "start_date"])
    for index in range(200):
        sheet.append([f"E{index}", "2025-01-01"])
    buffer = io.BytesIO()
    book.save(buffer)
    damaged = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith("sheet1.xml"):
                data = data[: len(data) // 2]
            target.writestr(item, data)
    with pytest.raises(OutcomeImportError, match="cannot be read"):
        plan_outcomes(store, admin, "hr.xlsx", damaged.getvalue())
