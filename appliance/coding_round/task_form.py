"""Coding tasks made and edited in a form on the job's page.

The form's fields, as typed, are turned into the task file's data and checked by the very
rules of the file import (`appliance.coding.task_file.check_task_data`); each fault comes back
named by the form field it is about. Saving makes the task's next version, as an import does.
An edit starts from one version and is refused when someone saved a newer one meanwhile; the
input generator is not in the form, so an edit keeps the version's own.

Field ids (the web form uses them as its fields' ids): `key`, `title-en`, `title-zh`,
`statement-en`, `statement-zh`, `languages`, `starter-<language>`, `reference-<language>`,
`references`, `cpu_seconds`, `wall_seconds`, `memory_mb`, `visible-tests`, `hidden-tests`, and
`visible-<n>-<part>` / `hidden-<n>-<part>` for a test row's `name`, `input` and `output`;
"" is the task as a whole.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from appliance.coding.model import MIB
from appliance.coding.task import CodingTask, Generator, task_from_json
from appliance.coding.task_file import (
    DEFAULTS,
    MAX_TESTS,
    FieldProblem,
    TaskFileError,
    check_task_data,
)
from appliance.coding_round.tasks import offered_languages, save_version, visible_task
from appliance.hiring.common import InvalidInputError
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.coding import StoredTask

ORIGIN = "form"
MAX_ROWS = MAX_TESTS  # per section; the file's own limit counts both sections together
SECTIONS = ("visible", "hidden")
ROW_PARTS = ("name", "input", "output")
_PATH = re.compile(r"^(?P<name>[a-z_]+)(?:\[(?P<index>\d+)\])?(?:\.(?P<rest>.+))?$")


@dataclass
class CaseRow:
    """One test case as typed: a name (optional), its input and the expected output."""

    name: str = ""
    input: str = ""
    output: str = ""

    def blank(self) -> bool:
        """Nothing typed: the row is left out of the task."""
        return not (self.name.strip() or self.input.strip() or self.output.strip())


@dataclass
class TaskForm:
    """Every field of the task form as typed (numbers too, so a wrong one is shown back).

    `title` and `statement` are by text language (en, zh); `starter` and `references` by
    programming language. The first reference, in the order of `references`, is the main one.
    """

    key: str = ""
    title: dict[str, str] = field(default_factory=dict)
    statement: dict[str, str] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    starter: dict[str, str] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    cpu_seconds: str = ""
    wall_seconds: str = ""
    memory_mb: str = ""
    visible: list[CaseRow] = field(default_factory=lambda: [CaseRow()])
    hidden: list[CaseRow] = field(default_factory=lambda: [CaseRow()])

    def rows(self, section: str) -> list[CaseRow]:
        """The rows of `section` ("visible" or "hidden")."""
        return self.hidden if section == "hidden" else self.visible


@dataclass(frozen=True)
class FieldFault:
    """A fault in words and the id of the form field it is about ("" for the whole task)."""

    field: str
    message: str


class TaskFormError(InvalidInputError):
    """The form cannot be saved; `faults` names the field of each fault."""

    def __init__(self, faults: list[FieldFault]) -> None:
        super().__init__([fault.message for fault in faults])
        self.faults = faults


def _number_text(value: float) -> str:
    return f"{value:g}"


def new_form() -> TaskForm:
    """An empty form: every language this box runs, the file's default limits, one empty row
    of each kind of test."""
    cpu = DEFAULTS["cpu_seconds"]
    return TaskForm(
        languages=offered_languages(),
        cpu_seconds=_number_text(cpu),
        wall_seconds=_number_text(max(5.0, 2 * cpu)),
        memory_mb=_number_text(DEFAULTS["memory_mb"]),
    )


def form_from_task(task: CodingTask) -> TaskForm:
    """The form filled from a task version (its generator stays out: an edit keeps it)."""
    return TaskForm(
        key=task.key,
        title=dict(task.title),
        statement=dict(task.statement),
        languages=list(task.languages),
        starter=dict(task.starter),
        references=task.references,
        cpu_seconds=_number_text(task.limits.cpu_s),
        wall_seconds=_number_text(task.limits.wall_s),
        memory_mb=_number_text(task.limits.memory_bytes / MIB),
        visible=[CaseRow(t.name, t.input, t.expected) for t in task.tests if not t.hidden]
        or [CaseRow()],
        hidden=[CaseRow(t.name, t.input, t.expected) for t in task.tests if t.hidden]
        or [CaseRow()],
    )


def key_from_title(title: str) -> str:
    """A task key made from an English title ('Two Sum!' -> 'two-sum'), or "" when the title
    has no letters or digits to make one of."""
    key = "-".join(re.findall(r"[a-z0-9]+", title.lower()))
    if key and not key[0].isalpha():
        key = f"task-{key}"
    return key[:40].rstrip("-")


def _number(text: str) -> float | str:
    """A typed number as one; anything else as typed, for the file's rule to refuse."""
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if math.isfinite(value) and value.is_integer() else value


@dataclass(frozen=True)
class _Layout:
    """Where the form's parts went in the task data: reference languages and test rows (the
    field id prefix of each) in their order."""

    references: list[str]
    rows: list[str]


def _task_data(
    form: TaskForm, key: str, generator: Generator | None
) -> tuple[dict[str, Any], _Layout]:
    """The form as the task file's data, and where each reference and test row went."""
    data: dict[str, Any] = {"key": key}
    data["title"] = {lang: text.strip() for lang, text in form.title.items() if text.strip()}
    data["statement"] = {lang: text for lang, text in form.statement.items() if text.strip()}
    data["languages"] = list(dict.fromkeys(form.languages))
    limits = {
        name: _number(text.strip())
        for name, text in (
            ("cpu_seconds", form.cpu_seconds),
            ("wall_seconds", form.wall_seconds),
            ("memory_mb", form.memory_mb),
        )
        if text.strip()
    }
    if limits:
        data["limits"] = limits
    starter = {lang: code for lang, code in form.starter.items() if code.strip()}
    if starter:
        data["starter"] = starter
    references = [(lang, code) for lang, code in form.references.items() if code.strip()]
    if len(references) == 1:
        data["reference"] = {"language": references[0][0], "code": references[0][1]}
    elif references:
        data["reference"] = [{"language": lang, "code": code} for lang, code in references]
    tests: list[dict[str, Any]] = []
    rows: list[str] = []
    for section in SECTIONS:
        for index, row in enumerate(form.rows(section)):
            if row.blank():
                continue
            case: dict[str, Any] = {"input": row.input, "output": row.output}
            if row.name.strip():
                case["name"] = row.name.strip()
            case["hidden"] = section == "hidden"
            tests.append(case)
            rows.append(f"{section}-{index}")
    data["tests"] = tests
    if generator is not None:
        data["generator"] = {
            "language": generator.language,
            "code": generator.code,
            "sizes": list(generator.sizes),
        }
    return data, _Layout([lang for lang, _code in references], rows)


def _field_of(path: str, layout: _Layout) -> str:
    """The form field a fault of the file's rules at `path` is about."""
    match = _PATH.match(path)
    if match is None:
        return ""
    name, rest = match["name"], match["rest"] or ""
    index = int(match["index"]) if match["index"] is not None else None
    if name in ("title", "statement"):
        return f"{name}-{rest or 'en'}"
    if name in ("key", "languages"):
        return name
    if name == "limits":
        return rest or "cpu_seconds"
    if name == "starter":
        return f"starter-{rest}" if rest else ""
    if name == "reference":
        at = 0 if index is None and rest else index
        if at is not None and at < len(layout.references):
            return f"reference-{layout.references[at]}"
        return "references"
    if name == "tests":
        if index is None or index >= len(layout.rows):
            return "visible-tests"
        part = rest if rest in ROW_PARTS else "input"
        return f"{layout.rows[index]}-{part}"
    return ""  # the generator: not in the form


def check_form(
    form: TaskForm,
    *,
    key: str,
    generator: Generator | None = None,
    offered: list[str] | None = None,
) -> CodingTask:
    """The task the form describes, checked by the task file's rules; TaskFormError names
    the field of every fault."""
    data, layout = _task_data(form, key, generator)
    try:
        return check_task_data(
            data, offered=offered if offered is not None else offered_languages()
        )
    except TaskFileError as exc:
        raise TaskFormError(
            [
                FieldFault(
                    _field_of(problem.field, layout) if isinstance(problem, FieldProblem) else "",
                    problem.message,
                )
                for problem in exc.problems
            ]
        ) from None


def _taken(key: str) -> FieldFault:
    return FieldFault(
        "key", said("this job already has a task with the key %(key)s: edit that task", key=key)
    )


def create_task(
    store: Store, principal: Principal, requisition_id: int, form: TaskForm
) -> StoredTask:
    """Save a new task of the job from the form (version 1). Without a key, one is made from
    the English title; a key the job already has is refused (that task is edited instead)."""
    visibility = require(principal, Action.EDIT_REQUISITIONS)
    job = store.requisitions.get_visible(requisition_id, visibility)
    key = form.key.strip() or key_from_title(form.title.get("en", ""))
    faults = [_taken(key)] if key and store.coding_tasks.versions(job.id, key) else []
    try:
        task = check_form(form, key=key)
    except TaskFormError as exc:
        raise TaskFormError(faults + exc.faults) from None
    if faults:
        raise TaskFormError(faults)

    def unused(versions: list[StoredTask]) -> None:
        if versions:  # saved by someone else a moment ago
            raise TaskFormError([_taken(key)])

    return save_version(store, principal, job.id, task, origin=ORIGIN, check=unused)


def editable_task(
    store: Store, principal: Principal, task_id: int
) -> tuple[StoredTask, CodingTask]:
    """A task version and the task it holds, to edit: refused unless the caller may edit the
    task's job."""
    stored = visible_task(store, principal, Action.EDIT_REQUISITIONS, task_id)
    return stored, task_from_json(stored.spec)


def newest_version(store: Store, stored: StoredTask) -> StoredTask:
    """The newest version of the task `stored` is a version of."""
    return store.coding_tasks.versions(stored.requisition_id, stored.key)[0]


def edit_task(store: Store, principal: Principal, task_id: int, form: TaskForm) -> StoredTask:
    """Save the form as the next version of the task version `task_id` was edited from; its
    key and input generator stay. Refused when a newer version was saved meanwhile."""
    base, task = editable_task(store, principal, task_id)
    checked = check_form(form, key=base.key, generator=task.generator)

    def still_newest(versions: list[StoredTask]) -> None:
        if versions and versions[0].id != base.id:
            raise TaskFormError([_overtaken(base, versions[0])])

    return save_version(
        store, principal, base.requisition_id, checked, origin=ORIGIN, check=still_newest
    )


def _overtaken(base: StoredTask, newest: StoredTask) -> FieldFault:
    return FieldFault(
        "",
        said(
            "version %(newest)s of this task was saved after version %(base)s, which this form "
            "started from: open the task again to edit its newest version",
            newest=newest.version,
            base=base.version,
        ),
    )


__all__ = [
    "MAX_ROWS",
    "ROW_PARTS",
    "SECTIONS",
    "CaseRow",
    "FieldFault",
    "TaskForm",
    "TaskFormError",
    "check_form",
    "create_task",
    "edit_task",
    "editable_task",
    "form_from_task",
    "key_from_title",
    "new_form",
    "newest_version",
]
