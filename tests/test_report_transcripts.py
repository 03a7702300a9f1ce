"""Each answer's own words beside its player in the report pages: the transcript cut at the
answers' boundaries, the machine translation beside it for a reader of another language, the
segmentation's answers when nothing was scored, evidence cues in plain words."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from appliance.accounts.auth import principal_of
from appliance.analysis.answer_transcripts import transcript_lines
from appliance.analysis.report_document import interview_document, report_document
from appliance.store import Store
from inference.interfaces import Segment, Transcript, Word
from tests.conftest import Appliance, login, make_user
from tests.support.analysed_reports import (
    QUOTE_RESULT,
    analysed_report,
    content,
    scoring_section,
)
from tests.support.media_files import has_encoder, write_media

Web = tuple[Flask, Store]

FIRST = "I led the migration myself."
SECOND = "We cut the costs by half within a year."
ZH_ANSWER = "我自己修复了这个问题"
ZH_TRANSLATION = "I fixed this problem myself"


def _timed(text: str, start: float, step: float = 0.4, *, chars: bool = False) -> Segment:
    units = list(text) if chars else text.split()
    words = tuple(Word(u, start + i * step, start + (i + 1) * step) for i, u in enumerate(units))
    return Segment(text, start, words[-1].end, words)


def _two_answers() -> dict[str, Any]:
    """A report's content with two answers (0-6 s and 6-12 s); one sentence straddles 6 s."""
    straddling = _timed("so the work went on and then we stopped", 4.0)  # 4.0 .. 7.6 s
    transcript = Transcript(
        "en",
        [_timed(FIRST, 1.0), straddling, _timed(SECOND, 8.0)],
        "whisper",
        "whisper-base@1",
        duration_s=12.0,
    ).to_dict()
    scoring = scoring_section()
    first = scoring["answers"][0]
    second = {**first, "index": 1, "question_text": "What did it save?", "flags": []}
    scoring["answers"] = [{**first, "end": 6.0}, {**second, "start": 6.0, "end": 12.0}]
    made = content()
    made["sections"].update(transcript=transcript, scoring=scoring)
    return made


def _chinese_answer(*, scored: bool) -> dict[str, Any]:
    """An answer spoken in Chinese, with the analysis's English machine translation."""
    spoken = Transcript(
        "zh", [_timed(ZH_ANSWER, 1.0, 0.3, chars=True)], "whisper", "whisper-base@1", 6.0
    ).to_dict()
    translated = Transcript(
        "en", [_timed(ZH_TRANSLATION, 1.0, 0.5)], "whisper", "whisper-base@1", 6.0
    ).to_dict()
    translated.update(task="translate", source_language="zh")
    made = content()
    made["sections"].update(transcript=spoken, translation=translated)
    if not scored:  # the region's policy forbade scoring: the step was skipped
        del made["sections"]["scoring"]
        made["steps_run"], made["steps_skipped"] = ["probe", "transcribe"], ["score"]
    return made


def _hr(store: Store, name: str = "tr.hr") -> int:
    return make_user(store, name, "hr_admin", regions=["EU"])


def _page(app: Flask, store: Store, path: str, username: str, language: str = "en") -> str:
    user_id = make_user(store, username, "hr_admin", regions=["EU"])
    if language != "en":
        with store.transaction():
            store.users.set_preferences(user_id, language=language, timezone="UTC")
    client = app.test_client()
    assert login(client, username).status_code == 302
    reply = client.get(path)
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def _section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def _visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


# --- the core: lines of an answer -----------------------------------------------------------------


def test_lines_are_cut_at_the_answer_boundary_by_word() -> None:
    transcript = Transcript(
        "en",
        [_timed("one two three four", 0.0, 1.0), Segment("no words here", 5.0, 7.0)],
        "whisper",
        "m",
        8.0,
    ).to_dict()
    # Words of 1 s each: "three" (2-3 s) has its middle at 2.5, inside the second answer.
    assert transcript_lines(transcript, 0.0, 2.4) == [{"start": 0.0, "end": 2.0, "text": "one two"}]
    assert transcript_lines(transcript, 2.4, 8.0) == [
        {"start": 2.0, "end": 4.0, "text": "three four"},
        {"start": 5.0, "end": 7.0, "text": "no words here"},  # placed by its middle (6 s)
    ]
    whole = transcript_lines(transcript)
    assert [line["text"] for line in whole] == ["one two three four", "no words here"]
    assert transcript_lines(transcript, 7.0, 8.0) == []
    assert transcript_lines(None, 0, 1) == [] and transcript_lines({"segments": "x"}) == []


def test_chinese_words_join_without_spaces() -> None:
    transcript = Transcript("zh", [_timed(ZH_ANSWER, 0.0, 1.0, chars=True)], "w", "m", 10.0)
    assert transcript_lines(transcript.to_dict(), 0.0, 3.0) == [
        {"start": 0.0, "end": 3.0, "text": ZH_ANSWER[:3]}
    ]


# --- the document ---------------------------------------------------------------------------------


def test_each_answer_has_its_own_transcript_and_player(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    interview_id, report_id, recording_id = analysed_report(
        appliance, store, tmp_path, report_content=_two_answers()
    )
    hr = principal_of(store.users.get(_hr(store)))
    doc = report_document(store, hr, report_id)
    first, second = doc["answers"]
    assert [line["text"] for line in first["transcript"]] == [FIRST, "so the work went on"]
    assert [line["text"] for line in second["transcript"]] == ["and then we stopped", SECOND]
    # Every word once, in either answer (none lost or doubled at the boundary).
    said = " ".join(line["text"] for a in doc["answers"] for line in a["transcript"])
    assert said.split() == f"{FIRST} so the work went on and then we stopped {SECOND}".split()
    assert second["transcript"][0]["start"] >= 6.0 - 0.2 and first["transcript"][-1]["end"] <= 6.4
    assert first["language"] == "en" and first["translation"] is None
    assert {a["player"] for a in doc["answers"]} == {"audio"}  # a WAV: played by <audio>
    assert {a["recording_id"] for a in doc["answers"]} == {recording_id}
    assert doc["reports"][0]["player"] == "audio"
    assert doc == interview_document(store, hr, interview_id) | {
        "generated_at": doc["generated_at"]
    }


def test_an_unscored_report_still_has_its_answers_and_words(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    _interview, report_id, recording_id = analysed_report(
        appliance, store, tmp_path, report_content=_chinese_answer(scored=False)
    )
    doc = report_document(store, principal_of(store.users.get(_hr(store))), report_id)
    assert doc["scored"] is False and doc["dimensions"] == []
    (answer,) = doc["answers"]  # the segmentation's split: the whole recording, one answer
    assert answer["recording_id"] == recording_id and answer["flags"] == []
    assert (answer["start"], answer["end"]) == (0.0, 6.0)
    assert [line["text"] for line in answer["transcript"]] == [ZH_ANSWER]
    assert answer["language"] == "zh"
    assert answer["translation"]["language"] == "en"
    assert [line["text"] for line in answer["translation"]["lines"]] == [ZH_TRANSLATION]


# --- the pages ------------------------------------------------------------------------------------


def test_report_page_shows_question_player_and_timed_lines(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, report_id, recording_id = analysed_report(
        appliance, store, tmp_path, report_content=_two_answers()
    )
    html = _page(app, store, f"/reports/{report_id}", "tr.page")
    answers = _section(html, "answers")
    assert answers.count("<audio ") == 2 and "<video" not in answers
    media = f'src="/recordings/{recording_id}/media'
    assert answers.count(media) == 2 and 'preload="metadata"' in answers
    assert f'{media}#t=6.00"' in answers  # the second answer's player starts at its answer
    assert "Tell me about a hard bug." in answers and "What did it save?" in answers
    for text in (FIRST, SECOND, "so the work went on", "and then we stopped"):
        assert text in answers
    assert 'data-start="6.0"' in answers or 'data-start="6"' in answers
    assert '<span class="time">0:01</span>' in answers  # each line with its time
    # Evidence quotes seek the recording; cues are words, not identifiers.
    competencies = _section(html, "competencies")
    assert f'data-seek-recording="{recording_id}" data-seek="7.4"' in competencies
    assert QUOTE_RESULT in competencies
    text = _visible_text(competencies + answers)
    assert "own action" in text and "quantified result" in text
    for code in ("action_own", "result_quantified", "problem_solving", "None"):
        assert code not in text, code
    assert "report_player.js" in html and "<script>" not in html
    interview = _page(app, store, f"/interviews/{interview_id}/report", "tr.interview")
    assert _section(interview, "answers").count(media) == 2


def test_a_reader_of_another_language_sees_the_machine_translation_beside(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    _interview, report_id, _rec = analysed_report(
        appliance, store, tmp_path, report_content=_chinese_answer(scored=True)
    )
    english = _section(_page(app, store, f"/reports/{report_id}", "tr.en"), "answers")
    assert ZH_ANSWER in english and ZH_TRANSLATION in english
    assert "side-by-side" in english and "Machine translation" in english
    assert "Translated automatically" in english and 'lang="zh"' in english
    chinese = _section(_page(app, store, f"/reports/{report_id}", "tr.zh", "zh_CN"), "answers")
    assert ZH_ANSWER in chinese and ZH_TRANSLATION not in chinese  # the reader's own language
    assert "机器翻译" not in chinese and "转写" in chinese
    page = _page(app, store, f"/reports/{report_id}", "tr.zh2", "zh_CN")
    assert "本人的行动" in page and "量化的结果" in page  # the cues in the reader's language


def test_a_report_without_scores_shows_its_transcript_and_player(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    interview_id, report_id, recording_id = analysed_report(
        appliance, store, tmp_path, report_content=_chinese_answer(scored=False)
    )
    for path, user in (
        (f"/reports/{report_id}", "tr.ns1"),
        (f"/interviews/{interview_id}/report", "tr.ns2"),
    ):
        html = _page(app, store, path, user)
        answers = _section(html, "answers")
        assert ZH_ANSWER in answers and ZH_TRANSLATION in answers, path
        assert f'src="/recordings/{recording_id}/media' in answers, path
        assert "None" not in _visible_text(answers)
    assert 'id="not-scored"' in _page(app, store, f"/reports/{report_id}", "tr.ns3")


def test_a_video_recording_without_a_transcript_still_plays(
    web: Web, appliance: Appliance, tmp_path: Path
) -> None:
    app, store = web
    if not (has_encoder("libvpx") and has_encoder("libopus")):
        pytest.skip("this PyAV build cannot write WebM (VP8 and Opus)")
    video = tmp_path / "answer.webm"
    write_media(video, fmt="webm", vcodec="libvpx", acodec="libopus", seconds=1.0)
    older = {"media": None, "steps_run": ["probe"], "steps_skipped": []}  # nothing transcribed
    _interview, report_id, recording_id = analysed_report(
        appliance, store, tmp_path, media=video, content_type="video/webm", report_content=older
    )
    answers = _section(_page(app, store, f"/reports/{report_id}", "tr.video"), "answers")
    assert "<video " in answers and f'src="/recordings/{recording_id}/media"' in answers
    assert "The whole recording" in answers and "There is no transcript" in answers
