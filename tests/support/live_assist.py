"""Live assist's world and the call it hears: an assigned interviewer whose candidate was given
the notice, and real LibriVox sentences separated by quiet room noise (16 kHz PCM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from appliance.accounts.auth import principal_of
from appliance.compliance.notices import record_delivery
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.compliance import compliance_of
from tests.conftest import make_user
from tests.support.room_fixtures import RoomSetup, room_setup
from tests.support.room_media import wav_pcm

RATE = 16000


def speech_with_gaps(
    clips: list[Path], gap_s: float = 1.2
) -> tuple[bytes, list[tuple[float, float]]]:
    """The clips one after the other, separated by quiet room noise; and where each clip lies."""
    rng = np.random.default_rng(7)
    parts: list[bytes] = []
    spans: list[tuple[float, float]] = []
    position = 0
    for clip in clips:
        pcm, rate = wav_pcm(clip)
        assert rate == RATE
        noise = (rng.normal(0, 20, int(gap_s * RATE))).astype("<i2").tobytes()
        parts.append(noise)
        position += len(noise) // 2
        spans.append((position / RATE, (position + len(pcm) // 2) / RATE))
        parts.append(pcm)
        position += len(pcm) // 2
    parts.append((rng.normal(0, 20, int(gap_s * RATE))).astype("<i2").tobytes())
    return b"".join(parts), spans


def live_setup(store: Store, *, deliver: bool = True) -> tuple[RoomSetup, Principal]:
    """A room's interview with an assigned interviewer; with `deliver`, the EU notice was given
    to the candidate (as live assist requires). Returns the setup and the interviewer."""
    setup = room_setup(store, name="Live Candidate")
    if deliver:
        notice = compliance_of(store).notices.latest_published("EU", "en")
        assert notice is not None
        record_delivery(store, setup.hr, interview_id=setup.interview_id, notice_id=notice.id)
    user_id = make_user(store, f"int.{setup.interview_id}", "interviewer")
    with store.transaction():
        store.interviews.assign(setup.interview_id, user_id, "interviewer")
    user = store.users.get(user_id)
    return setup, principal_of(user)
