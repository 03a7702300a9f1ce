"""The room's settings per requisition and the plan of questions taken from the job's model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from appliance.platform.errors import ApplianceError
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.resumes import PersonalQuestion
from appliance.store.segments import PlannedQuestion


class RoomSettingsError(ApplianceError):
    """A room setting is out of range."""


@dataclass(frozen=True)
class RoomSettings:
    """How the room runs for a requisition's candidates."""

    retakes: int = 1  # extra attempts per question
    thinking_s: int = 20  # time to think before recording starts (0: none)
    max_answer_s: int = 120  # longest answer; recording stops by itself
    read_aloud: bool = True  # the browser reads each question aloud (speechSynthesis)
    followups: bool = False  # dynamic follow-up questions from the answers
    followup_budget_s: int = 8  # longest wait for a follow-up before the planned question
    max_followups: int = 2
    max_questions: int = 8

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


LIMITS: dict[str, tuple[int, int]] = {
    "retakes": (0, 5),
    "thinking_s": (0, 300),
    "max_answer_s": (5, 900),
    "followup_budget_s": (1, 60),
    "max_followups": (0, 10),
    "max_questions": (1, 30),
}


def settings_from(data: dict[str, Any] | None) -> RoomSettings:
    """Validated settings from stored or submitted values (defaults for what is missing)."""
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(RoomSettings)}
    for name, value in (data or {}).items():
        if name not in known:
            raise RoomSettingsError(f"unknown room setting {name!r}")
        if name in LIMITS:
            low, high = LIMITS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise RoomSettingsError(f"{name} must be a whole number from {low} to {high}")
        elif not isinstance(value, bool):
            raise RoomSettingsError(f"{name} is true or false")
        values[name] = value
    return RoomSettings(**values)


def requisition_settings(store: Store, requisition_id: int) -> RoomSettings:
    """The settings a requisition's rooms open with."""
    return settings_from(store.room.settings_for(requisition_id))


def save_room_settings(
    store: Store, principal: Principal, requisition_id: int, data: dict[str, Any]
) -> RoomSettings:
    """HR changes how the room runs for a requisition (rooms already open keep theirs)."""
    visibility = require(principal, Action.EDIT_REQUISITIONS)
    requisition = store.requisitions.get_visible(requisition_id, visibility)
    settings = settings_from(data)
    with store.audited(
        principal.actor,
        "room.settings_changed",
        requisition=requisition.id,
        **settings.to_dict(),
    ):
        store.room.put_settings(requisition.id, settings.to_dict(), principal.user_id)
    return settings


def planned_questions(store: Store, requisition_id: int, language: str) -> list[PlannedQuestion]:
    """One question per competency of the job's model, in the interview's language.

    A dimension without a question in that language falls back to English, then to any
    language, so no competency goes unasked.
    """
    requisition = store.requisitions.get(requisition_id)
    if requisition.competency_model_id is None:
        return []
    by_dimension: dict[str, list[PlannedQuestion]] = {}
    for question in store.interview_plan.planned_questions(requisition.competency_model_id):
        by_dimension.setdefault(question.dimension_key, []).append(question)
    base = language.split("-", 1)[0].split("_", 1)[0].lower()
    chosen = []
    for questions in by_dimension.values():
        for wanted in (base, "en", None):
            found = [
                q
                for q in questions
                if wanted is None or q.language.split("_", 1)[0].lower() == wanted
            ]
            if found:
                chosen.append(found[0])
                break
    return chosen


def personal_questions(
    store: Store, candidate_id: int, requisition_id: int, language: str
) -> list[PersonalQuestion]:
    """The candidate's personalised questions (resume match) in the interview's language.

    Questions in another language are left out rather than shown untranslated; HR drafts
    them in both languages.
    """
    base = language.split("-", 1)[0].split("_", 1)[0].lower()
    return [
        q
        for q in store.personal_questions.for_plan(candidate_id, requisition_id)
        if q.language.split("-", 1)[0].split("_", 1)[0].lower() == base
    ]
