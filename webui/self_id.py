"""The self-identification form, shared by the candidate's room and the candidate's profile:
its choices in the viewer's language, reading a posted form, and the refusals in words.

The values sent are the categories of `appliance.compliance.bias` (EEO-1, as the audits count
them) or "prefer not to say"; only the labels are translated.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_babel.speaklater import LazyString

from appliance.compliance.bias import RACE_CATEGORIES, SEX_CATEGORIES
from appliance.compliance.self_id import (
    CONSENT_REQUIRED,
    NOT_COLLECTED,
    PREFER_NOT_TO_SAY,
    STEP_OVER,
    SelfIdError,
)

LABELS: dict[str, LazyString] = {
    "Male": lazy_gettext("Male"),
    "Female": lazy_gettext("Female"),
    "Hispanic or Latino": lazy_gettext("Hispanic or Latino"),
    "White": lazy_gettext("White"),
    "Black or African American": lazy_gettext("Black or African American"),
    "Native Hawaiian or Pacific Islander": lazy_gettext("Native Hawaiian or Pacific Islander"),
    "Asian": lazy_gettext("Asian"),
    "Native American or Alaska Native": lazy_gettext("Native American or Alaska Native"),
    "Two or More Races": lazy_gettext("Two or More Races"),
    PREFER_NOT_TO_SAY: lazy_gettext("Prefer not to say"),
}
QUESTIONS = (("sex", SEX_CATEGORIES), ("race_ethnicity", RACE_CATEGORIES))


def self_id_choices() -> dict[str, list[tuple[str, str]]]:
    """Each question's options as (value, label), "prefer not to say" last."""
    return {
        name: [(value, str(LABELS[value])) for value in (*categories, PREFER_NOT_TO_SAY)]
        for name, categories in QUESTIONS
    }


def posted_answers(form: Mapping[str, str]) -> tuple[str | None, str | None, bool]:
    """(sex, race/ethnicity, consent) from a posted form; the core checks the categories."""
    return (
        form.get("sex", "")[:100] or None,
        form.get("race_ethnicity", "")[:100] or None,
        form.get("consent") == "yes",
    )


def refusal_text(error: SelfIdError) -> str:
    """Why a declaration was refused, in the viewer's language."""
    if error.code == NOT_COLLECTED:
        text = _("The region's policy does not allow collecting this information.")
    elif error.code == CONSENT_REQUIRED:
        text = _(
            "To record an answer, tick the consent box, or choose “Prefer not to say” for both"
            " questions."
        )
    elif error.code == STEP_OVER:
        text = _("The optional questions about you can only be answered before the interview.")
    else:
        text = _("Choose one of the listed options.")
    return str(text)
