"""The score step: the job's competency model applied to the transcript, answer by answer.

Runs only where the region policy and the candidate's consent allow AI scoring (asked again
here, in the worker). Needs the transcript of the `transcribe` step and the requisition's
competency model; the answers come from the segmentation (a person's correction first).
Without a model, a transcript or the sentence encoder, the report says why nothing was scored
instead of failing the analysis: people still review the recording.
"""

from __future__ import annotations

import logging
from typing import Any

from appliance.analysis.pipeline import (
    AnalysisStep,
    ReportDraft,
    StepContext,
    StepFailure,
    register_step,
)
from appliance.analysis.steps.policy_gate import step_decision, store_of
from appliance.compliance.policy import PolicyAction
from appliance.platform.errors import ConfigError, NotFoundError
from appliance.scoring import score_recording
from inference.interfaces import InferenceError, TextEncoder, Transcript
from inference.packs import PackError

logger = logging.getLogger(__name__)

SECTION = "scoring"
SCORED_LANGUAGES = ("en", "zh")


def _transcript(draft: ReportDraft) -> Transcript | None:
    found = draft.artifacts.get("transcript")
    if isinstance(found, Transcript):
        return found
    stored = draft.sections.get("transcript")
    return Transcript.from_dict(stored) if isinstance(stored, dict) else None


def _encoder(ctx: StepContext) -> TextEncoder:
    from appliance.engines.runtime import text_encoder

    return text_encoder(ctx.config)


def check_spans_inside(section: dict[str, Any], duration_s: float) -> None:
    """Refuse a section whose evidence lies outside the recording (a bug, never stored)."""
    spans = [s for d in section["dimensions"] for s in d["evidence"]]
    spans += [s for a in section["answers"] for part in a["star"].values() for s in part]
    for span in spans:
        if not (0.0 <= span["start"] <= span["end"] <= duration_s + 0.5):
            raise StepFailure(
                "scoring_evidence", "an evidence span lies outside the recording", retryable=False
            )
    for dim in section["dimensions"]:
        if dim["score"] is not None and not dim["evidence"]:
            raise StepFailure(
                "scoring_evidence", "a score without evidence was produced", retryable=False
            )


@register_step
class ScoreStep(AnalysisStep):
    """STAR analysis and competency scores with evidence (`sections["scoring"]`)."""

    name = "score"

    def able_to_run(self, ctx: StepContext) -> bool:
        """Only where policy and consent allow the AI to evaluate the candidate."""
        return step_decision(ctx, PolicyAction.RUN_AI_SCORING).allowed

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        """Score the recording against the job's competency model version."""
        store = store_of(ctx)
        transcript = _transcript(draft)
        if store is None or transcript is None:
            draft.notes[self.name] = "no transcript to score (the transcribe step did not run)"
            return draft
        try:
            interview = store.interviews.get(ctx.recording.interview_id)
            requisition = store.requisitions.get(interview.requisition_id)
        except NotFoundError:
            draft.notes[self.name] = "the interview or its job no longer exists"
            return draft
        if requisition.competency_model_id is None:
            draft.notes[self.name] = "the job has no competency model"
            return draft
        model = store.competency.spec(requisition.competency_model_id)
        language = (interview.language or ctx.language or "en").split("-")[0].lower()
        if language not in SCORED_LANGUAGES:
            draft.notes[self.name] = f"scoring supports {', '.join(SCORED_LANGUAGES)}"
            return draft
        try:
            encoder = _encoder(ctx)
        except (PackError, InferenceError, ConfigError) as exc:
            logger.warning("score: sentence encoder unavailable (%s)", type(exc).__name__)
            draft.notes[self.name] = "the sentence-encoder model pack is not available"
            return draft
        spans: Any = draft.artifacts.get("answer_spans")
        if spans is None:
            from appliance.analysis.segmentation import answer_spans

            spans = answer_spans(store, ctx.recording.id, transcript)
            draft.artifacts["answer_spans"] = spans
        ctx.report_progress(_progress(ctx), self.name)
        section = score_recording(model, transcript, spans, encoder, language)
        check_spans_inside(section, transcript.duration_s)
        draft.sections[SECTION] = section
        return draft


def _progress(ctx: StepContext) -> float:
    names = list(ctx.config.worker.pipeline)
    return names.index(ScoreStep.name) / len(names) if ScoreStep.name in names else 0.0
