"""The room's optional self-identification step: after the consents, before the questions.

Asked only where the region policy allows it (`appliance.compliance.self_id`). Skipping it sends
nothing: no record, no audit entry, the interview goes on exactly as it would have. The step is
open while the room is at the device check; once the questions begin it is over, so nobody
answers it in the middle of their interview.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.compliance.self_id import (
    CANDIDATE,
    STEP_OVER,
    SelfIdError,
    SelfIdOffer,
    record_declaration,
    self_id_offer,
)
from appliance.room.consent import room_language
from appliance.store import Store
from appliance.store.room import RoomSession

OPEN_STAGE = "device_check"


@dataclass(frozen=True)
class SelfIdAnswers:
    """What the candidate chose (None: prefer not to say)."""

    sex: str | None
    race_ethnicity: str | None
    consent: bool = False


def _candidate_id(store: Store, room: RoomSession) -> int:
    return store.interviews.get(room.interview_id).candidate_id


def self_id_step(store: Store, room: RoomSession) -> SelfIdOffer | None:
    """The step as the policy offers it, while it is open (None: not asked now)."""
    if room.stage != OPEN_STAGE:
        return None
    offer = self_id_offer(store, _candidate_id(store, room))
    return offer if offer.offered else None


def record_room_self_id(
    store: Store, room: RoomSession, answers: SelfIdAnswers, language: str
) -> None:
    """Store the candidate's answers (refused outside the step or where the policy says no)."""
    if room.stage != OPEN_STAGE:
        raise SelfIdError(
            "the optional questions about you come after the consents and before the questions",
            STEP_OVER,
        )
    record_declaration(
        store,
        store.candidates.get(_candidate_id(store, room)),
        sex=answers.sex,
        race_ethnicity=answers.race_ethnicity,
        consent=answers.consent,
        actor="candidate",
        channel=CANDIDATE,
        language=room_language(language),
        interview_id=room.interview_id,
    )
