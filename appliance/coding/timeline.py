"""How a solution evolved, from its autosaved drafts: how many, when, and how much each changed.

A change is counted in lines added and removed between consecutive drafts (and from the last
draft to the submitted code); a single large addition is shown as such, since code pasted in
at once reads differently from code typed and revised.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.platform.clock import from_stamp

MAX_STEPS = 200  # steps kept for the page; the totals count every draft


@dataclass(frozen=True)
class Snapshot:
    """One saved state of the code and when it was saved."""

    at: str
    code: str


@dataclass(frozen=True)
class Step:
    """One draft: when, its size, and the lines it added and removed since the one before."""

    at: str
    lines: int
    size_bytes: int
    added: int
    removed: int


@dataclass(frozen=True)
class Timeline:
    """The drafts' story up to the submission."""

    drafts: int
    first_at: str | None
    last_at: str | None
    span_s: float
    added: int
    removed: int
    largest_addition: int  # the most lines one draft added
    largest_addition_at: str | None
    to_submission_added: int  # from the last draft to the submitted code
    to_submission_removed: int
    steps: tuple[Step, ...]


def _lines(code: str) -> list[str]:
    return code.replace("\r\n", "\n").split("\n") if code else []


def line_changes(before: str, after: str) -> tuple[int, int]:
    """Lines added and removed going from `before` to `after`."""
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, _lines(before), _lines(after), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return added, removed


def build_timeline(drafts: Sequence[Snapshot], submitted: str, starter: str = "") -> Timeline:
    """The timeline of `drafts` (oldest first) ending in the `submitted` code; the first
    draft's changes count from the task's starter code."""
    steps: list[Step] = []
    previous = starter
    added_total = removed_total = 0
    largest, largest_at = 0, None
    for draft in drafts:
        added, removed = line_changes(previous, draft.code)
        added_total += added
        removed_total += removed
        if added > largest:
            largest, largest_at = added, draft.at
        steps.append(
            Step(draft.at, len(_lines(draft.code)), len(draft.code.encode()), added, removed)
        )
        previous = draft.code
    final_added, final_removed = line_changes(previous, submitted) if drafts else (0, 0)
    first = drafts[0].at if drafts else None
    last = drafts[-1].at if drafts else None
    span = (from_stamp(last) - from_stamp(first)).total_seconds() if first and last else 0.0
    if len(steps) > MAX_STEPS:
        # Keep the first and last steps and an even sample between: the page stays short.
        stride = len(steps) / (MAX_STEPS - 1)
        steps = [steps[int(i * stride)] for i in range(MAX_STEPS - 1)] + [steps[-1]]
    return Timeline(
        drafts=len(drafts),
        first_at=first,
        last_at=last,
        span_s=span,
        added=added_total,
        removed=removed_total,
        largest_addition=largest,
        largest_addition_at=largest_at,
        to_submission_added=final_added,
        to_submission_removed=final_removed,
        steps=tuple(steps),
    )
