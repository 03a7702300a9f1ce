"""The report and interview pages at a glance and in plain words (issue 14, items 3, 4, 6, 7).

Reports in the contract's shape go through the real store, the real policy table and the Flask
app with its Chinese catalog: the summary card (overall score, the SVG bar chart, strengths,
areas to probe, the decision), sentences instead of internal names, headers that say what
scored the answers or why nothing did, and the whole page in the reader's language.
"""

# Chinese text uses full-width punctuation, and ranges the en dash, as the pages print them.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from appliance.compliance.policy import PolicyAction, decide_for_interview
from appliance.store import Store
from tests.conftest import Appliance, csrf_token_from, login, make_user
from tests.support.analysed_reports import (
    ANCHOR_ZH,
    PROBLEM_SOLVING_ZH,
    QUOTE_RESULT,
    ZH_NAME,
    analysed_report,
    bilingual_content,
    bilingual_model,
    content,
)
from tests.support.plain_words import english_left, internal_names, visible_text

Web = tuple[Flask, Store]


def _client(
    store: Store, app: Flask, username: str, role: str, language: str = "en"
) -> FlaskClient:
    user_id = make_user(store, username, role, departments=["Engineering"], regions=["EU"])
    if language != "en":
        with store.transaction():
            store.users.set_preferences(user_id, language=language, timezone="Asia/Shanghai")
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _get(client: FlaskClient, path: str) -> str:
    reply = client.get(path)
    assert reply.status_code == 200, path
    return reply.get_data(as_text=True)


def _card(html: str) -> str:
    start = html.index('id="summary"')
    return html[start : html.index("</section>", start)]


def _scored(appliance: Appliance, store: Store, tmp_path: Path) -> tuple[int, int]:
    model = bilingual_model(store)
    interview_id, report_id, _rec = analysed_report(
        appliance,
        store,
        tmp_path,
        competency_model_id=model.id,
        report_content=bilingual_content(model),
        model_version=model.label,
    )
    return interview_id, report_id


def _refused_by_policy(store: Store, interview_id: int, report_id: int) -> None:
    """The report as the pipeline writes it where the region's policy refused AI scoring: the
    delivery and score steps skipped, the policy gate's own answer in the report."""
    refused = decide_for_interview(
        store, PolicyAction.RUN_AI_SCORING, interview_id, extra={"dry_run": True}
    )
    assert not refused.allowed and "notice.given" in refused.requirements
    changed: dict[str, Any] = content()
    sections = changed["sections"]
    del sections["scoring"], sections["delivery"]
    sections["policy"] = {"analyses": {PolicyAction.RUN_AI_SCORING.value: refused.as_dict()}}
    # Answered in English in an interview held in Chinese: shown even though nothing was scored.
    sections["transcript"].update(interview_language="zh", language_mismatch=True)
    changed["steps_run"] = ["probe", "policy_gate", "transcribe"]
    changed["steps_skipped"] = ["delivery", "score"]
    store.reports.replace_content(report_id, changed)


# --- at a glance ----------------------------------------------------------------------------------


def test_the_card_comes_first_with_the_chart_findings_and_decision(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, report_id = _scored(appliance, store, tmp_path)
    client = _client(store, app, "glance.rec", "recruiter")
    for path in (f"/reports/{report_id}", f"/interviews/{interview_id}/report"):
        html = _get(client, path)
        card = _card(html)
        # Before every detail: the card opens the page's content.
        assert html.index('id="summary"') < html.index('id="answers"')
        assert html.index('id="summary"') < html.index('id="competencies"')
        assert re.search(r'id="overall".*?<strong[^>]*>8</strong>', card, re.DOTALL)
        assert "Scored with Software engineer, version 1" in card
        assert "the job now uses" not in html  # the job still uses the version that scored
        # The chart: inline SVG, a title and every number as text, bars to scale (8 of 10).
        svg = card[card.index("<svg") : card.index("</svg>")]
        assert 'role="img"' in svg and "<title" in svg and "Scores per competency" in svg
        assert "Problem solving: 8" in svg and "Collaboration: not assessed" in svg
        assert re.findall(r'class="bar"[^>]*width="([\d.]+)%"', svg) == ["80.0"]
        assert "<script" not in card and "http" not in svg
        # One line each: the strongest evidence, then what to ask about.
        assert f"Problem solving: “{QUOTE_RESULT}”" in visible_text(card)
        assert "Collaboration: not yet covered by any answer." in visible_text(card)
        # The decision, where this viewer may take one (a recruiter decides, never recommends).
        assert 'id="decision-summary-form"' in card
        assert 'id="recommendation-summary-form"' not in card
        assert all(f'value="{kind}"' in card for kind in ("advance", "reject", "hire"))
        assert f'name="back" value="{path}"' in card


def test_a_decision_taken_on_the_card_returns_to_the_report(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, _report_id = _scored(appliance, store, tmp_path)
    interview = store.interviews.get(interview_id)
    client = _client(store, app, "decide.rec", "recruiter")
    path = f"/interviews/{interview_id}/report"
    form = {
        "csrf_token": csrf_token_from(_get(client, path)),
        "requisition_id": interview.requisition_id,
        "kind": "advance",
        "reason": "Measured a real fix",
        "back": path,
    }
    reply = client.post(f"/candidates/{interview.candidate_id}/decisions", data=form)
    assert reply.status_code == 303 and reply.headers["Location"] == path
    [decision] = store.decisions.for_candidate(interview.candidate_id)
    assert (decision.kind, decision.reason) == ("advance", "Measured a real fix")
    card = visible_text(_card(_get(client, path)))
    assert re.search(r"Latest decision: Advance · Decide Rec · \d{4}-\d\d-\d\d", card)
    # Anywhere but a report page of this site, the form goes back to the profile.
    for elsewhere in ("https://example.invalid/reports/1", "//example.invalid/x", "/admin/users"):
        form.update(reason="Again", back=elsewhere)
        reply = client.post(f"/candidates/{interview.candidate_id}/decisions", data=form)
        assert reply.headers["Location"] == f"/candidates/{interview.candidate_id}"


def test_a_business_lead_may_recommend_from_the_card_but_not_decide(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, _report_id = _scored(appliance, store, tmp_path)
    card = _card(
        _get(
            _client(store, app, "glance.lead", "business_lead"),
            f"/interviews/{interview_id}/report",
        )
    )
    assert 'id="recommendation-summary-form"' in card and 'id="decision-summary-form"' not in card
    assert 'value="recommend_hire"' in card and "Recommend hiring" in card


# --- plain words and truthful headers -------------------------------------------------------------


def test_delivery_observations_steps_and_flags_are_sentences(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, report_id = _scored(appliance, store, tmp_path)
    client = _client(store, app, "words.rec", "recruiter")
    report = visible_text(_get(client, f"/reports/{report_id}"))
    interview = visible_text(_get(client, f"/interviews/{interview_id}/report"))
    for text in (report, interview):
        assert internal_names(text) == []
        assert "152 words a minute (typical 120–160) · pauses 0 % of the time · 0 fillers" in text
        assert "face in view 96 % of the time; looking at the camera 70 %" in text
        assert "The result is not quantified." in text  # the flag's code, as a sentence
        assert "off_topic" not in text and "fillers.um" not in text
    assert re.search(r"checked the recording\s+transcribed the speech\s+scored the answers", report)


def test_not_scored_says_why_in_words_and_shows_the_language_mismatch(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, report_id, _rec = analysed_report(appliance, store, tmp_path)
    _refused_by_policy(store, interview_id, report_id)
    client = _client(store, app, "why.rec", "recruiter")
    why = "Not scored: the region's rules require a published notice given to the candidate."
    for path in (f"/reports/{report_id}", f"/interviews/{interview_id}/report"):
        html = _get(client, path)
        card = visible_text(_card(html))
        assert why in card and "Scored with" not in card and "<svg" not in _card(html)
        assert "The answers were spoken in English; the interview is in Chinese." in card
        assert "Scores may not be meaningful" not in card  # nothing was scored to doubt
        assert internal_names(visible_text(html)) == []
    steps = visible_text(_get(client, f"/reports/{report_id}"))
    assert re.search(
        r"scored the answers\s+— not done: the region's rules require a published notice", steps
    )


def test_scores_are_never_shown_as_not_scored(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    """An older report (scores without a model name) still shows its scores, never 'not scored'."""
    app, store = web
    _interview_id, report_id, _rec = analysed_report(
        appliance,
        store,
        tmp_path,
        report_content={
            "steps_run": ["probe", "transcribe", "score"],
            "scores": {"problem_solving": {"score": 7, "confidence": 0.8, "evidence": []}},
        },
        model_version=None,
    )
    client = _client(store, app, "old.rec", "recruiter")
    html = _get(client, f"/reports/{report_id}")
    card = visible_text(_card(html))
    assert "Scored with a competency model that was not recorded" in card
    assert "Problem solving: 7" in card and "not scored" not in card.lower()
    assert internal_names(visible_text(html)) == []


# --- both languages -------------------------------------------------------------------------------


def test_a_chinese_reader_meets_no_internal_name_and_no_generated_english(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, report_id = _scored(appliance, store, tmp_path)
    other_interview, refused_report, _rec = analysed_report(
        appliance, store, tmp_path, name="Refused Candidate"
    )
    _refused_by_policy(store, other_interview, refused_report)
    client = _client(store, app, "li.reviewer", "recruiter", language="zh_CN")
    pages = {
        path: visible_text(_get(client, path))
        for path in (
            f"/reports/{report_id}",
            f"/interviews/{interview_id}/report",
            f"/reports/{refused_report}",
            f"/interviews/{other_interview}/report",
        )
    }
    for path, text in pages.items():
        assert internal_names(text) == [], path
        assert english_left(text) == [], path
    scored = pages[f"/reports/{report_id}"]
    for chinese in (
        "概览",
        "评分依据：Software engineer（第 1 版）",
        PROBLEM_SOLVING_ZH,
        ANCHOR_ZH,
        "结果没有量化。",
        f"{ZH_NAME}：尚未被任何回答覆盖。",
        "每分钟 152 词（常见 120–160）",
        "96% 的时间面部在画面中；看向镜头 70%",
        "检查了录制文件",
    ):
        assert chinese in scored, chinese
    assert "Problem solving" not in scored  # the model's Chinese name, not the English one
    refused = pages[f"/reports/{refused_report}"]
    assert "未评分：所在地区的规则要求：已向候选人提供已发布的告知。" in refused
    assert "回答使用的是英语，而面试语言是中文。" in refused
