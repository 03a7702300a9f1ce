"""The affect step: the expression classifier, only where policy and consent allow it.

`RUN_AFFECT_ANALYSIS` is asked first, in the worker; where it is refused (always in the EU;
elsewhere unless the region enabled it and the candidate consented) the step returns before
the model pack is looked up, so the classifier's file is never read. Its output goes to
`draft.apart["affect"]`, which the worker stores in `affect_observations` in the same
transaction as the report; the report itself only learns that the step ran or why it did not.
It needs the face boxes of the visual-cues step (it does no face tracking of its own).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from appliance.analysis.pipeline import AnalysisStep, ReportDraft, StepContext, register_step
from appliance.analysis.steps.visual_cues import MAX_FRAME_WIDTH, has_video, policy_decision
from appliance.compliance.policy import PolicyAction
from appliance.platform.config import ApplianceConfig
from appliance.store.queue import LostClaimError
from inference.frames import FrameSampling, sample_frames
from inference.interfaces import FrameCues, InferenceError
from inference.vision.summary import main_face

logger = logging.getLogger(__name__)

NAME = "affect"


def load_classifier(config: ApplianceConfig) -> Any:
    """The expression classifier from its verified pack (reads the model file)."""
    from appliance.engines.runtime import load_pack
    from inference.vision.affect import AffectClassifier

    pack = load_pack(config, config.inference.affect_pack, allowed_uses={"affect"})
    return AffectClassifier(pack, device=config.inference.vision_device)


def note(draft: ReportDraft, status: str, reason: str) -> ReportDraft:
    """Say in the report why no affect output exists (the output itself is never there)."""
    draft.notes[NAME] = f"{status}: {reason}"
    return draft


def summarise_affect(observations: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean probability per class and how often each class came first."""
    if not observations:
        return {"mean": {}, "top_share": {}}
    labels = list(observations[0]["probabilities"])
    mean = {
        label: round(sum(o["probabilities"][label] for o in observations) / len(observations), 4)
        for label in labels
    }
    tops = Counter(max(o["probabilities"], key=o["probabilities"].get) for o in observations)
    return {
        "mean": mean,
        "top_share": {label: round(tops[label] / len(observations), 4) for label in labels},
    }


@register_step
class AffectStep(AnalysisStep):
    """Expression-class probabilities per sampled face, stored apart from the report."""

    name = NAME

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        """Classify the main face of each sampled frame where policy allows; never fail the job."""
        allowed, reason = policy_decision(ctx, draft, PolicyAction.RUN_AFFECT_ANALYSIS)
        if not allowed:
            return note(draft, "skipped", f"not allowed by policy or consent ({reason})")
        if has_video(draft) is False:
            return note(draft, "skipped", "the recording has no video")
        cues: list[FrameCues] | None = draft.artifacts.get("frame_cues")
        interval = draft.artifacts.get("frame_interval_s")
        if not cues or not interval:
            return note(draft, "skipped", "it needs the face boxes of the visual-cues step")
        try:
            classifier = load_classifier(ctx.config)
            try:
                output = self._classify(
                    ctx, classifier, cues, float(interval), draft.artifacts.get("affect_crops")
                )
            finally:
                classifier.close()
        except LostClaimError:
            raise
        except Exception as exc:
            logger.warning("affect analysis failed: %s", type(exc).__name__)
            return note(draft, "failed", f"affect analysis failed ({type(exc).__name__})")
        draft.apart[NAME] = output
        return note(
            draft,
            "done",
            "stored apart from the report; it feeds no score unless an "
            "admin enabled that for the requisition with a recorded justification",
        )

    def _classify(
        self,
        ctx: StepContext,
        classifier: Any,
        cues: list[FrameCues],
        interval: float,
        crops: dict[float, Any] | None = None,
    ) -> dict[str, Any]:
        observations: list[dict[str, Any]] = []
        if crops is not None:  # cut while the visual cues decoded the frames: no second decode
            for t in sorted(crops):
                probabilities = classifier.classify_crop(crops[t])
                observations.append({"t": t, "probabilities": probabilities})
        else:
            boxes = {round(c.t, 3): face.box for c in cues if (face := main_face(c)) is not None}
            sampling = FrameSampling(fps=1.0 / interval, max_width=MAX_FRAME_WIDTH)
            with ctx.open_media() as media:
                for t, frame in sample_frames(media, sampling):
                    box = boxes.get(round(t, 3))
                    if box is None:
                        continue
                    try:
                        probabilities = classifier.classify(frame, box)
                    except InferenceError:  # a face too small to classify, as with crops
                        continue
                    observations.append({"t": round(t, 3), "probabilities": probabilities})
        return {
            "model": classifier.model_name,
            "frame_rate": round(1.0 / interval, 4),
            "observations": observations,
            "summary": summarise_affect(observations),
        }
