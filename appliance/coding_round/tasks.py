"""Coding tasks of a job: imported from a task file or saved from the task form
(`task_form`; each save the task's next version), exported as a file, listed for HR, and
shown to a candidate without what they must not see.

HR manages them with the right to edit jobs; anyone who may see the job sees the list. What
a candidate is given (`candidate_task_json`) has no hidden case, reference or generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from appliance.coding.languages import LANGUAGES, available
from appliance.coding.task import CodingTask, task_from_json, task_to_json
from appliance.coding.task_file import FORMATS, dump_task_file, parse_task_file
from appliance.hiring.common import InvalidInputError
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.coding import StoredTask


@dataclass(frozen=True)
class JobTask:
    """The current version of one of a job's tasks, read, with how many versions it has."""

    stored: StoredTask
    task: CodingTask
    versions: int


def offered_languages() -> list[str]:
    """The languages a task may offer: those this box has the toolchain for."""
    return available()


def import_task(
    store: Store,
    principal: Principal,
    requisition_id: int,
    data: bytes,
    filename: str = "",
    *,
    origin: str = "import",
) -> StoredTask:
    """Check a task file and save it as the next version of its task for this job
    (TaskFileError lists every fault with its line when it is not valid)."""
    visibility = require(principal, Action.EDIT_REQUISITIONS)
    job = store.requisitions.get_visible(requisition_id, visibility)
    task = parse_task_file(data, filename, offered=offered_languages())
    return save_version(store, principal, job.id, task, origin=origin)


def save_version(
    store: Store,
    principal: Principal,
    requisition_id: int,
    task: CodingTask,
    *,
    origin: str,
    check: Callable[[list[StoredTask]], None] | None = None,
) -> StoredTask:
    """Save a checked task as the next version of its key for the job, audited (the caller
    has checked that the principal may edit the job); `check` sees the key's versions so far
    (newest first) in the same transaction and may refuse by raising."""
    with store.audited(principal.actor, "coding_task.saved") as entry:
        if check is not None:
            check(store.coding_tasks.versions(requisition_id, task.key))
        saved = store.coding_tasks.save(
            requisition_id,
            task.key,
            task.title_in("en"),
            task_to_json(task),
            origin=origin,
            created_by=principal.user_id,
        )
        entry.details.update(
            requisition=requisition_id,
            task=saved.id,
            key=saved.key,
            version=saved.version,
            origin=origin,
        )
    return saved


def visible_task(store: Store, principal: Principal, action: Action, task_id: int) -> StoredTask:
    """A task version whose job the caller reaches with `action` (else not found)."""
    visibility = require(principal, action)
    stored = store.coding_tasks.get(task_id)
    store.requisitions.get_visible(stored.requisition_id, visibility)  # else not found
    return stored


def export_task(
    store: Store, principal: Principal, task_id: int, fmt: str = "yaml"
) -> tuple[str, bytes]:
    """A task version as a file (name, bytes) that imports back the same; it holds the hidden
    cases and the reference, so only people who may edit the job get it."""
    if fmt not in FORMATS:
        raise InvalidInputError([f"choose a format: {', '.join(FORMATS)}"])
    stored = visible_task(store, principal, Action.EDIT_REQUISITIONS, task_id)
    with store.transaction():
        store.audit.append(
            principal.actor, "coding_task.exported", details={"task": stored.id, "format": fmt}
        )
    return f"{stored.key}-v{stored.version}.{fmt}", dump_task_file(task_from_json(stored.spec), fmt)


def job_tasks(store: Store, principal: Principal, requisition_id: int) -> list[JobTask]:
    """The current version of each of a job's tasks."""
    visibility = require(principal, Action.VIEW_REQUISITIONS)
    job = store.requisitions.get_visible(requisition_id, visibility)
    return [
        JobTask(
            stored,
            task_from_json(stored.spec),
            len(store.coding_tasks.versions(job.id, stored.key)),
        )
        for stored in store.coding_tasks.current(job.id)
    ]


def task_versions(store: Store, principal: Principal, task_id: int) -> list[StoredTask]:
    """Every version of the task `task_id` is a version of, newest first."""
    stored = visible_task(store, principal, Action.VIEW_REQUISITIONS, task_id)
    return store.coding_tasks.versions(stored.requisition_id, stored.key)


def summary_json(stored: StoredTask, task: CodingTask) -> dict[str, Any]:
    """A task version for HR's lists: no test content, no reference."""
    return {
        "id": stored.id,
        "key": stored.key,
        "version": stored.version,
        "title": dict(task.title),
        "languages": list(task.languages),
        "visible_tests": len(task.visible_tests),
        "hidden_tests": task.hidden_count,
        "limits": {
            "cpu_seconds": task.limits.cpu_s,
            "wall_seconds": task.limits.wall_s,
            "memory_mb": task.limits.memory_bytes >> 20,
        },
        "reference_languages": list(task.references),
        "growth_estimate": task.generator is not None,
        "origin": stored.origin,
        "created_at": stored.created_at,
    }


def candidate_task_json(stored: StoredTask, task: CodingTask) -> dict[str, Any]:
    """What a candidate is given: statement, starter code, languages, visible cases, limits.

    Never the hidden cases, the reference solution or the generator.
    """
    return {
        "id": stored.id,
        "key": stored.key,
        "version": stored.version,
        "title": dict(task.title),
        "statement": dict(task.statement),
        "languages": [{"name": name, "label": LANGUAGES[name].label} for name in task.languages],
        "starter": {name: task.starter.get(name, "") for name in task.languages},
        "visible_tests": [
            {"name": test.name, "input": test.input, "output": test.expected}
            for test in task.visible_tests
        ],
        "hidden_tests": task.hidden_count,
        "limits": {
            "cpu_seconds": task.limits.cpu_s,
            "wall_seconds": task.limits.wall_s,
            "memory_mb": task.limits.memory_bytes >> 20,
        },
    }
