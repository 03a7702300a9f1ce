"""IL-4: the annual race/ethnicity report on Illinois applicants the AI analysed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from appliance.compliance.bias import RACE_CATEGORIES, BiasAuditError
from appliance.compliance.common import check_region, require_region
from appliance.platform.clock import to_stamp
from appliance.platform.words import said
from appliance.security.permissions import Action, Principal
from appliance.store import Store
from appliance.store.bias_audits import AssessedPerson
from appliance.store.compliance import compliance_of

IL_REGION = "US-IL"
IL_ZONE = "America/Chicago"


def illinois_period(year: int) -> tuple[date, date, date]:
    """(first day, last day, due date): the 12 months ending 30 November, due 31 December."""
    return date(year - 1, 12, 1), date(year, 11, 30), date(year, 12, 31)


def illinois_year_containing(day: date) -> int:
    """The report year whose period contains `day`."""
    return day.year + 1 if day.month == 12 else day.year


@dataclass(frozen=True)
class IllinoisRow:
    """Applicants of one race/ethnicity in the period."""

    race_ethnicity: str
    applicants: int
    interviewed_in_person: int
    not_interviewed_in_person: int
    hired: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "race_ethnicity": self.race_ethnicity,
            "applicants": self.applicants,
            "interviewed_in_person": self.interviewed_in_person,
            "not_interviewed_in_person": self.not_interviewed_in_person,
            "hired": self.hired,
        }


@dataclass(frozen=True)
class IllinoisReport:
    """IL-4: race/ethnicity of applicants who were and were not interviewed in person after
    the AI analysis, and of those hired (820 ILCS 42/20)."""

    year: int
    period_start: date
    period_end: date
    due: date
    rows: tuple[IllinoisRow, ...]
    unknown: IllinoisRow
    applicants: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "year": self.year,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "due": self.due.isoformat(),
            "applicants": self.applicants,
            "rows": [row.as_dict() for row in self.rows],
            "unknown": self.unknown.as_dict(),
        }


def _il_row(label: str, people: list[AssessedPerson]) -> IllinoisRow:
    selected = sum(1 for person in people if person.selected)
    return IllinoisRow(
        label,
        len(people),
        selected,
        len(people) - selected,
        sum(1 for person in people if person.hired),
    )


def illinois_report(store: Store, principal: Principal, *, year: int) -> IllinoisReport:
    """The IL-4 report for the 12 months ending 30 November of `year` (Illinois time)."""
    require_region(principal, Action.VIEW_BIAS_AUDIT, check_region(IL_REGION))
    if not 2000 <= year <= 9998:
        raise BiasAuditError(said("choose a report year"))
    first, last, due = illinois_period(year)
    zone = ZoneInfo(IL_ZONE)
    start = to_stamp(datetime(first.year, first.month, first.day, tzinfo=zone))
    end = to_stamp(datetime(year, 12, 1, tzinfo=zone))
    assessed = compliance_of(store).demographics.assessed([IL_REGION], start, end)
    by_race: dict[str, list[AssessedPerson]] = {}
    unknown: list[AssessedPerson] = []
    for person in assessed:
        if person.race_ethnicity is None:
            unknown.append(person)
        else:
            by_race.setdefault(person.race_ethnicity, []).append(person)
    rows = tuple(_il_row(race, by_race.pop(race, [])) for race in RACE_CATEGORIES) + tuple(
        _il_row(race, people) for race, people in sorted(by_race.items())
    )
    report = IllinoisReport(
        year, first, last, due, rows, _il_row("unknown", unknown), len(assessed)
    )
    with store.transaction():
        store.audit.append(
            principal.actor,
            "bias_audit.illinois_report",
            details={"year": year, "applicants": report.applicants},
        )
    return report
