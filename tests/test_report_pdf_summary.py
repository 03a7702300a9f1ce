"""The PDF export of a report (issue 14, item 8): the same summary as the page's "At a glance"
card (what scored it or why nothing did, the overall score, a vector bar chart per competency,
the top strengths and areas to probe, the language note, the latest decision), the scores with
their evidence, and, when asked for, every answer's transcript with its times.

Reports in the contract's shape go through the real store, the real document builder and the
Flask app with its Chinese catalog; the PDFs are read back with poppler's pdftotext.
"""

# Chinese text uses full-width punctuation, and ranges the en dash, as the PDF prints them.
# ruff: noqa: RUF001

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from flask import Flask

from appliance.accounts.auth import principal_of
from appliance.analysis.report_document import interview_document
from appliance.hiring.review import record_decision
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.competency import Anchor, DimensionSpec, ModelSpec
from inference.interfaces import Segment, Transcript, Word
from tests.conftest import REPO, Appliance, login, make_user
from tests.support.analysed_reports import (
    ANCHOR_ZH,
    PROBLEM_SOLVING_ZH,
    QUOTE_ACTION,
    QUOTE_RESULT,
    ZH_NAME,
    analysed_report,
    content,
)
from tests.support.plain_words import internal_names
from webui.report_pdf import report_pdf

Web = tuple[Flask, Store]

COMMUNICATION_ZH = "沟通表达"
# Three answers, one segment each (seconds): a bug, working with another team, a lesson.
ANSWERS = (
    (
        "Tell me about a hard bug.",
        "problem_solving",
        0.0,
        12.0,
        "Last year our checkout failed twice a week. I rewrote the retry logic myself "
        "and failures fell by 80 percent in two months.",
    ),
    (
        "Tell me about working with another team.",
        "collaboration",
        12.0,
        22.0,
        "I paired with the payments team every Monday and we agreed on one shared error budget.",
    ),
    (
        "What would you do differently?",
        None,
        22.0,
        30.0,
        "I would add alerts earlier and write the runbook before the release.",
    ),
)
QUOTE_TEAM = "we agreed on one shared error budget"
ZH_ANSWER = "我负责重写了重试逻辑，两个月内故障减少了百分之八十。"
ZH_TRANSLATION = "I rewrote the retry logic and failures fell by eighty percent in two months."


def _segment(text: str, start: float, end: float) -> Segment:
    words = text.split()
    step = (end - start - 1.0) / len(words)
    timed = tuple(
        Word(w, start + 0.5 + i * step, start + 0.5 + (i + 0.8) * step) for i, w in enumerate(words)
    )
    return Segment(text, start + 0.5, timed[-1].end, timed)


def _span(quote: str, start: float, end: float, cue: str, answer: int) -> dict[str, Any]:
    return {"quote": quote, "start": start, "end": end, "answer": answer, "cue": cue}


def three_answer_model(store: Store) -> ModelSpec:
    """A saved model naming three competencies in both languages."""
    spec = ModelSpec(
        "Software engineer",
        (
            DimensionSpec(
                "problem_solving",
                "Problem solving",
                0.5,
                name_zh=PROBLEM_SOLVING_ZH,
                anchors=(
                    Anchor(9, "en", "Finds the root cause and proves the fix with numbers."),
                    Anchor(9, "zh", ANCHOR_ZH),
                ),
            ),
            DimensionSpec("collaboration", "Collaboration", 0.3, name_zh=ZH_NAME),
            DimensionSpec("communication", "Communication", 0.2, name_zh=COMMUNICATION_ZH),
        ),
    )
    with store.transaction():
        return store.competency.save(spec)


def three_answers(model: ModelSpec) -> dict[str, Any]:
    """A report of a three-answer interview scored with `model`: two competencies assessed,
    one not; strengths and areas to probe carrying the scorer's codes."""
    made = content()
    sections = made["sections"]
    sections["transcript"] = Transcript(
        "en",
        [_segment(text, start, end) for _q, _k, start, end, text in ANSWERS],
        "whisper",
        "whisper-base@1",
        duration_s=30.0,
    ).to_dict()
    del sections["visual_cues"]
    action = _span(QUOTE_ACTION, 4.2, 6.2, "action_own", 0)
    result = _span(QUOTE_RESULT, 7.4, 10.2, "result_quantified", 0)
    team = _span(QUOTE_TEAM, 17.0, 20.5, "action_team", 1)
    scoring = sections["scoring"]
    scoring["model"] = {"id": model.id, "name": model.name, "version": model.version}
    scoring["answers"] = [
        {
            "index": i,
            "question_text": question,
            "dimension_key": key,
            "start": start,
            "end": end,
            "language": "en",
            "flags": [{"code": "result_not_quantified", "message": "", "probe": ""}]
            if i == 1
            else [],
        }
        for i, (question, key, start, end, _text) in enumerate(ANSWERS)
    ]
    scoring["dimensions"] = [
        {
            "key": "problem_solving",
            "name": "Problem solving",
            "weight": 0.5,
            "score": 8,
            "confidence": 0.72,
            "anchor": {"level": 9, "text": "Finds the root cause and proves the fix with numbers."},
            "evidence": [action, result],
            "rationale": "Own action with a measured result.",
        },
        {
            "key": "collaboration",
            "name": "Collaboration",
            "weight": 0.3,
            "score": 6,
            "confidence": 0.5,
            "anchor": {"level": 6, "text": "Works with other teams when asked."},
            "evidence": [team],
            "rationale": "Shared a budget with another team.",
        },
        {
            "key": "communication",
            "name": "Communication",
            "weight": 0.2,
            "score": None,
            "confidence": 0.0,
            "anchor": None,
            "evidence": [],
            "rationale": "",
        },
    ]
    scoring["overall"] = 7.25
    scoring["strengths"] = [
        {"text": f"Collaboration: “{QUOTE_TEAM}”", "evidence": [team]},
        {"text": f"Problem solving: “{QUOTE_RESULT}”", "evidence": [result]},
        {"text": f"Problem solving: “{QUOTE_ACTION}”", "evidence": [action]},
    ]
    scoring["to_probe"] = [
        {
            "text": "Competency not yet covered by any answer. (Communication)",
            "evidence": [],
            "code": "not_covered",
            "dimension": "communication",
        },
        {"text": "The result is not quantified.", "evidence": [], "code": "result_not_quantified"},
        {"text": "No concrete actions described.", "evidence": [], "code": "no_action"},
    ]
    return made


def unscored_chinese() -> dict[str, Any]:
    """A report that scored nothing (the job has no model): an answer spoken in Chinese in an
    English interview, with the machine translation into English."""
    made = content()
    sections = made["sections"]
    del sections["scoring"], sections["delivery"], sections["visual_cues"]
    sections["transcript"] = Transcript(
        "zh",
        [Segment(ZH_ANSWER, 1.0, 7.5, ())],
        "whisper",
        "whisper-base@1",
        duration_s=9.0,
    ).to_dict()
    sections["transcript"].update(interview_language="en", language_mismatch=True)
    translation = Transcript(
        "en", [Segment(ZH_TRANSLATION, 1.0, 7.5, ())], "whisper", "whisper-base@1", duration_s=9.0
    ).to_dict()
    sections["translation"] = {**translation, "source_language": "zh", "agreement": 0.8}
    made["steps_run"] = ["probe", "transcribe", "score"]
    made["notes"] = {"score": "the job has no competency model"}
    return made


def _person(store: Store, username: str, language: str = "en") -> Principal:
    user_id = make_user(store, username, "recruiter", departments=["Engineering"], regions=["EU"])
    if language != "en":
        with store.transaction():
            store.users.set_preferences(user_id, language=language, timezone="Asia/Shanghai")
    return principal_of(store.users.get(user_id))


def _scored_interview(appliance: Appliance, store: Store, tmp_path: Path) -> tuple[int, int]:
    """The three-answer interview with a person's override and a decision (ids)."""
    model = three_answer_model(store)
    interview_id, report_id, _rec = analysed_report(
        appliance,
        store,
        tmp_path,
        competency_model_id=model.id,
        report_content=three_answers(model),
        model_version=model.label,
        cues_consent=False,
    )
    decider = _person(store, "pdf.decider")
    with store.transaction():
        store.overrides.add(
            report_id, "collaboration", 6, 7, "Led the budget talks", decider.user_id
        )
    interview = store.interviews.get(interview_id)
    record_decision(
        store,
        decider,
        candidate_id=interview.candidate_id,
        requisition_id=interview.requisition_id,
        kind="advance",
        reason="Measured a real fix",
    )
    return interview_id, report_id


def _render(app: Flask, doc: dict[str, Any], language: str = "en", **options: Any) -> bytes:
    """The PDF as the export makes it, for a reader of `language`."""
    header = "zh-CN" if language.startswith("zh") else "en"
    with app.test_request_context(headers={"Accept-Language": header}):
        return report_pdf(doc, **options)


def pdf_text(pdf: bytes, tmp_path: Path, name: str = "report") -> str:
    """The text of a PDF as poppler lays it out, line by line, its white space collapsed."""
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(source), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return re.sub(r"\s+", " ", done.stdout.decode("utf-8"))


def pages(pdf: bytes) -> int:
    """How many pages a PDF has."""
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def _unscored_interview(appliance: Appliance, store: Store, tmp_path: Path) -> int:
    """The interview whose only answer, in Chinese, was never scored (its id). Made before
    `_scored_interview`, whose decision queues work the fixture's job claim would take."""
    interview_id, _report, _rec = analysed_report(
        appliance,
        store,
        tmp_path,
        name="Unscored Candidate",
        report_content=unscored_chinese(),
        model_version=None,
        cues_consent=False,
    )
    return interview_id


def _bars(pdf: bytes, tmp_path: Path) -> list[tuple[int, int]]:
    """The chart's filled bars on page 1 as (left, width) in pixels, top to bottom: runs of the
    accent colour, found in the page rendered by pdftoppm."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftoppm) is not installed")
    from PIL import Image

    source = tmp_path / "chart.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "100", "-png", "-f", "1", "-l", "1", str(source), str(tmp_path / "p")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with Image.open(next(tmp_path.glob("p*.png"))) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        pixels = rgb.load()
        assert pixels is not None
        rows = []
        for y in range(height):
            xs = [x for x in range(width) if _near(pixels[x, y], (11, 92, 173))]
            rows.append((min(xs), max(xs) - min(xs) + 1) if len(xs) > 20 else None)
    bars, previous = [], None
    for row in rows:  # one bar per band of consecutive rows; its widest row
        if row is not None and previous is None:
            bars.append(row)
        elif row is not None:
            bars[-1] = max(bars[-1], row, key=lambda r: r[1])
        previous = row
    return bars


def _near(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(int(a) - b) <= 12 for a, b in zip(pixel, colour, strict=False))


def _english_pieces() -> tuple[str, ...]:
    """The English of every sentence the PDF can generate (the msgids of this module and of the
    report's words), cut at placeholders, kept where a piece has two words or more."""
    pieces: set[str] = set()
    for path in ("webui/report_pdf.py", "webui/report_words.py"):
        with open(REPO / path, "rb") as source:
            for _line, message, _c, _x in extract_from_file(
                "python", source.name, keywords=DEFAULT_KEYWORDS
            ):
                for msgid in (message,) if isinstance(message, str) else message:
                    for piece in re.split(r"%\([a-z_]+\)[sd]|%%", msgid or ""):
                        piece = piece.strip(" :;,.()–-·“”")
                        if len(re.findall(r"[A-Za-z]+", piece)) >= 2:
                            pieces.add(piece)
    return tuple(sorted(pieces))


def test_the_pdf_opens_with_the_summary_card(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, _report = _scored_interview(appliance, store, tmp_path)
    doc = interview_document(store, _person(store, "pdf.reader"), interview_id)
    pdf = _render(app, doc)
    text = pdf_text(pdf, tmp_path, "scored-en")
    summary = text[text.index("At a glance") : text.index("Competencies")]
    for expected in (
        "Scored with Software engineer, version 1",
        "Overall score 7.62 out of 10 (AI 7.25)",
        # Every competency with its score as text: current, the AI's after an override, none.
        "Problem solving 8",
        "Collaboration 7 (AI 6)",
        "Communication not assessed",
        "Scores per competency, out of 10",
        # The two strongest (by current score) and the first two areas to probe, as sentences.
        f"Strength Problem solving: “{QUOTE_RESULT}”",
        f"Strength Problem solving: “{QUOTE_ACTION}”",
        "To probe Communication: not yet covered by any answer.",
        "To probe The result is not quantified.",
        "Latest decision: Advance · Pdf Decider · ",
    ):
        assert expected in summary, expected
    assert QUOTE_TEAM not in summary and "No concrete actions" not in summary
    # Then the details: each competency with its anchor and evidence (with times and cues).
    details = text[text.index("Competencies") :]
    for expected in (
        "Weight 50 % · Score 8 · Confidence 72 %",
        "Level anchor 9: Finds the root cause and proves the fix with numbers.",
        f"“{QUOTE_RESULT}” 0:07–0:10 · quantified result",
        "Score 7 · overridden (AI: 6)",
        "Changed by Pdf Decider: 6 → 7 · Led the budget talks",
        f"“{QUOTE_TEAM}” 0:17–0:20 · team action",
        "Score not assessed",
        "No concrete actions described.",
        "Answer 2: 108 words a minute (typical 120–160)",
        "Collaboration: 6 → 7 · Pdf Decider",
        "Advance · Pdf Decider",
    ):
        assert expected in details, expected
    assert re.search(r"Advance · Pdf Decider · \d{4}-\d\d-\d\d \d\d:\d\d UTC", details)
    # Without the export choice, no transcript: an answer's words that are no evidence.
    assert "runbook" not in text and "Answers" not in text
    assert internal_names(text) == []
    assert pages(pdf) == 2


def test_the_chart_draws_each_score_to_scale(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, _report = _scored_interview(appliance, store, tmp_path)
    doc = interview_document(store, _person(store, "pdf.chart"), interview_id)
    # Vector bars from one axis: 8 and 7 (the person's score) out of 10; none for the unassessed.
    (left_8, width_8), (left_7, width_7) = _bars(_render(app, doc), tmp_path)
    assert abs(left_8 - left_7) <= 1
    assert width_7 / width_8 == pytest.approx(7 / 8, abs=0.02)


def test_the_transcript_of_every_answer_on_request(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, _report = _scored_interview(appliance, store, tmp_path)
    doc = interview_document(store, _person(store, "pdf.words"), interview_id)
    plain = _render(app, doc)
    pdf = _render(app, doc, transcript=True)
    text = pdf_text(pdf, tmp_path, "scored-en-transcript")
    answers = text[text.index("Answers") :]
    for number, (question, _key, start, end, words) in enumerate(ANSWERS, 1):
        minutes = f"0:{round(start):02d}–0:{round(end):02d}"
        assert f"{number}. {question} {minutes}" in answers, question
        assert words in answers, words
    assert "Competency: Collaboration" in answers
    assert "0:22 I would add alerts earlier" in answers  # each line after its time
    assert answers.index("The result is not quantified.") < answers.index("I paired with")
    assert "Transcript (English)" in answers and "Machine translation" not in answers
    assert text.index("At a glance") < text.index("Answers")
    assert internal_names(text) == []
    assert pages(pdf) >= pages(plain)


def test_an_unscored_interview_says_why_and_shows_what_was_said(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id = _unscored_interview(appliance, store, tmp_path)
    doc = interview_document(store, _person(store, "pdf.unscored"), interview_id)
    text = pdf_text(_render(app, doc, transcript=True), tmp_path, "unscored-en")
    summary = text[text.index("At a glance") : text.index("Answers")]
    assert "Not scored: the job has no competency model." in summary
    assert "The answers were spoken in Chinese; the interview is in English." in summary
    assert "Scores may not be meaningful" not in summary  # nothing was scored to doubt
    assert "No decision has been taken yet." in summary
    assert "Overall score" not in text and "Scored with" not in text
    # The Chinese words in the CJK font, then the machine translation with its caveat.
    answers = text[text.index("Answers") :]
    assert "Transcript (Chinese)" in answers and ZH_ANSWER in answers
    assert "Machine translation (English)" in answers and ZH_TRANSLATION in answers
    assert "Translated automatically: it may miss or change meaning." in answers
    assert answers.index(ZH_ANSWER) < answers.index(ZH_TRANSLATION)
    assert internal_names(text) == []


def test_a_chinese_reader_gets_the_pdf_in_chinese(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    unscored = _unscored_interview(appliance, store, tmp_path)
    interview_id, report_id = _scored_interview(appliance, store, tmp_path)
    reader = _person(store, "pdf.li", language="zh_CN")
    english = _english_pieces()
    assert "Overall score" in english and "not yet covered by any answer" in english
    texts = {}
    for name, iid in (("scored", interview_id), ("unscored", unscored)):
        doc = interview_document(store, reader, iid)
        text = pdf_text(_render(app, doc, "zh_CN", transcript=True), tmp_path, f"{name}-zh")
        assert internal_names(text) == [], name
        assert [piece for piece in english if piece in text] == [], name
        texts[name] = text
    for chinese in (
        "概览",
        "评分依据：Software engineer（第 1 版）",
        "总分 7.62 （满分 10 分） (AI 7.25)",
        f"{PROBLEM_SOLVING_ZH} 8",
        f"{ZH_NAME} 7 (AI 6)",
        f"{COMMUNICATION_ZH} 未评估",
        f"优势 {PROBLEM_SOLVING_ZH}：“{QUOTE_RESULT}”",
        f"待追问 {COMMUNICATION_ZH}：尚未被任何回答覆盖。",
        "待追问 结果没有量化。",
        "最新决定: 进入下一轮 · Pdf Decider",
        ANCHOR_ZH,
        "转写文本 (英语)",
    ):
        assert chinese in texts["scored"], chinese
    assert "Problem solving" not in texts["scored"]  # the model's Chinese names
    for chinese in (
        "未评分：该职位没有能力模型。",
        "回答使用的是中文，而面试语言是英语。",
        ZH_ANSWER,
    ):
        assert chinese in texts["unscored"], chinese
    # Read by a Chinese reader, a Chinese answer needs no translation.
    assert ZH_TRANSLATION not in texts["unscored"]
    # The export itself, for a reader whose account says Chinese and Shanghai time.
    client = app.test_client()
    assert login(client, "pdf.li").status_code == 302
    exported = client.get(f"/reports/{report_id}/export.pdf")
    assert exported.status_code == 200 and exported.mimetype == "application/pdf"
    text = pdf_text(exported.data, tmp_path, "export-zh")
    assert "概览" in text and "总分" in text and internal_names(text) == []
    assert re.search(r"进入下一轮 · Pdf Decider · \d{4}-\d\d-\d\d \d\d:\d\d CST", text)
