"""Checks of an import document on its own: what is wrong inside the file, whatever the store holds.

Each record was already checked by the import-v1 model; these are the rules that span records
(ids and e-mail addresses used twice, two applications to one requisition) or need the clock.
"""

from __future__ import annotations

from datetime import datetime

from appliance.imports.problems import ImportProblem, Locator
from appliance.imports.schema import CandidateRecord, ImportDocument
from appliance.platform.clock import utcnow
from appliance.platform.words import said


def check_document(document: ImportDocument, locate: Locator) -> list[ImportProblem]:
    """What is wrong inside the file itself, whatever the store holds."""
    problems: list[ImportProblem] = []
    if not document.requisitions and not document.candidates:
        problems.append(
            locate.problem((), said("the file holds no requisitions and no candidates"))
        )
    problems.extend(_repeated_requisition_ids(document, locate))
    seen_candidates: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    now = utcnow()
    for i, candidate in enumerate(document.candidates):
        problems.extend(
            _repeated_candidate_identity(candidate, i, seen_candidates, seen_emails, locate)
        )
        problems.extend(_application_problems(candidate, i, now, locate))
    return problems


def _repeated_requisition_ids(document: ImportDocument, locate: Locator) -> list[ImportProblem]:
    """Requisitions whose external id an earlier requisition of the file already has."""
    problems: list[ImportProblem] = []
    seen: dict[str, int] = {}
    for i, requisition in enumerate(document.requisitions):
        if requisition.external_id in seen:
            first, _ = locate(("requisitions", seen[requisition.external_id]))
            problems.append(
                locate.problem(
                    ("requisitions", i, "external_id"),
                    said(
                        "the external id is used twice in the file (first at %(first)s)",
                        first=first,
                    ),
                )
            )
        seen.setdefault(requisition.external_id, i)
    return problems


def _repeated_candidate_identity(
    candidate: CandidateRecord,
    i: int,
    seen_ids: dict[str, int],
    seen_emails: dict[str, int],
    locate: Locator,
) -> list[ImportProblem]:
    """Whether an earlier candidate of the file has this one's external id or e-mail address.

    Notes this candidate in `seen_ids` and `seen_emails` for the candidates after it.
    """
    problems: list[ImportProblem] = []
    if candidate.external_id in seen_ids:
        first, _ = locate(("candidates", seen_ids[candidate.external_id]))
        problems.append(
            locate.problem(
                ("candidates", i, "external_id"),
                said("the external id is used twice in the file (first at %(first)s)", first=first),
            )
        )
    seen_ids.setdefault(candidate.external_id, i)
    if candidate.email:
        email = candidate.email.casefold()
        if email in seen_emails:
            first, _ = locate(("candidates", seen_emails[email]))
            problems.append(
                locate.problem(
                    ("candidates", i, "email"),
                    said(
                        "another candidate in the file has this e-mail address (%(first)s)",
                        first=first,
                    ),
                )
            )
        seen_emails.setdefault(email, i)
    return problems


def _application_problems(
    candidate: CandidateRecord, i: int, now: datetime, locate: Locator
) -> list[ImportProblem]:
    """Two applications of a candidate to one requisition, and decisions dated after `now`."""
    problems: list[ImportProblem] = []
    targets: set[tuple[str, str]] = set()
    for j, application in enumerate(candidate.applications):
        target = (
            ("requisition", application.requisition)
            if application.requisition is not None
            else ("requisition_title", application.requisition_title or "")
        )
        if target in targets:
            problems.append(
                locate.problem(
                    ("candidates", i, "applications", j, target[0]),
                    said(
                        "the candidate applies to this requisition twice (one application per "
                        "requisition)"
                    ),
                )
            )
        targets.add(target)
        for k, decision in enumerate(application.decisions):
            if decision.decided_at > now:
                problems.append(
                    locate.problem(
                        ("candidates", i, "applications", j, "decisions", k, "decided_at"),
                        said("a decision cannot be dated in the future"),
                    )
                )
    return problems
