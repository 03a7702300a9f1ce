"""What a kind's writer works with: the export being built, where it reads from, and the
CN-3 tally of who crossed the border (or was withheld)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from appliance.exports.bundle import BundleWriter
from appliance.platform.config import ApplianceConfig
from appliance.store import Store
from appliance.store.exports import ExportRepository, ExportRequest


@dataclass
class ExportContext:
    """What a kind's writer reads from, and what it reports back."""

    store: Store
    config: ApplianceConfig
    export: ExportRequest
    repo: ExportRepository
    batch_size: int
    progress: Callable[[float, str], None]
    china_allowed: bool
    china_individuals: set[str] = field(default_factory=set)
    china_sensitive: set[str] = field(default_factory=set)
    withheld_china: set[str] = field(default_factory=set)

    def admit(self, pseudonym: str, china: bool, *, sensitive: bool = False) -> bool:
        """Whether this subject's data may go into the bundle (CN-3); counts what crosses."""
        if not china:
            return True
        if not self.china_allowed:
            self.withheld_china.add(pseudonym)
            return False
        if self.export.cross_border:
            self.china_individuals.add(pseudonym)
            if sensitive:
                self.china_sensitive.add(pseudonym)
        return True


@dataclass(frozen=True)
class KindWriter:
    """One kind of bundle: its name, whether it carries media, and the function writing it."""

    name: str
    description: str
    write: Callable[[ExportContext, BundleWriter], None]
    media: bool = False
