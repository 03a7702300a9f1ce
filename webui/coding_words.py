"""A coding round's results in plain words, in the viewer's language: verdicts, states, growth
laws, the reasons a measurement is missing, times and ratios.

The core hands over codes and numbers (`appliance.coding_round.results`); the sentences are
made here and in `candidates/_coding_results.html`, through Flask-Babel. Registered as template
globals by `register`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC
from typing import Any

import flask_babel
from flask import Blueprint

from appliance.coding.languages import LANGUAGES
from appliance.platform.clock import from_stamp


def _(text: str, **variables: Any) -> str:
    """Flask-Babel's `gettext`, typed (its package has no type hints)."""
    return str(flask_babel.gettext(text, **variables))


def verdict_words(verdict: str | None) -> str:
    """How a run or a test case ended, e.g. 'too slow (time limit)'."""
    words = {
        "ok": _("passed"),
        "wrong": _("wrong output"),
        "time_limit": _("too slow (time limit)"),
        "memory_limit": _("used too much memory"),
        "output_limit": _("printed or wrote too much"),
        "runtime_error": _("crashed (runtime error)"),
        "compile_error": _("did not compile"),
        "refused": _("not run: the sandbox refused it"),
    }
    return words.get(verdict or "", verdict or "")


def state_words(state: str) -> str:
    """Where a submission stands."""
    words = {
        "queued": _("waiting to be judged"),
        "judged": _("judged"),
        "failed": _("could not be judged"),
    }
    return words.get(state, state)


def growth_words(law: str | None) -> str:
    """A growth law as words: 'grows like n²'."""
    words = {
        "1": _("does not grow measurably with the input"),
        "log n": _("grows like log n"),
        "n": _("grows linearly, like n"),
        "n log n": _("grows like n log n"),
        "n^2": _("grows quadratically, like n²"),
        "n^3": _("grows cubically, like n³"),
    }
    if law is None:
        return _("is unclear (too few sizes ran to the end)")
    return words.get(law, law)


def growth_reason_words(reason: str) -> str:
    """Why there is no growth estimate."""
    words = {
        "no_generator": _("The task defines no input generator, so there is no growth estimate."),
        "generator_failed": _("The task's input generator failed, so there is no growth estimate."),
        "reference_failed": _(
            "The reference solution failed on the generated inputs, so there is no growth estimate."
        ),
        "compile_error": _("The code did not compile, so there is no growth estimate."),
    }
    return words.get(reason, reason)


def lint_reason_words(reason: str) -> str:
    """Why there are no lint findings to show."""
    words = {
        "not_python": _("Lint is offered for Python only."),
        "no_linter": _("No linter is installed on this appliance, so the code was not linted."),
        "linter_failed": _("The linter could not read the code."),
    }
    return words.get(reason, reason)


def seconds_text(value: float | None) -> str:
    """CPU or wall time in seconds, e.g. '0.012 s'."""
    if value is None:
        return "-"
    shown = f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return _("%(seconds)s s", seconds=shown)


def ratio_words(ratio: float | None) -> str:
    """A submission's use beside the reference's, e.g. '2.3 times the reference's'."""
    if ratio is None:
        return _("no comparison (no test both ran to the end)")
    shown = f"{ratio:g}"
    if 0.8 <= ratio <= 1.25:
        return _("about the same as the reference solution's (ratio %(ratio)s)", ratio=shown)
    return _("%(ratio)s times the reference solution's", ratio=shown)


def clock_time(stamp: str | None) -> str:
    """A stored UTC time in the viewer's zone to the second (drafts come seconds apart)."""
    if not stamp:
        return "-"
    zone = flask_babel.get_timezone() or UTC
    return from_stamp(stamp).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def duration_text(seconds: float) -> str:
    """A span of time: '45 s' or '12 min'."""
    if seconds < 90:
        whole = f"{seconds:.0f}"
        return _("%(seconds)s s", seconds=whole)
    minutes = f"{seconds / 60:.0f}"
    return _("%(minutes)s min", minutes=minutes)


def coding_language(name: str) -> str:
    """A programming language's label, e.g. 'Python 3'."""
    found = LANGUAGES.get(name)
    return found.label if found else name


def coding_languages_text(names: Iterable[str]) -> str:
    """Languages' labels in a list, e.g. 'Python 3, C (gcc, C17)'."""
    return ", ".join(coding_language(name) for name in names)


GLOBALS: tuple[Callable[..., str], ...] = (
    verdict_words,
    state_words,
    growth_words,
    growth_reason_words,
    lint_reason_words,
    seconds_text,
    ratio_words,
    coding_language,
    coding_languages_text,
    clock_time,
    duration_text,
)


def register(blueprint: Blueprint) -> None:
    """Make the words available to every template (under their function names)."""
    for function in GLOBALS:
        blueprint.add_app_template_global(function, function.__name__)
