"""Live assist's core: utterance cutting on real speech, sessions, gates, and the worker task."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from appliance.accounts.auth import principal_of
from appliance.live.assist import (
    LiveAssistError,
    LivePieceOrderError,
    add_audio,
    end_live,
    live_assist_task,
    live_view,
    start_live,
)
from appliance.live.segmenter import UtteranceCutter
from appliance.platform.errors import MediaRejectedError, NotFoundError
from appliance.security.permissions import PermissionDeniedError
from appliance.store import Store
from tests.conftest import MODEL_PACKS, Appliance, make_user
from tests.support.live_assist import RATE, live_setup, speech_with_gaps
from tests.support.room_media import librivox_clips


def test_the_cutter_ends_utterances_at_the_pauses_between_real_sentences() -> None:
    clips = list(librivox_clips())[:3]
    audio, spans = speech_with_gaps(clips)
    cutter = UtteranceCutter(RATE)
    found = []
    step = RATE // 4 * 2  # 250 ms pieces, as the browser sends them
    for start in range(0, len(audio), step):
        found.extend(cutter.feed(audio[start : start + step]))
    found.extend(cutter.flush())
    assert found, "no speech found in real speech"
    for utterance in found:  # no utterance spans two sentences
        assert any(a - 0.3 <= utterance.start_s and utterance.end_s <= b + 0.3 for a, b in spans)
        assert len(utterance.pcm) == round((utterance.end_s - utterance.start_s) * RATE) * 2
    for a, b in spans:  # every sentence is (mostly) heard
        heard = sum(max(0.0, min(b, u.end_s) - max(a, u.start_s)) for u in found)
        assert heard >= 0.7 * (b - a)
    silence = UtteranceCutter(RATE)
    quiet = np.random.default_rng(1).normal(0, 20, RATE * 3).astype("<i2").tobytes()
    assert silence.feed(quiet) == [] and silence.flush() == []


def test_sessions_are_gated_owned_and_ordered(appliance: Appliance, store: Store) -> None:
    refused, interviewer = live_setup(store, deliver=False)
    with pytest.raises(LiveAssistError, match="cannot start"):  # no notice given: no AI
        start_live(
            store, appliance.config, interviewer, interview_id=refused.interview_id, language="en"
        )
    setup, interviewer = live_setup(store)
    with pytest.raises(NotFoundError):  # not assigned to this one
        start_live(
            store, appliance.config, interviewer, interview_id=refused.interview_id, language="en"
        )
    session = start_live(
        store, appliance.config, interviewer, interview_id=setup.interview_id, language="en"
    )
    assert store.jobs.get(session.job_id or 0).kind == "live_assist"
    add_audio(store, interviewer, session.id, 0, b"\x00\x01" * 100)
    assert add_audio(store, interviewer, session.id, 0, b"\x00\x01" * 100).next_seq == 1
    with pytest.raises(LivePieceOrderError):
        add_audio(store, interviewer, session.id, 5, b"\x00\x01" * 100)
    with pytest.raises(MediaRejectedError):
        add_audio(store, interviewer, session.id, 1, b"\x00")
    other_id = make_user(store, "int.other", "interviewer")
    other = principal_of(store.users.get(other_id))
    with store.transaction():
        store.interviews.assign(setup.interview_id, other_id, "interviewer")
    with pytest.raises(NotFoundError):  # another interviewer's session stays theirs
        live_view(store, other, session.id)
    with pytest.raises(PermissionDeniedError):
        live_view(
            store,
            principal_of(store.users.get(make_user(store, "lead.live", "business_lead"))),
            session.id,
        )
    assert end_live(store, interviewer, session.id).state == "ending"
    with pytest.raises(LiveAssistError):
        add_audio(store, interviewer, session.id, 1, b"\x00\x01" * 100)


@pytest.mark.slow
def test_the_worker_task_transcribes_and_saves_the_call(appliance: Appliance, store: Store) -> None:
    if not (MODEL_PACKS / "whisper-tiny-en" / "manifest.json").is_file():
        pytest.skip("the whisper-tiny-en model pack is not built (make setup)")
    setup, interviewer = live_setup(store)
    clips = librivox_clips()
    chosen = [p for p in clips if p.name.endswith(("0880.wav", "0930.wav"))]
    audio, _spans = speech_with_gaps(chosen)
    session = start_live(
        store, appliance.config, interviewer, interview_id=setup.interview_id, language="en"
    )
    piece = RATE // 2 * 2
    for seq, start in enumerate(range(0, len(audio), piece)):
        add_audio(store, interviewer, session.id, seq, audio[start : start + piece])
    end_live(store, interviewer, session.id)
    steps: list[str] = []
    result = live_assist_task(
        store, appliance.config, {"live_id": session.id}, lambda _f, step: steps.append(step)
    )
    view = live_view(store, interviewer, session.id)
    assert view["state"] == "ended" and steps
    text = " ".join(s["text"] for s in view["segments"]).lower()
    for word in ("young", "amiable", "himself"):
        assert word in text, text
    assert {c["key"] for c in view["coverage"]} == {"teamwork", "ownership", "learning"}
    recording = store.recordings.get(result["recording_id"])
    key = store.vault.key_for(store.candidates.get(setup.candidate_id).pseudonym)
    with appliance.spool().open(recording.spool_name, recording.wrapped_data_key, key) as reader:
        saved_bytes = reader.read()
    with wave.open(io.BytesIO(saved_bytes)) as saved:
        assert saved.getframerate() == RATE
        assert saved.readframes(saved.getnframes()) == audio  # the whole call, unchanged
    assert store.jobs.get(result["job_id"]).kind == "analyse"
    assert store.conn.execute("SELECT count(*) FROM live_chunks").fetchone()[0] == 0
    assert store.hr_notifications.for_user(interviewer.user_id)[0].kind == "live.saved"
