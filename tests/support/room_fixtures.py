"""A requisition with a competency model, a published notice, a candidate and their room link."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.accounts.auth import principal_of
from appliance.compliance.notices import publish_notice, save_notice
from appliance.hiring.links import issue_link
from appliance.room.plan import save_room_settings
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.competency import DimensionSpec, ModelSpec, Question
from tests.conftest import make_user

QUESTIONS = {
    "teamwork": "Tell us about a time you worked in a team to reach a difficult goal.",
    "ownership": "Describe a project where you took ownership of a problem nobody owned.",
    "learning": "Tell us about something you had to learn quickly for your work.",
}
NOTICE_FIELDS = {
    "title": "How we evaluate interviews",
    "controller": "Example Corp, HR department",
    "purposes": "Selecting candidates for the position",
    "retention": "Two years after the decision",
    "rights": "Access, correction, erasure, objection",
    "automated_evaluation": "Speech is transcribed; answers are compared with competency "
    "anchors (STAR structure); people review every score.",
}


@dataclass
class RoomSetup:
    """What one room test needs."""

    hr: Principal
    hr_id: int
    requisition_id: int
    interview_id: int
    candidate_id: int
    token: str


def room_setup(
    store: Store,
    *,
    region: str = "EU",
    name: str = "Room Candidate",
    username: str = "hr.room",
    settings: dict[str, object] | None = None,
    publish: bool = True,
) -> RoomSetup:
    """A requisition with three competencies, a notice, a candidate, an interview and a link."""
    if store.users.by_username(username) is None:
        make_user(store, username, "hr_admin", departments=["*"], regions=["*"])
    user = store.users.by_username(username)
    assert user is not None
    hr = principal_of(user)
    dimensions = tuple(
        DimensionSpec(key, key.title(), 1.0, questions=(Question("en", text),))
        for key, text in QUESTIONS.items()
    )
    with store.transaction():
        model = store.competency.save(ModelSpec(f"Room model {region} {name}", dimensions))
        requisition = store.requisitions.create(
            "Engineer", "Engineering", "Site", region, competency_model_id=model.id
        )
    candidate = store.candidates.create(name, email="room@example.invalid")
    with store.transaction():
        interview = store.interviews.create(candidate.id, requisition.id, kind="async")
    if publish:
        for notice_region in (region,):
            notice = save_notice(
                store, hr, region=notice_region, language="en", fields=NOTICE_FIELDS
            )
            publish_notice(store, hr, notice.id)
    save_room_settings(
        store,
        hr,
        requisition.id,
        {"thinking_s": 0, "max_answer_s": 30, "read_aloud": False, **(settings or {})},
    )
    token = issue_link(store, hr, interview_id=interview.id).token
    return RoomSetup(hr, user.id, requisition.id, interview.id, candidate.id, token)
