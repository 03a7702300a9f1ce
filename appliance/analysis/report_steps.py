"""What the analysis of a recording did, step by step, and why a step produced nothing.

The steps write their notes as English sentences for operators; the report pages need the
reason as a code they can put into the viewer's words, with the policy's own answer (what was
missing, or that the region forbids it) where a rule stopped the step.
"""

from __future__ import annotations

from typing import Any

from appliance.compliance.policy import PolicyAction
from appliance.store.reports import Report

# The policy question behind each gated step (the steps ask it in `able_to_run` or `run`).
STEP_ACTIONS = {
    "delivery": PolicyAction.RUN_AI_SCORING.value,
    "score": PolicyAction.RUN_AI_SCORING.value,
    "visual_cues": PolicyAction.RUN_VISUAL_CUES.value,
    "affect": PolicyAction.RUN_AFFECT_ANALYSIS.value,
}
# A phrase of a step's note -> the reason's code; the first that matches wins.
NOTE_REASONS = (
    ("not allowed by policy", "policy"),
    ("has no video", "no_video"),
    ("has no audio", "no_audio"),
    ("no speech was recognised", "no_speech"),
    ("no words were recognised", "no_speech"),
    ("no transcript", "no_transcript"),
    ("has no competency model", "no_model"),
    ("scoring supports", "language"),
    ("model pack is not available", "no_pack"),
    ("no longer exists", "gone"),
    ("needs the face boxes", "needs_faces"),
    ("could not be decoded", "unreadable"),
    ("stored apart", "stored_apart"),
)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def policy_answer(content: dict[str, Any], step: str) -> dict[str, Any] | None:
    """The policy gate's answer for a step: allowed, what was missing, whether forbidden."""
    action = STEP_ACTIONS.get(step)
    analyses = _dict(_dict(_dict(content.get("sections")).get("policy")).get("analyses"))
    answer = _dict(analyses.get(action)) if action else {}
    if not answer:
        return None
    allowed = bool(answer.get("allowed"))
    missing = [] if allowed else _strings(answer.get("requirements"))
    return {
        "allowed": allowed,
        "missing": missing,
        # Refused with nothing missing: a rule that never allows it (e.g. EU emotion recognition).
        "forbidden": not allowed and not missing,
        "regions": _strings(answer.get("regions")),
    }


def _reason(note: str) -> str:
    lowered = note.lower()
    found = next((code for phrase, code in NOTE_REASONS if phrase in lowered), None)
    if found is not None:
        return found
    return "failed" if lowered.startswith("failed") else "other"


def step_state(content: dict[str, Any], step: str) -> dict[str, Any]:
    """One step: `done` (it ran and produced its part), the reason's code when not, the policy's
    answer where a rule stopped it, and the step's note as written."""
    notes = _dict(content.get("notes"))
    note = str(notes[step]) if step in notes else None
    if step in _strings(content.get("steps_skipped")):
        reason: str | None = "policy"  # a step's able_to_run refuses only on policy grounds
    elif step not in _strings(content.get("steps_run")):
        reason = "not_run"
    elif note is not None:
        reason = _reason(note)
    else:
        reason = None
    return {
        "name": step,
        "done": reason in (None, "stored_apart"),
        "reason": reason,
        "policy": policy_answer(content, step) if reason == "policy" else None,
        "note": note,
    }


def step_states(content: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step the analysis ran or skipped, in the order it took them (skipped ones last)."""
    names = _strings(content.get("steps_run"))
    names += [s for s in _strings(content.get("steps_skipped")) if s not in names]
    return [step_state(content, name) for name in names]


def scoring_state(reports: list[Report]) -> dict[str, Any]:
    """Why the interview has no scores: the score step's state in its newest report that has
    one (`no_analysis` without a report)."""
    for report in sorted(reports, key=lambda r: r.id, reverse=True):
        content = _dict(report.content)
        names = _strings(content.get("steps_run")) + _strings(content.get("steps_skipped"))
        if "score" in names:
            state = step_state(content, "score")
            if state["reason"] is None:  # ran, no note, yet no section: nothing to score
                state["reason"] = "nothing_scored"
            return state
    if reports:
        return {"name": "score", "done": False, "reason": "not_run", "policy": None, "note": None}
    return {"name": "score", "done": False, "reason": "no_analysis", "policy": None, "note": None}


def language_check(reports: list[Report], scoring: dict[str, Any] | None) -> dict[str, Any]:
    """The interview's language, the language the answers were spoken in, and whether they
    differ (the transcribe step's finding, or the scorer's for an answer)."""
    interview, spoken, mismatch = None, None, bool(_dict(scoring).get("language_mismatch"))
    for report in reports:
        transcript = _dict(_dict(_dict(report.content).get("sections")).get("transcript"))
        interview = interview or transcript.get("interview_language")
        spoken = spoken or transcript.get("language")
        mismatch = mismatch or bool(transcript.get("language_mismatch"))
    return {
        "interview": str(interview) if interview and interview != "und" else None,
        "spoken": str(spoken) if spoken else None,
        "mismatch": mismatch,
    }


__all__ = [
    "NOTE_REASONS",
    "STEP_ACTIONS",
    "language_check",
    "policy_answer",
    "scoring_state",
    "step_state",
    "step_states",
]
