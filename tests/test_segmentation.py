"""Answer segmentation: room answers, live interviews split by the interviewer's questions,
and people's corrections honoured by the next analysis (real encrypted store throughout)."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import pytest

from appliance.accounts.auth import principal_of as principal_of_user
from appliance.analysis.segment_service import rows_from_form, save_correction, segment_view
from appliance.analysis.segmentation import (
    AnswerSpan,
    SegmentationError,
    answer_spans,
    similarity,
    spans_from_rows,
    tokens,
)
from appliance.media.recordings import ingest_recording
from appliance.store import Store
from appliance.store.competency import DimensionSpec, ModelSpec, Question
from inference.interfaces import Segment, Transcript

from .conftest import Appliance, make_user, write_wav

QUESTIONS = {
    "collaboration": "Tell me about a time you worked with another team to deliver a project "
    "under a tight deadline.",
    "analysis": "Describe how you analysed customer requirements before building a new product "
    "feature.",
    "innovation": "Give an example of an innovative idea you proposed and how you tested it.",
}
QUESTIONS_ZH = {
    "collaboration": "请讲一次您与其他团队合作在紧迫期限内交付项目的经历。",
    "analysis": "请描述您在开发新功能之前如何分析客户需求。",
}


def _job(
    store: Store, *, kind: str = "live", language: str = "en"
) -> tuple[int, int, dict[str, int]]:
    """A live interview for a job whose model plans QUESTIONS; returns ids and question ids."""
    dims = [
        DimensionSpec(
            key,
            key.title(),
            1.0,
            "",
            questions=(Question("en", QUESTIONS[key]),)
            + ((Question("zh", QUESTIONS_ZH[key]),) if key in QUESTIONS_ZH else ()),
        )
        for key in QUESTIONS
    ]
    with store.transaction():
        model = store.competency.save(ModelSpec("Product manager", tuple(dims)))
        requisition = store.requisitions.create(
            "PM", "Product", "Berlin", "EU", competency_model_id=model.id
        )
    candidate = store.candidates.create("Segment Candidate", email="seg@example.invalid")
    interview = store.interviews.create(candidate.id, requisition.id, kind=kind, language=language)
    assert model.id is not None
    ids = {
        q.dimension_key + ":" + q.language: q.id
        for q in store.interview_plan.planned_questions(model.id)
    }
    return interview.id, candidate.id, ids


def _recording(appliance: Appliance, store: Store, interview_id: int, tmp_path: Path) -> int:
    wav = write_wav(tmp_path / "interview.wav", 2.0)
    with wav.open("rb") as source:
        done = ingest_recording(
            store,
            appliance.spool(),
            appliance.config,
            interview_id=interview_id,
            source=source,
            filename="interview.wav",
            content_type="audio/wav",
            actor="test",
        )
    return done.recording.id


def _transcript(parts: list[tuple[str, float, float]], language: str = "en") -> Transcript:
    return Transcript(
        language,
        [Segment(text, start, end) for text, start, end in parts],
        "test",
        "hand-made",
        duration_s=max(end for _, _, end in parts) + 2.0,
    )


LIVE = [
    ("Good morning, thanks for coming in today.", 0.0, 3.0),
    ("Thank you for having me.", 3.2, 5.0),
    ("So, tell me about a time when you worked with another team", 5.5, 9.0),
    ("to deliver a project under a tight deadline.", 9.0, 11.0),
    (
        "Last spring our payments team needed an API from the platform team in three weeks.",
        11.5,
        17.0,
    ),
    ("I set up a daily sync and we shipped two days early.", 17.2, 21.0),
    ("Great. Now, describe how you analysed customer requirements", 22.0, 26.0),
    ("before you built a new product feature.", 26.0, 28.0),
    ("I interviewed twelve customers and ranked their requests by revenue impact.", 28.5, 34.0),
    ("Then we cut the scope to the three most requested reports.", 34.2, 38.0),
]


def test_tokens_fold_english_words_and_chinese_bigrams() -> None:
    assert {"analys", "customer", "requirement"} <= tokens("Analysed customers' requirements")
    assert "tell" not in tokens("Tell me about a time")  # question boilerplate carries no topic
    assert {"客户", "需求"} <= tokens("分析客户需求")
    assert similarity(tokens(QUESTIONS["analysis"]), tokens(QUESTIONS["analysis"])) == 1.0
    assert similarity(tokens(QUESTIONS["analysis"]), tokens("I like football")) == 0.0


def test_live_interview_is_split_at_the_interviewers_questions(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    interview_id, _candidate, ids = _job(store)
    recording_id = _recording(appliance, store, interview_id, tmp_path)
    spans = answer_spans(store, recording_id, _transcript(LIVE))
    assert spans == [
        AnswerSpan(
            0, ids["collaboration:en"], QUESTIONS["collaboration"], "collaboration", 11.0, 22.0
        ),
        AnswerSpan(1, ids["analysis:en"], QUESTIONS["analysis"], "analysis", 28.0, 40.0),
    ]
    # Deterministic: the same transcript splits the same way.
    assert answer_spans(store, recording_id, _transcript(LIVE)) == spans


def test_a_candidate_echoing_some_question_words_is_not_taken_for_a_question(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    interview_id, _candidate, _ids = _job(store)
    recording_id = _recording(appliance, store, interview_id, tmp_path)
    echo = [
        ("I think new product ideas should be tested with customers early.", 0.0, 5.0),
        ("We shipped it and usage grew by a third.", 5.0, 9.0),
    ]
    spans = answer_spans(store, recording_id, _transcript(echo))
    assert len(spans) == 1 and spans[0].dimension_key is None
    assert (spans[0].start, spans[0].end) == (0.0, 11.0)


def test_chinese_live_interview_matches_the_chinese_questions(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    interview_id, _candidate, ids = _job(store, language="zh")
    recording_id = _recording(appliance, store, interview_id, tmp_path)
    zh = [
        ("您好，欢迎参加面试。", 0.0, 2.0),  # noqa: RUF001
        ("请讲一次您和其他团队合作，在很紧的期限内交付项目的经历。", 2.5, 7.0),  # noqa: RUF001
        ("去年我们和平台团队一起三周内上线了支付接口，我每天组织同步会。", 7.5, 15.0),  # noqa: RUF001
        ("好的。请描述一下您在开发新功能之前是怎样分析客户需求的。", 16.0, 20.0),
        ("我访谈了十二位客户，按收入影响排序需求。", 20.5, 26.0),  # noqa: RUF001
    ]
    spans = answer_spans(store, recording_id, _transcript(zh, "zh"))
    assert [(s.question_id, s.dimension_key, s.start, s.end) for s in spans] == [
        (ids["collaboration:zh"], "collaboration", 7.0, 16.0),
        (ids["analysis:zh"], "analysis", 20.0, 28.0),
    ]


def test_other_recordings_are_one_span_without_a_dimension(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    interview_id, _candidate, _ids = _job(store, kind="async")
    recording_id = _recording(appliance, store, interview_id, tmp_path)
    spans = answer_spans(store, recording_id, _transcript(LIVE))
    assert spans == [AnswerSpan(0, None, "", None, 0.0, 40.0)]


def test_a_correction_wins_and_is_stored_sealed(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    interview_id, _candidate, ids = _job(store)
    recording_id = _recording(appliance, store, interview_id, tmp_path)
    hr_id = make_user(store, "seg.hr", "hr_admin", regions=["EU"])
    hr = principal_of_user(store.users.get(hr_id))
    rows = [
        {
            "start": 11.0,
            "end": 21.5,
            "question_id": ids["collaboration:en"],
            "question_text": QUESTIONS["collaboration"],
            "dimension_key": "collaboration",
        },
        {
            "start": 28.0,
            "end": 60.0,
            "question_id": ids["innovation:en"],
            "question_text": QUESTIONS["innovation"],
            "dimension_key": "innovation",
        },
    ]
    save_correction(store, hr, recording_id, rows)
    spans = answer_spans(store, recording_id, _transcript(LIVE))
    # The second answer is reassigned by the person, and cut to this transcript's end.
    assert [(s.dimension_key, s.start, s.end) for s in spans] == [
        ("collaboration", 11.0, 21.5),
        ("innovation", 28.0, 40.0),
    ]
    raw = store.conn.execute("SELECT spans FROM segment_corrections").fetchone()[0]
    assert "innovative" not in raw and json.loads(raw).startswith("fc1:")
    assert store.audit.entries(action="segments.corrected")
    # An empty correction returns to the automatic split.
    save_correction(store, hr, recording_id, [])
    assert answer_spans(store, recording_id, _transcript(LIVE))[1].dimension_key == "analysis"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"start": 5, "end": 3}], "end must come after"),
        ([{"start": 0, "end": 10}, {"start": 9, "end": 12}], "overlap"),
        ([{"start": 0, "end": 99}], "after the recording"),
        ([{"start": "x", "end": 3}], "numbers of seconds"),
    ],
)
def test_bad_corrections_are_refused(rows: list[dict[str, object]], message: str) -> None:
    with pytest.raises(SegmentationError, match=message):
        spans_from_rows(rows, 40.0)


def test_bad_correction_keeps_the_previous_one(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    interview_id, _candidate, _ids = _job(store)
    recording_id = _recording(appliance, store, interview_id, tmp_path)
    hr = principal_of_user(store.users.get(make_user(store, "seg.hr2", "hr_admin", regions=["EU"])))
    save_correction(store, hr, recording_id, [{"start": 0.0, "end": 1.5}])
    with pytest.raises(SegmentationError):
        save_correction(
            store, hr, recording_id, [{"start": 0.0, "end": 1.0}, {"start": 0.5, "end": 1.5}]
        )
    assert len(store.segment_corrections.history(recording_id)) == 1
    view = segment_view(store, hr, recording_id)
    assert view.source == "corrected" and [(s.start, s.end) for s in view.spans] == [(0.0, 1.5)]
    with pytest.raises(SegmentationError, match="unknown question"):
        rows_from_form(["1"], ["2"], ["p999999"], view.choices)


def _speak(text: str, voice: str, path: Path) -> Path:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def test_real_speech_interview_is_split_by_question(
    appliance: Appliance,
    store: Store,
    tmp_path: Path,
    model_packs,  # type: ignore[no-untyped-def]
) -> None:
    """espeak-ng speaks an interview, Whisper transcribes it, segmentation splits it."""
    from inference.speech.whisper import WhisperBackend

    interview_id, _candidate, ids = _job(store)
    recording_id = _recording(appliance, store, interview_id, tmp_path)
    script = [
        ("en-us", QUESTIONS["collaboration"]),
        (
            "en-gb",
            "Last year I worked with the platform team to ship a payments interface in "
            "three weeks. I ran a daily meeting and we finished two days early.",
        ),
        ("en-us", QUESTIONS["innovation"]),
        (
            "en-gb",
            "I proposed a self service refund page. We tested it with fifty users and "
            "support tickets fell by a third.",
        ),
    ]
    parts = [
        _speak(text, voice, tmp_path / f"part{i}.wav") for i, (voice, text) in enumerate(script)
    ]
    joined = tmp_path / "joined.wav"
    subprocess.run(
        [
            "sox",
            *map(str, parts),
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(joined),
            "pad",
            "0",
            "0.6",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    backend = WhisperBackend(model_packs.load("whisper-base", allowed_uses={"speech"}))
    with wave.open(str(joined), "rb") as audio:
        pcm = audio.readframes(audio.getnframes())
    transcript = backend.transcribe([pcm], sample_rate=16000, language="en")
    spans = answer_spans(store, recording_id, transcript)
    assert [s.question_id for s in spans] == [ids["collaboration:en"], ids["innovation:en"]]
    words = transcript.words()
    first = " ".join(w.text for w in words if spans[0].start <= w.start < spans[0].end).lower()
    second = " ".join(w.text for w in words if spans[1].start <= w.start < spans[1].end).lower()
    assert "platform" in first and "refund" not in first
    assert "refund" in second and "platform" not in second


def test_personalised_questions_from_the_plan_are_matched_too(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    interview_id, candidate_id, _ids = _job(store)
    recording_id = _recording(appliance, store, interview_id, tmp_path)
    requisition_id = store.interviews.get(interview_id).requisition_id
    with store.transaction():
        store.personal_questions.add(
            candidate_id,
            requisition_id,
            text="Your resume mentions Kubernetes at Acme. How did you migrate the billing "
            "service to it?",
            language="en",
            source="resume",
            dimension_key="innovation",
        )
    parts = [
        *LIVE[:6],
        ("You mention Kubernetes at Acme: how did you migrate the billing service?", 22.0, 26.0),
        ("We moved it one endpoint at a time behind a feature flag.", 26.5, 31.0),
    ]
    spans = answer_spans(store, recording_id, _transcript(parts))
    assert [(s.question_id, s.dimension_key, s.start) for s in spans][1] == (
        None,
        "innovation",
        26.0,
    )
    assert spans[1].question_text.startswith("Your resume mentions Kubernetes")
