"""Per-region compliance settings: the holiday calendar and which optional analyses run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance.platform.clock import now_stamp
from appliance.store.base import Repository


@dataclass(frozen=True)
class Holiday:
    """A public holiday of a region (`day` is YYYY-MM-DD)."""

    region: str
    day: str
    name: str


@dataclass(frozen=True)
class RegionAnalysis:
    """Which optional analyses a region runs."""

    region: str
    visual_cues_enabled: bool
    affect_enabled: bool
    updated_by: int | None
    updated_at: str | None


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values) or "NULL"


class HolidayRepository(Repository):
    """The holiday calendar per region."""

    def put(self, region: str, day: str, name: str, created_by: int | None) -> Holiday:
        """Add a holiday, or rename the one on that day."""
        self.conn.execute(
            "INSERT INTO holidays (region, day, name, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (region, day) DO UPDATE SET name = excluded.name",
            (region, day, name, created_by, now_stamp()),
        )
        return Holiday(region, day, name)

    def remove(self, region: str, day: str) -> bool:
        """Delete a holiday; whether one was there."""
        cursor = self.conn.execute(
            "DELETE FROM holidays WHERE region = ? AND day = ?", (region, day)
        )
        return bool(cursor.rowcount)

    def for_region(self, region: str) -> list[Holiday]:
        """A region's holidays by date."""
        rows = self.conn.execute(
            "SELECT region, day, name FROM holidays WHERE region = ? ORDER BY day", (region,)
        ).fetchall()
        return [Holiday(r["region"], r["day"], r["name"]) for r in rows]

    def all(self, regions: list[str] | None = None) -> list[Holiday]:
        """Holidays of some (or all) regions, by region and date."""
        sql = "SELECT region, day, name FROM holidays"
        params: list[Any] = []
        if regions is not None:
            sql += f" WHERE region IN ({_marks(regions)})"
            params.extend(regions)
        rows = self.conn.execute(sql + " ORDER BY region, day", params).fetchall()
        return [Holiday(r["region"], r["day"], r["name"]) for r in rows]


class RegionSettingsRepository(Repository):
    """Optional analyses per region (no row: everything off)."""

    def get(self, region: str) -> RegionAnalysis:
        """A region's settings (defaults when never set)."""
        row = self.conn.execute(
            "SELECT * FROM region_analysis_settings WHERE region = ?", (region,)
        ).fetchone()
        if row is None:
            return RegionAnalysis(region, False, False, None, None)
        return RegionAnalysis(
            row["region"],
            bool(row["visual_cues_enabled"]),
            bool(row["affect_enabled"]),
            row["updated_by"],
            row["updated_at"],
        )

    def put(
        self, region: str, visual_cues: bool, affect: bool, updated_by: int | None
    ) -> RegionAnalysis:
        """Store a region's settings."""
        self.conn.execute(
            "INSERT INTO region_analysis_settings (region, visual_cues_enabled, affect_enabled,"
            " updated_by, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (region) DO UPDATE SET"
            " visual_cues_enabled = excluded.visual_cues_enabled,"
            " affect_enabled = excluded.affect_enabled, updated_by = excluded.updated_by,"
            " updated_at = excluded.updated_at",
            (region, int(visual_cues), int(affect), updated_by, now_stamp()),
        )
        return self.get(region)
