"""The coding-task form on the web: its posted fields read into the core's `TaskForm`, the
buttons that add or remove a test row, and each field's name in the reader's language.

Works without JavaScript: adding or removing a row is a submit button that shows the form
again (nothing is saved). The rules are the task file's (appliance.coding_round.task_form).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from appliance.coding.languages import LANGUAGES
from appliance.coding.task import TEXT_LANGUAGES
from appliance.coding_round.task_form import (
    MAX_ROWS,
    SECTIONS,
    CaseRow,
    FieldFault,
    TaskForm,
)
from webui.coding_words import coding_language
from webui.words import say

_ROW_FIELD = re.compile(r"(?P<section>visible|hidden)-(?P<row>\d{1,3})-(?:name|input|output)")
_LANGUAGE_CHOICE = re.compile(r"[a-z]{1,20}")


def _text(value: str) -> str:
    """A text area's value with the line ends browsers send (CRLF) made plain newlines."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _row_counts(form: Mapping[str, str]) -> dict[str, int]:
    """How many rows each section sent: its highest row number plus one (at most MAX_ROWS)."""
    counts = dict.fromkeys(SECTIONS, 0)
    for key in form:
        match = _ROW_FIELD.fullmatch(key)
        if match and int(match["row"]) < MAX_ROWS:
            section = match["section"]
            counts[section] = max(counts[section], int(match["row"]) + 1)
    return counts


def shown_languages(offered: list[str], task: TaskForm | None = None) -> list[str]:
    """The languages the form has fields for: those this box runs, then any other the task
    names (a toolchain removed since; saving then says so beside its field)."""
    named = [] if task is None else [*task.languages, *task.starter, *task.references]
    return [*offered, *(name for name in LANGUAGES if name in named and name not in offered)]


def posted_languages(form: Mapping[str, str], offered: list[str]) -> list[str]:
    """The languages whose fields a posted form had (see `shown_languages`)."""
    sent = {name for name in LANGUAGES if f"reference-{name}" in form or f"starter-{name}" in form}
    return [*offered, *(name for name in LANGUAGES if name in sent and name not in offered)]


def task_form_from_post(form: MultiDict[str, str], languages: list[str]) -> TaskForm:
    """The form as the person submitted it; `languages` are those whose starter and reference
    fields the page showed. Empty rows keep their place (messages count rows as shown)."""
    chosen = form.getlist("languages")
    counts = _row_counts(form)
    return TaskForm(
        key=form.get("key", "").strip(),
        title={lang: form.get(f"title-{lang}", "") for lang in TEXT_LANGUAGES},
        statement={lang: _text(form.get(f"statement-{lang}", "")) for lang in TEXT_LANGUAGES},
        # A tampered name is kept for the file's rule to refuse ("unknown language").
        languages=[name for name in chosen if _LANGUAGE_CHOICE.fullmatch(name)],
        starter={lang: _text(form.get(f"starter-{lang}", "")) for lang in languages},
        references={lang: _text(form.get(f"reference-{lang}", "")) for lang in languages},
        cpu_seconds=form.get("cpu_seconds", ""),
        wall_seconds=form.get("wall_seconds", ""),
        memory_mb=form.get("memory_mb", ""),
        visible=_rows(form, "visible", counts["visible"]),
        hidden=_rows(form, "hidden", counts["hidden"]),
    )


def _rows(form: Mapping[str, str], section: str, count: int) -> list[CaseRow]:
    return [
        CaseRow(
            form.get(f"{section}-{i}-name", ""),
            _text(form.get(f"{section}-{i}-input", "")),
            _text(form.get(f"{section}-{i}-output", "")),
        )
        for i in range(count)
    ] or [CaseRow()]


def edit_rows(task: TaskForm, form: Mapping[str, str]) -> str | None:
    """Apply an add-row or remove-row button; the id of the field to focus next, or None when
    no such button was pressed (the form is to be saved)."""
    if "add_row" in form:
        section = form["add_row"] if form["add_row"] in SECTIONS else "visible"
        rows = task.rows(section)
        if len(rows) < MAX_ROWS:
            rows.append(CaseRow())
        return f"{section}-{len(rows) - 1}-name"
    if "remove_row" in form:
        section, _sep, place = form["remove_row"].partition("-")
        section = section if section in SECTIONS else "visible"
        rows = task.rows(section)
        position = _index(place, len(rows))
        del rows[position]
        if not rows:
            rows.append(CaseRow())
        return f"{section}-{min(position, len(rows) - 1)}-name"
    return None


def _index(text: str, size: int) -> int:
    """A button's row number, kept inside the list (a tampered value removes the last row)."""
    try:
        return min(max(int(text), 0), size - 1)
    except ValueError:
        return size - 1


def field_label(field_id: str) -> str:
    """How the page names a field in its list of faults, e.g. 'Visible test 2: input'."""
    fixed = {
        "key": _("Key"),
        "title-en": _("Title in English"),
        "title-zh": _("Title in Chinese"),
        "statement-en": _("Statement in English"),
        "statement-zh": _("Statement in Chinese"),
        "languages": _("Languages offered to candidates"),
        "references": _("Reference solutions"),
        "cpu_seconds": _("CPU time per test (seconds)"),
        "wall_seconds": _("Wall-clock time per test (seconds)"),
        "memory_mb": _("Memory per test (MB)"),
        "visible-tests": _("Visible tests"),
        "hidden-tests": _("Hidden tests"),
    }
    if field_id in fixed:
        return str(fixed[field_id])
    kind, _sep, rest = field_id.partition("-")
    if kind in ("starter", "reference") and rest in LANGUAGES:
        if kind == "starter":
            return str(_("Starter code in %(language)s", language=coding_language(rest)))
        return str(_("Reference solution in %(language)s", language=coding_language(rest)))
    match = re.fullmatch(r"(visible|hidden)-(\d+)-(name|input|output)", field_id)
    if match:
        number = int(match[2]) + 1
        row = (
            _("Visible test %(number)s", number=number)
            if match[1] == "visible"
            else _("Hidden test %(number)s", number=number)
        )
        part = {"name": _("Name"), "input": _("Input"), "output": _("Expected output")}[match[3]]
        return str(_("%(row)s: %(part)s", row=row, part=part))
    return ""


def fault_lists(faults: list[FieldFault]) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """The faults in the reader's language: by field (shown beside it) and as the summary's
    (field id, sentence) items, each sentence led by its field's name."""
    by_field: dict[str, list[str]] = {}
    summary: list[tuple[str, str]] = []
    for fault in faults:
        message = say(fault.message)
        label = field_label(fault.field)
        by_field.setdefault(fault.field, []).append(message)
        summary.append((fault.field, f"{label}: {message}" if label else message))
    return by_field, summary


__all__ = [
    "edit_rows",
    "fault_lists",
    "field_label",
    "posted_languages",
    "shown_languages",
    "task_form_from_post",
]
