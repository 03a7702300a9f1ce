"""Resolving an import document against the store: duplicates, requisitions and accounts.

A record that already exists (same external id, or a candidate with the same e-mail address)
is a duplicate: reported and skipped. Each application must name a requisition of the file or
one within the importer's regions; each decision must name an existing account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from appliance.hiring.common import reaches
from appliance.imports.problems import DocPath, ImportProblem, Locator
from appliance.imports.schema import ApplicationRecord, CandidateRecord, ImportDocument
from appliance.platform.errors import ApplianceError
from appliance.platform.words import said
from appliance.security.permissions import Visibility
from appliance.store import Store
from appliance.store.hiring import Requisition
from appliance.store.imports import ImportRepository


@dataclass(frozen=True)
class Duplicate:
    """A record of the file that already exists in the store: reported and skipped."""

    entity: str
    location: str
    reason: Literal["external_id", "email"]
    existing_id: int
    external_id: str = field(default="", compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the external id."""
        return {
            "entity": self.entity,
            "location": self.location,
            "reason": self.reason,
            "existing_id": self.existing_id,
        }


@dataclass(frozen=True)
class RequisitionRef:
    """Where an application's requisition comes from: the file (index) or the store (id)."""

    in_file: bool
    value: int


@dataclass(frozen=True)
class Resolution:
    """The file as the store holds it now (the import refuses to run if this has changed)."""

    problems: tuple[ImportProblem, ...]
    requisitions: tuple[int | None, ...]  # per file requisition: the existing id, or None
    candidates: tuple[tuple[str, int] | None, ...]  # per candidate: (reason, existing id)
    references: tuple[tuple[RequisitionRef | None, ...], ...]  # per candidate, per application
    users: tuple[tuple[str, int], ...]  # username -> id, sorted


def import_repository(store: Store) -> ImportRepository:
    """The store's import repository (wired as `store.imports`, or made here until it is)."""
    wired = getattr(store, "imports", None)
    return wired if isinstance(wired, ImportRepository) else ImportRepository(store)


def resolve(
    store: Store, visibility: Visibility, document: ImportDocument, locate: Locator
) -> Resolution:
    """Requisitions, duplicates and accounts of the file, as the store holds them now."""
    imports = import_repository(store)
    problems: list[ImportProblem] = []
    visible = {req.id: req for req in store.requisitions.visible(visibility)}
    lookup = _RequisitionLookup(
        imported=imports.local_ids("requisition", _named_requisition_ids(document)),
        visible=visible,
    )
    _resolve_file_requisitions(document, visibility, lookup, locate, problems)
    known_candidates = imports.local_ids(
        "candidate", sorted({c.external_id for c in document.candidates})
    )
    emails = _existing_emails(store) if any(c.email for c in document.candidates) else {}
    candidates: list[tuple[str, int] | None] = []
    references: list[tuple[RequisitionRef | None, ...]] = []
    usernames: dict[str, list[DocPath]] = {}
    for i, candidate in enumerate(document.candidates):
        skip = _existing_candidate(candidate, known_candidates, emails)
        candidates.append(skip)
        if skip is not None:
            references.append(tuple(None for _ in candidate.applications))
            continue
        references.append(_references(candidate, i, lookup, locate, problems))
        _note_deciders(candidate, i, usernames)
    users = _user_ids(store, usernames, locate, problems)
    return Resolution(
        tuple(problems),
        tuple(lookup.file_existing),
        tuple(candidates),
        tuple(references),
        tuple(sorted(users.items())),
    )


@dataclass
class _RequisitionLookup:
    """Where an application's requisition may be: in the file, imported before, or by title."""

    imported: dict[str, int]  # external id -> id, of requisitions imported before
    visible: dict[int, Requisition]  # the requisitions within the importer's regions
    in_file: dict[str, int] = field(default_factory=dict)  # external id -> first file index
    file_existing: list[int | None] = field(default_factory=list)  # per file requisition

    def find(
        self,
        application: ApplicationRecord,
        path: DocPath,
        locate: Locator,
        problems: list[ImportProblem],
    ) -> RequisitionRef | None:
        """The application's requisition, or None with a problem noted in `problems`."""
        if application.requisition is None:
            return self._by_title(application.requisition_title or "", path, locate, problems)
        external_id = application.requisition
        if external_id in self.in_file:
            index = self.in_file[external_id]
            existing = self.file_existing[index]
            if existing is None:
                return RequisitionRef(True, index)
            if existing in self.visible:
                return RequisitionRef(False, existing)
        elif self.imported.get(external_id) in self.visible:
            return RequisitionRef(False, self.imported[external_id])
        problems.append(
            locate.problem(
                (*path, "requisition"),
                said(
                    "no requisition with this external id in the file or imported before "
                    "(within your regions)"
                ),
            )
        )
        return None

    def _by_title(
        self, title: str, path: DocPath, locate: Locator, problems: list[ImportProblem]
    ) -> RequisitionRef | None:
        matches = [req.id for req in self.visible.values() if req.title == title]
        if len(matches) == 1:
            return RequisitionRef(False, matches[0])
        problems.append(
            locate.problem(
                (*path, "requisition_title"),
                said("no requisition within your regions has this title")
                if not matches
                else said(
                    "%(count)s requisitions have this title: use the external id",
                    count=len(matches),
                ),
            )
        )
        return None


def _named_requisition_ids(document: ImportDocument) -> list[str]:
    """Every requisition external id of the file: its requisitions' and its applications'."""
    return sorted(
        {r.external_id for r in document.requisitions}
        | {
            a.requisition
            for c in document.candidates
            for a in c.applications
            if a.requisition is not None
        }
    )


def _resolve_file_requisitions(
    document: ImportDocument,
    visibility: Visibility,
    lookup: _RequisitionLookup,
    locate: Locator,
    problems: list[ImportProblem],
) -> None:
    """Note each requisition of the file in `lookup`; a new one must be within the regions."""
    for i, record in enumerate(document.requisitions):
        lookup.in_file.setdefault(record.external_id, i)
        existing = lookup.imported.get(record.external_id)
        lookup.file_existing.append(existing)
        if existing is None and not reaches(
            visibility, region=record.region, department=record.department
        ):
            problems.append(
                locate.problem(
                    ("requisitions", i, "region"),
                    said("you may not import requisitions into this region"),
                )
            )


def _existing_emails(store: Store) -> dict[str, int]:
    found: dict[str, int] = {}
    for candidate_id in import_repository(store).candidate_ids():
        try:
            email = store.candidates.get(candidate_id).email
        except ApplianceError:  # gone, or erased (its data key shredded)
            continue
        if email:
            found.setdefault(email.strip().casefold(), candidate_id)
    return found


def _existing_candidate(
    candidate: CandidateRecord, known: dict[str, int], emails: dict[str, int]
) -> tuple[str, int] | None:
    """Why and as which id the candidate already exists, or None for a new one."""
    if candidate.external_id in known:
        return ("external_id", known[candidate.external_id])
    if candidate.email and candidate.email.casefold() in emails:
        return ("email", emails[candidate.email.casefold()])
    return None


def _references(
    candidate: CandidateRecord,
    i: int,
    lookup: _RequisitionLookup,
    locate: Locator,
    problems: list[ImportProblem],
) -> tuple[RequisitionRef | None, ...]:
    """The requisition of each application of a new candidate."""
    return tuple(
        lookup.find(application, ("candidates", i, "applications", j), locate, problems)
        for j, application in enumerate(candidate.applications)
    )


def _note_deciders(candidate: CandidateRecord, i: int, usernames: dict[str, list[DocPath]]) -> None:
    """Note where the file names each account that made a decision on the candidate."""
    for j, application in enumerate(candidate.applications):
        for k, decision in enumerate(application.decisions):
            usernames.setdefault(decision.decided_by, []).append(
                ("candidates", i, "applications", j, "decisions", k, "decided_by")
            )


def _user_ids(
    store: Store,
    usernames: dict[str, list[DocPath]],
    locate: Locator,
    problems: list[ImportProblem],
) -> dict[str, int]:
    """The account id of each user name; a problem at each place of a name without one."""
    users: dict[str, int] = {}
    for username, paths in usernames.items():
        user = store.users.by_username(username)
        if user is None:
            problems.extend(
                locate.problem(path, said("there is no account with this user name"))
                for path in paths
            )
        else:
            users[username] = user.id
    return users
