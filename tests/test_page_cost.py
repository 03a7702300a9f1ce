"""The pages people keep open stay cheap while the box works (issue 16, item 6): the dashboard
and the candidate list in a fixed number of queries however many candidates they show, the
batched queries answering exactly what one query per row did; a report page reading each thing
once and showing what it showed before; competency models kept in memory only as committed (so
another process's writes are seen); and the templates' translations exactly Flask-Babel's."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import render_template_string
from flask_babel import force_locale
from flask_babel import gettext as babel_gettext
from flask_babel import ngettext as babel_ngettext
from markupsafe import Markup

from appliance.accounts.auth import principal_of
from appliance.analysis import report_document as report_document_module
from appliance.analysis.report_document import (
    report_document,
    report_page,
    visual_cues_allowed_now,
)
from appliance.analysis.report_facts import answer_delivery, timed_words
from appliance.compliance.common import regions_of
from appliance.compliance.policy import PolicyAction, decide_for_interview
from appliance.hiring.candidate_views import search_candidates
from appliance.hiring.dashboard import awaiting_decision, dashboard
from appliance.hiring.report_views import report_detail
from appliance.hiring.review import DECISIONS
from appliance.security.permissions import Action, Principal, Scope, Visibility, require
from appliance.store import Store
from appliance.store.base import limit_clause
from appliance.store.competency import DimensionSpec, ModelSpec
from appliance.store.hiring import Interview
from tests.conftest import Appliance, login, make_user
from tests.support.analysed_reports import analysed_report

STATUSES = ("planned", "recorded", "analysed", "failed")


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements this thread runs on the main database inside the block."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        store.conn.set_trace_callback(None)


def _admin(store: Store) -> Principal:
    return principal_of(store.users.get(make_user(store, "page.admin", "hr_admin", regions=["*"])))


def _people(store: Store, count: int, *, start: int = 0) -> list[tuple[int, list[Interview]]]:
    """Candidates with 0 to 2 interviews across an EU and a CN job, in varied statuses."""
    jobs = {
        (j.title, j.region): j.id
        for j in store.requisitions.all()
        if j.title in ("Backend", "Sales lead")
    }
    if not jobs:
        with store.transaction():
            eu = store.requisitions.create("Backend", "Engineering", "Berlin", "EU")
            cn = store.requisitions.create("Sales lead", "Sales", "Shanghai", "CN")
        jobs = {("Backend", "EU"): eu.id, ("Sales lead", "CN"): cn.id}
    made = []
    for n in range(start, start + count):
        candidate = store.candidates.create(f"Person {n}", email=f"p{n}@example.invalid")
        interviews = []
        for k, job in enumerate(list(jobs.values())[: n % 3]):
            interview = store.interviews.create(candidate.id, job, round_no=k + 1)
            with store.transaction():
                store.interviews.set_status(interview.id, STATUSES[(n + k) % len(STATUSES)])
            interviews.append(store.interviews.get(interview.id))
        made.append((candidate.id, interviews))
    return made


def _visibilities(store: Store, people: list[tuple[int, list[Interview]]]) -> list[Visibility]:
    """Every kind of scope: all, one region, one department, and only one's own interviews."""
    own = make_user(store, "page.interviewer", "interviewer")
    with store.transaction():
        for _, interviews in people[::2]:
            for interview in interviews[:1]:
                store.interviews.assign(interview.id, own, "interviewer")
    return [
        Visibility(Scope.ALL, 1, (), ()),
        Visibility(Scope.REGION, 1, (), ("EU",)),
        Visibility(Scope.DEPARTMENT, 1, ("Sales",), ("EU", "CN")),
        Visibility(Scope.OWN, own, (), ()),
    ]


def test_batched_interviews_and_counts_answer_as_one_query_per_candidate(store: Store) -> None:
    people = _people(store, 12)
    ids = [candidate_id for candidate_id, _ in people]
    for visibility in _visibilities(store, people):
        one_by_one = {cid: store.interviews.for_candidate_visible(cid, visibility) for cid in ids}
        assert store.interviews.for_candidates_visible(ids, visibility) == {
            cid: found for cid, found in one_by_one.items() if found
        }
        by_status = store.candidates.count_visible_by_status(visibility)
        for status in (*STATUSES, "cancelled"):
            assert by_status.get(status, 0) == store.candidates.count_visible(
                visibility, status=status
            )
    assert store.requisitions.many([]) == {}
    jobs = store.requisitions.all()
    assert store.requisitions.many([j.id for j in jobs] + [999]) == {j.id: j for j in jobs}


def _report(store: Store, interview_id: int) -> int:
    with store.transaction():
        job = store.jobs.enqueue("analyse", max_open=100_000, max_attempts=1)
        return store.reports.create(interview_id, job.id, {"steps_run": []}).id


def test_report_stamps_and_newest_decisions(store: Store) -> None:
    admin = _admin(store)
    (first, [one, *_]), (second, [two, *_]) = [p for p in _people(store, 6) if len(p[1]) > 0][:2]
    for interview in (one, one, one, two):
        _report(store, interview.id)
    stamps = store.reports.stamps_for_interviews([one.id, two.id, 999])
    for interview in (one, two):
        reports = store.reports.for_interview(interview.id)
        assert stamps[interview.id] == (len(reports), max(r.created_at for r in reports))
    assert set(stamps) == {one.id, two.id}

    job = one.requisition_id
    with store.transaction():
        for kind in ("advance", "reject", "recommend_hire"):
            store.decisions.add(first, job, kind, "a private reason", admin.user_id)
        store.decisions.add(second, two.requisition_id, "hire", "another reason", admin.user_id)
    newest = store.decisions.newest_of_kinds([first, second], DECISIONS)
    expected: dict[tuple[int, int], str] = {}
    for candidate in (first, second):
        for d in store.decisions.for_candidate(candidate):
            if d.kind in DECISIONS:
                key = (candidate, d.requisition_id)
                expected[key] = max(expected.get(key, ""), d.decided_at)
    assert newest == expected and len(newest) == 2
    # The reasons are never opened: the answer is the same once the candidate's key is gone.
    store.vault.shred(store.candidates.get(first).pseudonym)
    assert store.decisions.newest_of_kinds([first, second], DECISIONS) == expected


def _awaiting_one_by_one(store: Store, visibility: Visibility) -> list[tuple[int, int, str]]:
    """The dashboard's rule as it was written first: one query per candidate and interview."""
    found = []
    for candidate in store.candidates.visible(visibility, status="analysed", limit=200):
        decided: dict[int, str] = {}
        for d in store.decisions.for_candidate(candidate.id):
            if d.kind in DECISIONS:
                decided[d.requisition_id] = max(decided.get(d.requisition_id, ""), d.decided_at)
        for interview in store.interviews.for_candidate_visible(candidate.id, visibility):
            reports = store.reports.for_interview(interview.id)
            if interview.status != "analysed" or not reports:
                continue
            newest = max(r.created_at for r in reports)
            if decided.get(interview.requisition_id, "") < newest:
                found.append((interview.id, len(reports), newest))
    return sorted(found, key=lambda item: item[2], reverse=True)


def _analysed_world(store: Store, admin: Principal, start: int, count: int) -> None:
    """`count` more candidates, every analysed interview reported, some decided on since."""
    for n, (candidate_id, interviews) in enumerate(_people(store, count, start=start)):
        for interview in interviews:
            if interview.status == "analysed":
                _report(store, interview.id)
                if n % 4 == 1:
                    with store.transaction():
                        store.decisions.add(
                            candidate_id, interview.requisition_id, "reject", "no", admin.user_id
                        )
                if n % 4 == 2:  # a later answer after the decision: waiting again
                    _report(store, interview.id)


def test_the_dashboard_shows_what_it_showed_in_the_same_queries_for_more_people(
    store: Store,
) -> None:
    admin = _admin(store)
    _analysed_world(store, admin, 0, 12)
    visibility = require(admin, Action.VIEW_REPORTS)
    assert awaiting_decision(store, visibility)
    with statements(store) as few:
        shown = dashboard(store, admin)
    waiting = len(shown.awaiting)
    assert [(a.interview.id, a.reports, a.newest) for a in shown.awaiting] == (
        _awaiting_one_by_one(store, visibility)
    )
    assert shown.status_counts == {
        status: store.candidates.count_visible(
            require(admin, Action.VIEW_CANDIDATES), status=status
        )
        for status in shown.status_counts or {}
    }

    _analysed_world(store, admin, 12, 24)
    with statements(store) as many:
        shown = dashboard(store, admin)
    assert [(a.interview.id, a.reports, a.newest) for a in shown.awaiting] == (
        _awaiting_one_by_one(store, visibility)
    )
    assert len(shown.awaiting) > waiting and len(many) == len(few) <= 12


def test_the_candidate_list_takes_the_same_queries_for_a_longer_page(store: Store) -> None:
    admin = _admin(store)
    _people(store, 6)
    visibility = require(admin, Action.VIEW_CANDIDATES)
    with statements(store) as few:
        rows, _more = search_candidates(store, visibility, page_size=3)
    _people(store, 30, start=6)
    with statements(store) as many:
        rows, _more = search_candidates(store, visibility, page_size=20)
    assert len(rows) == 20 and len(many) == len(few) <= 6
    for row in rows:
        assert [i for i, _job in row.interviews] == store.interviews.for_candidate_visible(
            row.candidate.id, visibility
        )
        assert all(job.id == i.requisition_id for i, job in row.interviews)


def _without_time(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "generated_at"}


def test_the_report_page_reads_each_thing_once_and_shows_the_same(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    admin = _admin(store)
    with store.transaction():
        model = store.competency.save(
            ModelSpec("Scored", (DimensionSpec("problem_solving", "Problem solving", 1.0),))
        )
    _interview, report_id, _recording = analysed_report(
        appliance, store, tmp_path, competency_model_id=model.id
    )
    with store.transaction():
        store.overrides.add(report_id, "problem_solving", 6.0, 8.0, "seen live", admin.user_id)
    visibility = require(admin, Action.VIEW_REPORTS)
    report_page(store, admin, report_id)  # the job's model is read once, by the first view
    with statements(store) as ran:
        detail, document = report_page(store, admin, report_id)
    assert detail == report_detail(store, visibility, report_id)
    assert _without_time(document) == _without_time(report_document(store, admin, report_id))
    assert len([s for s in ran if "FROM reports t" in s]) == 1  # opened once, not three times
    assert len([s for s in ran if "FROM score_overrides t" in s]) == 1
    assert not [s for s in ran if "competency_" in s]

    outsider = principal_of(
        store.users.get(make_user(store, "page.cn", "hr_admin", regions=["CN"]))
    )
    with pytest.raises(Exception, match="no report"):
        report_page(store, outsider, report_id)


def test_every_report_view_is_logged_and_others_see_nothing(
    web: Any, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    make_user(store, "page.hr", "hr_admin", regions=["EU"])
    make_user(store, "page.cn", "hr_admin", regions=["CN"])
    _interview, report_id, _recording = analysed_report(appliance, store, tmp_path)
    reads = len(store.audit.entries(action="candidate.read"))
    with app.test_client() as client:
        login(client, "page.hr")
        for _ in range(2):
            assert client.get(f"/reports/{report_id}").status_code == 200
    logged = store.audit.entries(action="candidate.read")[reads:]
    assert [e.details for e in logged] == [{"what": f"report:{report_id}"}] * 2
    with app.test_client() as client:
        login(client, "page.cn")
        assert client.get(f"/reports/{report_id}").status_code == 404
    assert len(store.audit.entries(action="candidate.read")) == reads + 2


def _dims() -> tuple[DimensionSpec, ...]:
    return (DimensionSpec("analysis", "Analysis", 0.5), DimensionSpec("collab", "Teamwork", 0.5))


def test_a_saved_model_is_read_from_the_database_once(store: Store) -> None:
    with store.transaction():
        saved = store.competency.save(ModelSpec("Kept", _dims()))
    assert saved.id is not None
    with statements(store) as first:
        assert store.competency.spec(saved.id) == saved
    with statements(store) as again:
        assert store.competency.spec(saved.id) == saved
    assert first and not again


def test_what_a_rolled_back_transaction_read_is_never_kept(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        ghost = store.competency.save(ModelSpec("Ghost", _dims()))
        assert ghost.id is not None and store.competency.spec(ghost.id).name == "Ghost"
        raise RuntimeError("rolled back")
    with store.transaction():
        real = store.competency.save(ModelSpec("Real", _dims()[:1]))
    assert real.id is not None and real.id == ghost.id  # SQLite hands the id out again
    assert store.competency.spec(real.id) == real


def test_a_half_saved_model_is_never_seen(store: Store) -> None:
    with pytest.raises(Exception, match="CHECK"):  # weights must be positive: the 2nd fails
        store.competency.save(
            ModelSpec("Half", (DimensionSpec("a", "A", 0.5), DimensionSpec("b", "B", 0.0)))
        )
    assert store.competency.latest("Half") is None


def test_models_another_process_saves_are_seen(appliance: Appliance, store: Store) -> None:
    with store.transaction():
        first = store.competency.save(ModelSpec("Shared", _dims()))
    assert first.id is not None and store.competency.spec(first.id) == first
    other = appliance.open_store()  # its own connection, as the worker's or a gunicorn worker's
    try:
        with other.transaction():
            second = other.competency.save(ModelSpec("Shared", _dims()[:1]))
    finally:
        other.close()
    assert second.id is not None
    assert store.competency.latest("Shared") == second
    assert store.competency.spec(second.id).dimensions == _dims()[:1]
    assert store.competency.spec(first.id) == first


# --- the templates' translations ---------------------------------------------------------------


def test_template_translations_are_flask_babels_in_loops(web: Any) -> None:
    app, _store = web
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        candidates = babel_gettext("Candidates")
        page, raw_page = babel_gettext("Page %(page)s", page="<b>"), babel_gettext("Page %(page)s")
        answers = babel_ngettext("%(num)d answer analysed", "%(num)d answers analysed", 2)
        shown = render_template_string(
            "{% for i in [1, 2] %}{{ _('Candidates') }}|{% endfor %}"
            "{{ gettext('Page %(page)s', page=v) }}|"
            "{% autoescape false %}{{ _('Page %(page)s', page=v) }}{% endautoescape %}|"
            "{{ ngettext('%(num)d answer analysed', '%(num)d answers analysed', 2) }}",
            v="<b>",
        )
    assert candidates != "Candidates" and "<b>" in page
    escaped = str(Markup(raw_page) % {"page": "<b>"})  # noqa: S704 - as Jinja formats it
    assert "&lt;b&gt;" in escaped
    assert shown.split("|") == [candidates, candidates, escaped, page, answers]


def test_a_locale_forced_inside_a_request_is_followed(web: Any) -> None:
    app, _store = web
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        chinese = render_template_string("{{ _('Candidates') }}")
        with force_locale("en"):
            assert render_template_string("{{ _('Candidates') }}") == "Candidates"
        assert render_template_string("{{ _('Candidates') }}") == chinese != "Candidates"
    # Outside any application, as Flask-Babel: untranslated.
    assert app.jinja_env.from_string("{{ _('Candidates') }}").render() == "Candidates"


# --- what the report page no longer reads or works out twice -----------------------------------


def test_the_report_page_asks_the_policy_without_reading_the_interview_again(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    admin = _admin(store)
    interview_id, report_id, _recording = analysed_report(appliance, store, tmp_path)
    report_page(store, admin, report_id)
    with statements(store) as ran:
        _detail, document = report_page(store, admin, report_id)
    for table in ("interviews", "candidates", "requisitions"):
        assert len([s for s in ran if f"SELECT * FROM {table} WHERE id" in s]) == 1, table
    assert document["video_analysis_allowed"] is True and document["visual_cues"]
    # The regions are still the policy's: a candidate living in another region is asked about.
    interview = store.interviews.get(interview_id)
    candidate, job = (
        store.candidates.get(interview.candidate_id),
        store.requisitions.get(interview.requisition_id),
    )
    for residence in ("EU", "CN", "US-IL", ""):
        moved = replace(candidate, residence_region=residence)
        assert (
            visual_cues_allowed_now(store, interview, candidate=moved, requisition=job)
            == decide_for_interview(
                store,
                PolicyAction.RUN_VISUAL_CUES,
                interview_id,
                extra={"dry_run": True},
                regions=regions_of(job.region, residence),
            ).allowed
        )
    other = replace(candidate, id=candidate.id + 1000, residence_region="CN")
    assert visual_cues_allowed_now(store, interview, candidate=other, requisition=job) == (
        visual_cues_allowed_now(store, interview)
    )  # someone else's candidate is never taken for the interview's: read from the store


def _deliveries(document: dict[str, Any]) -> list[Any]:
    return [answer["delivery"] for answer in document["answers"]]


def _fresh(store: Store, admin: Principal, report_id: int) -> list[Any]:
    """The answers' delivery figures worked out anew, nothing kept."""
    report_document_module._delivery_kept.clear()
    found = _deliveries(report_page(store, admin, report_id)[1])
    report_document_module._delivery_kept.clear()
    return found


def _slower(content: dict[str, Any]) -> dict[str, Any]:
    """The same report with its words spoken at half the pace (a different delivery)."""
    changed = copy.deepcopy(content)
    for segment in changed["sections"]["transcript"]["segments"]:
        for word in segment["words"]:
            word["start"], word["end"] = word["start"] * 1.5, word["end"] * 1.5
    return changed


def test_delivery_figures_are_kept_per_version_of_the_report(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    admin = _admin(store)
    _interview, report_id, _recording = analysed_report(appliance, store, tmp_path)
    report = store.reports.get(report_id)
    assert report.content_version is not None
    first = _fresh(store, admin, report_id)
    assert first and all(first)
    assert _deliveries(report_page(store, admin, report_id)[1]) == first  # worked out, kept
    assert {key[:2] for key in report_document_module._delivery_kept} == {
        (report_id, report.content_version)
    }
    shown = report_page(store, admin, report_id)[1]
    shown["answers"][0]["delivery"]["typical_rate"].append(0)  # a page's copy is its own
    assert _deliveries(report_page(store, admin, report_id)[1]) == first

    # Resealed content (retention removing words, a re-analysis) is a new version.
    with store.transaction():
        store.reports.replace_content(report_id, _slower(report.content))
    changed = store.reports.get(report_id)
    assert changed.content_version not in (None, report.content_version)
    after = _deliveries(report_page(store, admin, report_id)[1])
    assert after == _fresh(store, admin, report_id) and after != first

    # What a rolled-back reseal showed is never shown once it is gone.
    report_page(store, admin, report_id)
    with pytest.raises(RuntimeError), store.transaction():
        store.reports.replace_content(report_id, report.content)
        assert _deliveries(report_page(store, admin, report_id)[1]) == first
        raise RuntimeError("rolled back")
    assert _deliveries(report_page(store, admin, report_id)[1]) == after

    # Other boundaries for an answer are other figures.
    words, language = timed_words(changed.content["sections"]) or ([], "")
    middle = (words[0].start + words[-1].end) / 2
    sections = changed.content["sections"]
    assert report_document_module._answer_delivery(
        changed, sections, lambda: (words, language), words[0].start, middle
    ) == answer_delivery(sections, (words, language), words[0].start, middle)
    assert report_document_module._answer_delivery(
        changed, sections, lambda: (words, language), middle, words[-1].end + 1
    ) == answer_delivery(sections, (words, language), middle, words[-1].end + 1)


def test_an_erased_candidates_report_keeps_nothing(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    admin = _admin(store)
    _interview, report_id, _recording = analysed_report(appliance, store, tmp_path)
    assert all(_deliveries(report_page(store, admin, report_id)[1]))
    store.vault.shred(store.candidates.get(store.reports.get(report_id).interview_id).pseudonym)
    erased = store.reports.get(report_id)
    assert erased.content_version is None and erased.content == {"erased": True}
    kept = dict(report_document_module._delivery_kept)
    assert not any(_deliveries(report_page(store, admin, report_id)[1]))
    assert report_document_module._delivery_kept == kept


def test_a_row_limit_is_written_into_the_statement_only_as_an_integer(store: Store) -> None:
    assert limit_clause(20) == "LIMIT 20" and limit_clause(-1) == "LIMIT -1"
    for wrong in ("20", "1; DROP TABLE reports", 2.5, True, None):
        with pytest.raises(TypeError):
            limit_clause(wrong)  # type: ignore[arg-type]
    with statements(store) as ran:
        store.audit.entries(action="candidate.read", limit=3)
    assert ran and all("LIMIT 3" in s and "LIMIT ?" not in s for s in ran)


def test_report_stamps_come_from_an_index_not_the_sealed_rows(store: Store) -> None:
    plan = store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT interview_id, created_at FROM reports"
        " WHERE interview_id IN (?, ?)",
        (1, 2),
    ).fetchall()
    assert any("COVERING INDEX reports_interview_created" in str(tuple(row)) for row in plan)
