"""A finished analysis as the report tests see it: a report in the contract's shape (transcript,
delivery, visual cues, STAR scoring with a Chinese-named dimension) stored through the real
store for an interview with one recording; and a saved model naming its competencies in both
languages, for the pages in the viewer's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from appliance.accounts.auth import principal_of
from appliance.compliance.analysis_settings import set_region_analysis
from appliance.compliance.consents import record_consent
from appliance.media.recordings import ingest_recording
from appliance.store import Store
from appliance.store.competency import Anchor, DimensionSpec, ModelSpec
from inference.interfaces import Segment, Transcript, Word
from inference.vision.summary import CueSummary
from tests.conftest import Appliance, make_user, write_wav

ANSWER = (
    "Last year our checkout failed twice a week. I rewrote the retry logic myself "
    "and failures fell by 80 percent in two months."
)
QUOTE_RESULT = "failures fell by 80 percent in two months"
QUOTE_ACTION = "I rewrote the retry logic myself"
ZH_NAME = "跨团队协作"
PROBLEM_SOLVING_ZH = "解决问题"
ANCHOR_ZH = "找到根本原因并用数字证明修复有效。"


def _transcript() -> dict[str, Any]:
    words = [Word(w, 1.0 + i * 0.4, 1.3 + i * 0.4) for i, w in enumerate(ANSWER.split())]
    return Transcript(
        "en",
        [Segment(ANSWER, 1.0, words[-1].end, tuple(words))],
        "whisper",
        "whisper-base@1",
        duration_s=12.0,
    ).to_dict()


def _span(quote: str, start: float, end: float, cue: str) -> dict[str, Any]:
    return {"quote": quote, "start": start, "end": end, "answer": 0, "cue": cue}


def _cues(start: float, end: float, *, face: float, camera: float) -> dict[str, Any]:
    """A visual-cue summary exactly as the vision step stores it."""
    return CueSummary(start, end, int((end - start) * 2), face, camera, 1.5, 0.25, 0.04).to_dict()


def scoring_section() -> dict[str, Any]:
    """A `sections.scoring` exactly in the contract's shape."""
    result = _span(QUOTE_RESULT, 7.4, 10.2, "result_quantified")
    action = _span(QUOTE_ACTION, 4.2, 6.2, "action_own")
    return {
        "scorer": "star-v1",
        "model": {"id": 1, "name": "Software engineer", "version": 2},
        "language": "en",
        "language_mismatch": False,
        "answers": [
            {
                "index": 0,
                "question_id": None,
                "question_text": "Tell me about a hard bug.",
                "dimension_key": "problem_solving",
                "start": 0.0,
                "end": 12.0,
                "language": "en",
                "star": {
                    "situation": [_span("our checkout failed twice a week", 1.8, 3.6, "situation")],
                    "task": [],
                    "action": [action],
                    "result": [result],
                },
                "quantified_result": True,
                "ownership": 0.9,
                "specificity": 0.7,
                "flags": [
                    {
                        "code": "no_task",
                        "message": "The task is not stated",
                        "probe": "What exactly were you asked to fix?",
                    }
                ],
            }
        ],
        "dimensions": [
            {
                "key": "problem_solving",
                "name": "Problem solving",
                "weight": 0.6,
                "score": 8,
                "confidence": 0.72,
                "anchor": {
                    "level": 9,
                    "text": "Finds the root cause and proves the fix with numbers.",
                },
                "evidence": [action, result],
                "rationale": "Own action with a measured result.",
            },
            {
                "key": "collaboration",
                "name": ZH_NAME,
                "weight": 0.4,
                "score": None,
                "confidence": 0.0,
                "anchor": {"level": 3, "text": "未提及团队合作。"},
                "evidence": [],
                "rationale": "Not covered by the answers.",
            },
        ],
        "overall": 8.0,
        "strengths": [{"text": "States a quantified result", "evidence": [result]}],
        "to_probe": [{"text": "Collaboration was not covered", "evidence": []}],
        "followups": [
            {
                "dimension": "collaboration",
                "question": "Who else worked on the retry logic?",
                "based_on": action,
            }
        ],
    }


def content() -> dict[str, Any]:
    """A whole report's content in the contract's shape."""
    return {
        "media": {"duration_s": 12.0},
        "sections": {
            "transcript": _transcript(),
            "delivery": {
                "speaking_rate_per_min": 131.5,
                "pause_ratio": 0.18,
                "fillers": {"um": 2},
                "long_pauses": [{"start": 3.0, "end": 5.5, "duration_s": 2.5}],
            },
            "visual_cues": {
                "status": "done",
                "backend": "openvino",
                "frame_rate": 2.0,
                "overall": _cues(0.0, 12.0, face=0.97, camera=0.71),
                "answers": {"0": _cues(0.0, 12.0, face=0.96, camera=0.7)},
            },
            "policy": {"region": "EU"},
            "scoring": scoring_section(),
        },
        "steps_run": ["probe", "transcribe", "score"],
        "steps_skipped": [],
        "notes": {},
    }


def analysed_report(
    appliance: Appliance,
    store: Store,
    tmp_path: Path,
    *,
    name: str = "Report Candidate",
    kind: str = "upload",
    competency_model_id: int | None = None,
    cues_consent: bool = True,
    media: Path | None = None,
    content_type: str = "audio/wav",
    report_content: dict[str, Any] | None = None,
    model_version: str | None = "Software engineer v2",
) -> tuple[int, int, int]:
    """An interview with one recording analysed into a contract-shaped report (ids).

    With `cues_consent`, EU visual cues are switched on and the candidate consented to them,
    as they must be for the report to show the observations. The recording is a 2 s tone
    unless `media` names a real file (of `content_type`); `report_content` replaces `content()`
    and `model_version` the model the report says it was scored with.
    """
    with store.transaction():
        requisition = store.requisitions.create(
            "Engineer", "Engineering", "Berlin", "EU", competency_model_id=competency_model_id
        )
    candidate = store.candidates.create(name, email="report@example.invalid")
    interview = store.interviews.create(candidate.id, requisition.id, kind=kind)
    if cues_consent:
        admin = principal_of(
            store.users.get(
                make_user(store, f"cues.admin{interview.id}", "hr_admin", regions=["*"])
            )
        )
        set_region_analysis(store, admin, "EU", visual_cues=True, affect=False)
        record_consent(
            store,
            admin,
            interview_id=interview.id,
            kind="visual_cues",
            text_shown="I agree to visual cues.",
            language="en",
        )
    recording = media or write_wav(tmp_path / f"{interview.id}.wav", 2.0)
    with recording.open("rb") as source:
        done = ingest_recording(
            store,
            appliance.spool(),
            appliance.config,
            interview_id=interview.id,
            source=source,
            filename=f"answer{recording.suffix}",
            content_type=content_type,
            actor="test",
        )
    claim = store.jobs.claim("report-test-worker")
    assert claim is not None and claim.job.id == done.job.id
    store.jobs.succeed(claim, {})
    with store.transaction():
        report = store.reports.create(
            interview.id,
            done.job.id,
            report_content if report_content is not None else content(),
            recording_id=done.recording.id,
            model_version=model_version,
        )
    return interview.id, report.id, done.recording.id


def bilingual_model(store: Store) -> ModelSpec:
    """A saved competency model naming the fixture's competencies in English and Chinese."""
    spec = ModelSpec(
        "Software engineer",
        (
            DimensionSpec(
                "problem_solving",
                "Problem solving",
                0.6,
                name_zh=PROBLEM_SOLVING_ZH,
                anchors=(
                    Anchor(9, "en", "Finds the root cause and proves the fix with numbers."),
                    Anchor(9, "zh", ANCHOR_ZH),
                ),
            ),
            DimensionSpec("collaboration", "Collaboration", 0.4, name_zh=ZH_NAME),
        ),
    )
    with store.transaction():
        return store.competency.save(spec)


def bilingual_content(model: ModelSpec) -> dict[str, Any]:
    """`content()` scored with `model`, its flags and findings carrying the scorer's codes."""
    made = content()
    scoring = made["sections"]["scoring"]
    scoring["model"] = {"id": model.id, "name": model.name, "version": model.version}
    scoring["answers"][0]["flags"] = [
        {
            "code": "result_not_quantified",
            "message": "The result is not quantified.",
            "probe": "How much did it improve?",
        }
    ]
    scoring["to_probe"] = [
        {
            "text": f"Competency not yet covered by any answer. ({ZH_NAME})",
            "evidence": [],
            "code": "not_covered",
            "dimension": "collaboration",
        }
    ]
    scoring["strengths"][0]["text"] = f"Problem solving: “{QUOTE_RESULT}”"
    return made
