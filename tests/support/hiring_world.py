"""A hiring history for analytics and outcome tests: a job with the software engineer starter
model, candidates whose interviews were scored (a report with a scoring section per person),
decisions made by a person, and post-hire outcomes: all through the real encrypted store."""

from __future__ import annotations

from dataclasses import dataclass, field

from appliance.competency import starter_spec
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.outcomes import OutcomeFields

KEYS = ("technical_problem_solving", "collaboration")


@dataclass(frozen=True)
class Applicant:
    """One person to create: their two AI scores, the decision, and the outcome if hired."""

    scores: tuple[float, float]
    decision: str | None = None  # advance | reject | hire | None
    start_date: str | None = None
    left_on: str | None = None
    voluntary: bool | None = None
    probation: str = "pending"
    ratings: tuple[tuple[str, float], ...] = field(default=())


@dataclass(frozen=True)
class World:
    """What was created: the job, and per applicant their candidate id and pseudonym."""

    requisition_id: int
    candidates: list[tuple[int, str]]


# The first English question of each competency in the starter model the job uses, so that
# what the analytics learn about a question reaches the job's model editor.
QUESTIONS = tuple(
    next(d for d in starter_spec("software_engineer").dimensions if d.key == key).questions_in(
        "en"
    )[0]
    for key in KEYS
)


def scoring_section(scores: tuple[float, float]) -> dict[str, object]:
    """A report's scoring section as the scorer writes it: two weighted competencies, and one
    answer to each competency's question with the AI's assessment of it."""
    return {
        "sections": {
            "scoring": {
                "dimensions": [
                    {"key": key, "name": key, "score": score, "weight": 0.5, "confidence": 0.8}
                    for key, score in zip(KEYS, scores, strict=True)
                ],
                "overall": sum(scores) / 2,
                "answers": [
                    {
                        "index": index,
                        "question_text": question,
                        "dimension_key": key,
                        "assessments": [{"dimension_key": key, "score": score, "asked": True}],
                    }
                    for index, (key, question, score) in enumerate(
                        zip(KEYS, QUESTIONS, scores, strict=True)
                    )
                ],
            }
        }
    }


def build(
    store: Store,
    decider: Principal,
    applicants: list[Applicant],
    *,
    title: str = "Engineer",
    department: str = "Engineering",
    region: str = "US-NYC",
) -> World:
    """Create the job, the candidates, their scored interviews, decisions and outcomes."""
    with store.transaction():
        spec = store.competency.save(starter_spec("software_engineer"))
        requisition = store.requisitions.create(
            title, department, "New York", region, competency_model_id=spec.id
        )
    created = []
    for index, person in enumerate(applicants):
        candidate = store.candidates.create(f"Applicant {index}", residence_region=region)
        interview = store.interviews.create(candidate.id, requisition.id)
        with store.transaction():
            job = store.jobs.enqueue("analyse", max_open=100_000, max_attempts=1)
            store.reports.create(
                interview.id, job.id, scoring_section(person.scores), model_version="world-1"
            )
            store.interviews.set_status(interview.id, "analysed")
            if person.decision:
                store.decisions.add(
                    candidate.id, requisition.id, person.decision, "panel", decider.user_id
                )
            if person.decision == "hire" and person.start_date:
                outcome_id = store.outcomes.save(
                    candidate.id,
                    requisition.id,
                    f"E{index:05d}",
                    OutcomeFields(
                        person.start_date, person.probation, person.left_on, person.voluntary
                    ),
                    decider.user_id,
                )
                for day, rating in person.ratings:
                    store.outcomes.put_rating(outcome_id, candidate.id, day, rating)
        created.append((candidate.id, candidate.pseudonym))
    while (claim := store.jobs.claim("world")) is not None:
        with store.transaction():
            store.jobs.succeed(claim, {})
    return World(requisition.id, created)
