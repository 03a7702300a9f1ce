"""What an error page says, in the viewer's language: a title, a plain sentence, and no
internal names (a permission is said in words, e.g. "see the dashboard", never "dashboard.view").

API clients keep their JSON errors (`webui.api.errors`); this is for people.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import LazyString, lazy_gettext

from appliance.security.permissions import Action, PermissionDeniedError
from appliance.store.people import User

# What each action lets a person do, completing "does not allow you to ...".
ACTION_WORDS: dict[Action, LazyString] = {
    Action.VIEW_DASHBOARD: lazy_gettext("see the dashboard"),
    Action.VIEW_OWN_ACCOUNT: lazy_gettext("see your account"),
    Action.CHANGE_OWN_ACCOUNT: lazy_gettext("change your own account"),
    Action.MANAGE_USERS: lazy_gettext("manage user accounts"),
    Action.MANAGE_SETTINGS: lazy_gettext("change the appliance's settings"),
    Action.MANAGE_UPDATES: lazy_gettext("manage software updates"),
    Action.VIEW_REQUISITIONS: lazy_gettext("see jobs"),
    Action.EDIT_REQUISITIONS: lazy_gettext("create or edit jobs"),
    Action.VIEW_CANDIDATES: lazy_gettext("see candidates"),
    Action.EDIT_CANDIDATES: lazy_gettext("add or edit candidates"),
    Action.UPLOAD_RECORDING: lazy_gettext("upload interview recordings"),
    Action.VIEW_JOBS: lazy_gettext("see the analysis queue"),
    Action.VIEW_REPORTS: lazy_gettext("read interview reports"),
    Action.OVERRIDE_SCORE: lazy_gettext("change scores"),
    Action.RECORD_DECISION: lazy_gettext("record hiring decisions"),
    Action.RECORD_RECOMMENDATION: lazy_gettext("record recommendations"),
    Action.ADD_EVALUATION: lazy_gettext("add interview evaluations"),
    Action.VIEW_TECH_ROUND: lazy_gettext("see technical rounds"),
    Action.ADD_TECH_EVALUATION: lazy_gettext("add technical evaluations"),
    Action.VIEW_EXPORTS: lazy_gettext("see or download exports"),
    Action.VERIFY_AUDIT: lazy_gettext("verify the audit log"),
    Action.MANAGE_NOTICES: lazy_gettext("manage candidate notices"),
    Action.RECORD_CONSENT: lazy_gettext("record consents"),
    Action.MANAGE_DATA_REQUESTS: lazy_gettext("handle privacy requests"),
    Action.ERASE_CANDIDATE: lazy_gettext("erase a candidate's data"),
    Action.MANAGE_LEGAL_HOLDS: lazy_gettext("manage legal holds"),
    Action.VIEW_BIAS_AUDIT: lazy_gettext("see the bias audit"),
    Action.IMPORT_DATA: lazy_gettext("import data"),
    Action.STOP_ANALYSIS: lazy_gettext("stop an analysis"),
    Action.MANAGE_AFFECT_SCORING: lazy_gettext("turn affect scoring on or off"),
    Action.CORRECT_SEGMENTS: lazy_gettext("correct answer segments"),
    Action.EXPORT_EXPLANATION: lazy_gettext("export score explanations"),
    Action.MANAGE_SCHEDULING: lazy_gettext("schedule interviews"),
    Action.EDIT_AVAILABILITY: lazy_gettext("edit availability"),
    Action.MANAGE_OUTBOX: lazy_gettext("manage the outbox"),
    Action.VIEW_INAPP_NOTIFICATIONS: lazy_gettext("see notifications"),
    Action.LIVE_ASSIST: lazy_gettext("use live assist"),
    Action.SUBMIT_CODE: lazy_gettext("submit code for a coding round"),
    Action.RECORD_OUTCOMES: lazy_gettext("record outcomes after hire"),
    Action.VIEW_ANALYTICS: lazy_gettext("see hiring analytics"),
}

TITLES: dict[int, LazyString] = {
    400: lazy_gettext("The request could not be used"),
    403: lazy_gettext("Not allowed"),
    404: lazy_gettext("Page not found"),
    405: lazy_gettext("Not possible here"),
    413: lazy_gettext("Too large"),
    422: lazy_gettext("That could not be done"),
    429: lazy_gettext("Too many requests"),
    503: lazy_gettext("Busy"),
}
SENTENCES: dict[int, LazyString] = {
    400: lazy_gettext("The appliance could not use what the browser sent. Go back and try again."),
    403: lazy_gettext("You may not open this page."),
    404: lazy_gettext(
        "There is nothing at this address, or it is not something you can see. Check the "
        "address, or go back."
    ),
    405: lazy_gettext("This address does not accept that kind of request."),
    413: lazy_gettext("What was sent is larger than the appliance accepts."),
    422: lazy_gettext("The appliance could not do what was asked."),
    429: lazy_gettext("Too many requests came in a short time. Wait a moment and try again."),
    503: lazy_gettext("The appliance is busy. Wait a moment and try again."),
}
SOMETHING_WRONG = lazy_gettext("Something went wrong")
NOT_DONE = lazy_gettext(
    "The appliance could not do that. Try again; if it keeps happening, tell your administrator."
)
FORM_EXPIRED = lazy_gettext("This form has expired")
FORM_EXPIRED_SENTENCE = lazy_gettext(
    "The form was open too long, or was sent from another page. Go back, reload the page and "
    "try again."
)
ROLE_MAY_NOT = lazy_gettext("Your role (%(role)s) does not allow you to %(what)s.")
OUTSIDE_SCOPE = lazy_gettext(
    "What you asked for lies outside the departments and regions your role (%(role)s) covers."
)
ASK_ADMINISTRATOR = lazy_gettext("If your work needs it, ask your administrator.")


@dataclass(frozen=True)
class ErrorWords:
    """What the error page shows: a title, a plain sentence, and an optional detail."""

    title: str
    sentence: str
    detail: str | None = None
    hint: str | None = None


def role_label(role: str) -> str:
    """A role's name in the viewer's language (e.g. "Auditor" for `auditor`)."""
    from webui.views.admin import ROLE_LABELS  # the account pages' names for the roles

    label = ROLE_LABELS.get(role)
    return str(label) if label is not None else role


def _denied(error: BaseException | None, user: User | None) -> ErrorWords:
    title = str(TITLES[403])
    hint = str(ASK_ADMINISTRATOR)
    if not isinstance(error, PermissionDeniedError):
        return ErrorWords(title, str(SENTENCES[403]), hint=hint)
    role = error.role or (user.role if user is not None else None)
    if role is None:
        return ErrorWords(title, str(SENTENCES[403]), hint=hint)
    words = ACTION_WORDS.get(error.action) if error.action is not None else None
    if words is None:
        # The role may act, but not on this record: it lies outside their scope.
        return ErrorWords(title, str(OUTSIDE_SCOPE) % {"role": role_label(role)}, hint=hint)
    sentence = str(ROLE_MAY_NOT) % {"role": role_label(role), "what": str(words)}
    return ErrorWords(title, sentence, hint=hint)


def explain(
    status: int,
    code: str,
    *,
    error: BaseException | None = None,
    detail: str | None = None,
    user: User | None = None,
) -> ErrorWords:
    """The words for an error page; `detail` is a message meant for people (already in their
    language, or the core's own plain sentence), shown under the sentence."""
    if code == "csrf_failed":
        return ErrorWords(str(FORM_EXPIRED), str(FORM_EXPIRED_SENTENCE))
    if status == 403:
        return _denied(error, user)
    title = TITLES.get(status, SOMETHING_WRONG)
    if status == 404 and detail:
        # A view's own words about what is missing ("This scheduling link has expired.").
        return ErrorWords(str(title), detail)
    sentence = SENTENCES.get(status, NOT_DONE)
    return ErrorWords(str(title), str(sentence), detail=detail or None)
