"""The visual-cues step: sampled frames -> vision backend -> per-answer summary.

The region policy and the candidate's consent are asked again here, in the worker
(`RUN_VISUAL_CUES`: consent everywhere, a signed facial-recognition waiver in Maryland, off
by default in the EU). When they say no, or the recording has no video, the step records why
in `draft.notes` and `sections["visual_cues"]` and decodes no frame. A failure inside the
visual analysis is noted the same way and never fails the job: the transcript and everything
else already in the draft are kept. The section holds observations (face visible, looking at
the camera, smiles, other people in frame), never an emotion label.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from appliance.analysis.pipeline import AnalysisStep, ReportDraft, StepContext, register_step
from appliance.analysis.steps.policy_gate import step_decision, store_of
from appliance.compliance.policy import PolicyAction
from appliance.platform.config import ApplianceConfig
from appliance.store.queue import LostClaimError
from inference.frames import FrameSampling, sample_frames
from inference.interfaces import Frame, FrameCues, VisionBackend
from inference.media import MediaError, NoMediaStreamsError
from inference.vision.summary import main_face, summarise, summarise_answers

logger = logging.getLogger(__name__)

SECTION = "visual_cues"
MAX_FRAME_WIDTH = 640  # frames are analysed at most this wide (the face models see 128-192 px)
CHUNK = 32  # frames analysed per backend call; bounds memory for any length of video


def vision_backend(config: ApplianceConfig) -> VisionBackend:
    """The configured (process-cached) vision backend."""
    from appliance.engines.runtime import vision_backend as cached

    return cached(config)


def policy_decision(ctx: StepContext, draft: ReportDraft, action: PolicyAction) -> tuple[bool, str]:
    """Whether `action` is allowed for this job, reusing the policy gate's answer if present."""
    allowed, reason, _ = policy_answer(ctx, draft, action)
    return allowed, reason


def policy_answer(
    ctx: StepContext, draft: ReportDraft, action: PolicyAction
) -> tuple[bool, str, list[str]]:
    """(allowed, reason, obligations when allowed or missing facts when refused)."""
    decided = ((draft.sections.get("policy") or {}).get("analyses") or {}).get(action.value)
    if isinstance(decided, dict) and "allowed" in decided:
        return (
            bool(decided["allowed"]),
            str(decided.get("reason", "")),
            [str(r) for r in decided.get("requirements") or []],
        )
    decision = step_decision(ctx, action)
    return decision.allowed, decision.reason, list(decision.requirements)


def has_video(draft: ReportDraft) -> bool | None:
    """Whether the probed recording has video (None when it was not probed)."""
    if draft.media_info is None:
        return None
    return bool(draft.media_info.get("has_video"))


def skip(draft: ReportDraft, name: str, reason: str, *, status: str = "skipped") -> ReportDraft:
    """Record in the draft why a step produced nothing."""
    draft.notes[name] = f"{status}: {reason}"
    draft.sections[name] = {"status": status, "reason": reason}
    return draft


def _chunks(
    frames: Iterable[tuple[float, Frame]], size: int
) -> Iterator[list[tuple[float, Frame]]]:
    chunk: list[tuple[float, Frame]] = []
    for item in frames:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def progress_span(ctx: StepContext, name: str) -> tuple[float, float]:
    """Where a step's progress lies within the whole job's (start, width)."""
    names = list(ctx.config.worker.pipeline)
    if name not in names:
        return 0.0, 1.0
    return names.index(name) / len(names), 1 / len(names)


def analyse_video(
    ctx: StepContext,
    backend: VisionBackend,
    sampling: FrameSampling,
    *,
    duration_s: float | None,
    progress_name: str,
    report: Callable[[float, str], None] | None = None,
    keep: Callable[[Frame, FrameCues], None] | None = None,
) -> list[FrameCues]:
    """Stream the recording's frames through the backend, reporting progress as it goes
    (to `report`, else to the job's progress); `keep` sees each frame with its cues."""
    cues: list[FrameCues] = []
    start, width = progress_span(ctx, progress_name)
    report = report or ctx.report_progress
    with ctx.open_media() as media:
        for chunk in _chunks(sample_frames(media, sampling), CHUNK):
            found = backend.analyse_many(chunk)
            if keep is not None:
                for (_, frame), frame_cues in zip(chunk, found, strict=True):
                    keep(frame, frame_cues)
            cues.extend(found)
            if duration_s:  # after every chunk: 16 s of video at 2 fps
                done = min(1.0, cues[-1].t / duration_s)
                report(start + width * done, progress_name)
    return cues


class AffectCrops:
    """The main face of each sampled frame, cut for the expression classifier while the frames
    are decoded for the cues (the affect step then decodes nothing): only when the pipeline
    runs that step and the policy allows it. Kept in memory for the job, never stored."""

    def __init__(self) -> None:
        self.by_time: dict[float, Any] = {}

    def keep(self, frame: Frame, cues: FrameCues) -> None:
        """Cut the main face of one frame (a face too small to classify is left out)."""
        from inference.interfaces import InferenceError
        from inference.vision.affect import face_crop

        face = main_face(cues)
        if face is None:
            return
        try:
            self.by_time[round(cues.t, 3)] = face_crop(frame, face.box)
        except InferenceError:
            return


def affect_wanted(ctx: StepContext, draft: ReportDraft) -> bool:
    """Whether the affect step will run on this job's frames (pipeline and policy)."""
    if "affect" not in ctx.config.worker.pipeline:
        return False
    decided = ((draft.sections.get("policy") or {}).get("analyses") or {}).get(
        PolicyAction.RUN_AFFECT_ANALYSIS.value
    )
    return isinstance(decided, dict) and bool(decided.get("allowed"))


class _Cancelled(Exception):
    """The job ended before the background analysis did."""


class _Background(threading.Thread):
    """The frames analysed beside the steps before (the transcription); the result or the
    exception is kept for the step's `run`, which waits for it."""

    def __init__(self, work: Callable[[Callable[[float, str], None]], list[FrameCues]]) -> None:
        super().__init__(name="visual-cues", daemon=True)
        self._work = work
        self.cancel = threading.Event()
        self.cues: list[FrameCues] | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0

    def run(self) -> None:
        began = time.monotonic()
        try:
            # No progress from here: the job's progress belongs to the step in front.
            self.cues = self._work(self._check)
        except BaseException as exc:  # handed to the waiting step as if it ran there
            self.error = exc
        finally:
            self.seconds = time.monotonic() - began

    def _check(self, _fraction: float, _step: str) -> None:
        if self.cancel.is_set():
            raise _Cancelled

    def result(self) -> list[FrameCues]:
        """Wait for the analysis; its exception is raised here."""
        self.join()
        if self.error is not None:
            raise self.error
        return self.cues or []


def answer_windows(ctx: StepContext, draft: ReportDraft) -> list[tuple[str, float, float]]:
    """The answers' time spans: from an earlier step (`artifacts["answer_spans"]`) or, when a
    transcript exists, from the segmentation (a person's correction first)."""
    spans: Any = draft.artifacts.get("answer_spans")
    store = store_of(ctx)
    transcript = draft.artifacts.get("transcript")
    if spans is None and store is not None and transcript is not None:
        try:
            from appliance.analysis.segmentation import answer_spans

            spans = answer_spans(store, ctx.recording.id, transcript)
        except Exception as exc:  # the split is a refinement; the overall summary stands
            logger.warning("visual cues: no answer split (%s)", type(exc).__name__)
            spans = None
    windows = []
    for span in spans or []:
        try:
            windows.append((str(span.index), float(span.start), float(span.end)))
        except (AttributeError, TypeError, ValueError):
            continue
    return windows


@register_step
class VisualCuesStep(AnalysisStep):
    """Face presence, gaze toward the camera, smiles and other people in frame, per answer."""

    name = SECTION

    def __init__(self) -> None:
        self._background: _Background | None = None
        self._crops: AffectCrops | None = None

    def begin(self, ctx: StepContext, draft: ReportDraft) -> bool:
        """Start on the frames once the recording is probed and the policy gate has allowed
        the cues (both decided here, on the job's own thread)."""
        decided = ((draft.sections.get("policy") or {}).get("analyses") or {}).get(
            PolicyAction.RUN_VISUAL_CUES.value
        )
        if not (isinstance(decided, dict) and decided.get("allowed")) or not has_video(draft):
            return False
        try:
            vision_backend(ctx.config)  # loaded here, once: the thread only uses it
        except Exception:  # a missing or broken pack: `run` tries again and notes why
            return False

        def work(report: Callable[[float, str], None]) -> list[FrameCues]:
            return self._analyse(ctx, draft, report)

        self._background = _Background(work)
        self._background.start()
        return True

    def cleanup(self, ctx: StepContext) -> None:
        """Stop a background analysis the job no longer waits for (it reads the scratch)."""
        if self._background is not None:
            self._background.cancel.set()
            self._background.join()
            self._background = None

    @staticmethod
    def _sampling(ctx: StepContext) -> FrameSampling:
        return FrameSampling(fps=ctx.config.inference.frame_rate, max_width=MAX_FRAME_WIDTH)

    def _analyse(
        self,
        ctx: StepContext,
        draft: ReportDraft,
        report: Callable[[float, str], None] | None = None,
    ) -> list[FrameCues]:
        """The frames through the backend (cutting the faces for the affect step on the way,
        when it will run), here or on the background thread."""
        self._crops = AffectCrops() if affect_wanted(ctx, draft) else None
        crops = self._crops
        return analyse_video(
            ctx,
            vision_backend(ctx.config),
            self._sampling(ctx),
            duration_s=(draft.media_info or {}).get("duration_s"),
            progress_name=self.name,
            report=report,
            keep=crops.keep if crops is not None else None,
        )

    def _cues(self, ctx: StepContext, draft: ReportDraft) -> list[FrameCues]:
        """The background analysis's result when it was begun, else the analysis now."""
        if self._background is not None:
            background = self._background
            cues = background.result()
            draft.step_seconds[self.name] = round(background.seconds, 3)
            return cues
        return self._analyse(ctx, draft)

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        """Analyse sampled frames where policy and consent allow; never lose the draft."""
        allowed, reason, obligations = policy_answer(ctx, draft, PolicyAction.RUN_VISUAL_CUES)
        if not allowed:
            return skip(draft, self.name, f"not allowed by policy or consent ({reason})")
        if has_video(draft) is False:
            return skip(draft, self.name, "the recording has no video")
        sampling = self._sampling(ctx)
        duration = (draft.media_info or {}).get("duration_s")
        try:
            backend = vision_backend(ctx.config)
            cues = self._cues(ctx, draft)
        except LostClaimError:
            raise
        except NoMediaStreamsError:
            return skip(draft, self.name, "the recording has no video")
        except MediaError as exc:
            logger.warning("visual cues: video unreadable (%s)", exc.code)
            return skip(
                draft, self.name, f"the video could not be decoded ({exc.code})", status="failed"
            )
        except Exception as exc:
            # The transcript and every other section are already in the draft; this analysis
            # is optional, so it is noted and the job goes on.
            logger.warning("visual cues failed: %s", type(exc).__name__)
            return skip(
                draft, self.name, f"visual analysis failed ({type(exc).__name__})", status="failed"
            )
        interval = 1.0 / sampling.fps
        gaze = getattr(backend, "reports_gaze", None)
        overall = summarise(cues, interval, reports_gaze=gaze, duration_s=duration)
        windows = answer_windows(ctx, draft)
        per_answer = summarise_answers(
            cues, interval, windows, reports_gaze=gaze, duration_s=duration
        )
        draft.sections[self.name] = {
            "status": "done",
            "backend": backend.type_key,
            "frame_rate": sampling.fps,
            # e.g. "never_for_score" (EU): scoring must leave these cues out.
            "obligations": obligations,
            "overall": overall.to_dict(),
            "answers": {label: summary.to_dict() for label, summary in per_answer.items()},
        }
        draft.artifacts["frame_cues"] = cues
        draft.artifacts["frame_interval_s"] = interval
        if self._crops is not None:
            draft.artifacts["affect_crops"] = self._crops.by_time
        return draft
