"""What reading a resume, splitting a live interview and printing a report cost.

Each measured path runs beside a baseline in the same group, so `make bench` shows ratios rather
than absolute times: a PDF resume against the same text as a TXT file (what pypdf adds), the
question matching of a one-hour transcript against twelve planned questions beside one (how it
grows with the plan), and the report PDF against the JSON of the same document (what fpdf2
and the CJK font add). Under `--benchmark-disable` (`make test`) each runs once as a smoke test.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from fpdf import FPDF

from appliance.analysis.segmentation import Candidate, split_by_questions
from appliance.resumes.profile import extract_profile
from appliance.resumes.text import resume_text
from inference.interfaces import Segment, Transcript
from tests.support.analysed_reports import content
from tests.support.resumes import EN_LINES

PAGES = 20
TODAY = date(2026, 11, 1)


def _resume_pdf() -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=10)
    for _ in range(PAGES):
        pdf.add_page()
        for line in EN_LINES * 6:
            pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _resume_txt() -> bytes:
    return "\n".join(EN_LINES * 6 * PAGES).encode("utf-8")


def _read(data: bytes) -> dict[str, Any]:
    return extract_profile(resume_text(data)[1], today=TODAY)


@pytest.mark.benchmark(group="resume")
def test_resume_txt_baseline(benchmark: Any) -> None:
    data = _resume_txt()
    profile = benchmark(_read, data)
    assert profile["employers"] == ["Acme Technologies Inc.", "Globex Corp"]


@pytest.mark.benchmark(group="resume")
def test_resume_pdf(benchmark: Any) -> None:
    data = _resume_pdf()
    profile = benchmark(_read, data)
    assert profile["employers"] == ["Acme Technologies Inc.", "Globex Corp"]


def _hour_long() -> Transcript:
    segments = [
        Segment(
            f"I worked on item {i} with the team and we shipped feature {i % 17} quickly",
            i * 3.0,
            i * 3.0 + 2.5,
        )
        for i in range(1200)
    ]
    return Transcript("en", segments, "bench", "synthetic", 3600.0)


QUESTIONS = [
    Candidate(
        i,
        f"Tell me about a time you handled topic{i} alpha{i} with gamma{i} under pressure",
        f"d{i}",
        "en",
    )
    for i in range(12)
]


@pytest.mark.benchmark(group="segmentation")
def test_segmentation_one_question_baseline(benchmark: Any) -> None:
    transcript = _hour_long()
    assert benchmark(split_by_questions, transcript, QUESTIONS[:1]) == []


@pytest.mark.benchmark(group="segmentation")
def test_segmentation_twelve_questions(benchmark: Any) -> None:
    transcript = _hour_long()
    assert benchmark(split_by_questions, transcript, QUESTIONS) == []


def _document() -> dict[str, Any]:
    scoring = content()["sections"]["scoring"]
    dims = [
        {**d, "ai_score": d["score"], "override": None, "evidence": d["evidence"]}
        for d in scoring["dimensions"]
    ]
    return {
        "candidate": {"name": "Bench Candidate", "pseudonym": "c-bench"},
        "job": {"title": "Engineer"},
        "interview": {"round": 1},
        "models": {
            "competency_model_label": "Software engineer v2",
            "scorer": "star-v1",
            "speech": ["whisper whisper-base@1"],
        },
        "dimensions": dims,
        "overall": 8.0,
        "overall_ai": 8.0,
        "strengths": scoring["strengths"],
        "to_probe": scoring["to_probe"],
        "delivery": [],
        "visual_cues": [],
        "overrides": [],
        "decisions": [],
    }


@pytest.mark.benchmark(group="report")
def test_report_json_baseline(benchmark: Any) -> None:
    document = _document()
    body = benchmark(lambda: json.dumps(document, ensure_ascii=False).encode("utf-8"))
    assert body.startswith(b"{")


@pytest.mark.benchmark(group="report")
def test_report_pdf(benchmark: Any) -> None:
    from flask import Flask
    from flask_babel import Babel

    from webui.report_pdf import ReportFontMissingError, cjk_font, report_pdf

    try:
        cjk_font()
    except ReportFontMissingError:
        pytest.skip("no CJK font installed (fonts-wqy-microhei)")
    app = Flask("bench")  # a bare app: gettext needs an application context
    Babel(app)
    document = _document()
    with app.test_request_context("/"):
        body = benchmark(report_pdf, document)
    assert body.startswith(b"%PDF")
