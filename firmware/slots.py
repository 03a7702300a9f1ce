"""The install root: two slots of the appliance's code, the `current` link, and the journal.

    ROOT/slots/a/   appliance/ inference/ webui/ firmware/ provisioning/ VERSION .bundle/
    ROOT/slots/b/   the same, for the other version
    ROOT/current -> slots/a     switched atomically (a new link renamed over the old one)
    ROOT/state/     trusted-keys.json, counter.json, journal.json, update.lock

The journal says what an update is doing; it is written atomically (fsynced temporary file
renamed over the old one) before and after each step, so a command that finds it mid-way after
a crash or kill -9 knows exactly what to finish or undo.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from firmware.errors import UpdateStateError
from firmware.util import fsync_dir, write_atomic

SLOTS = ("a", "b")
VERSION_FILE = "VERSION"
META = ".bundle"  # the slot's manifest and signatures, as verified
JOURNAL_FORMAT = "interview-appliance/update-journal"
# The steps of a transition (an update, or a rollback by hand), in order.
STEPS = (
    "started",
    "backed-up",
    "changing-data",
    "data-changed",
    "switching",
    "switched",
    "healthy",
)
HISTORY_KEPT = 200


@dataclass
class Journal:
    """Where an update stands. `state`: idle, staging, staged, transition (an update or a
    rollback under way, `kind` says which) or undoing (putting the previous slot back)."""

    state: str = "idle"
    kind: str | None = None
    step: str | None = None
    slot: str | None = None
    from_slot: str | None = None
    version: str | None = None
    from_version: str | None = None
    counter: int | None = None
    bundle_sha256: str | None = None
    backup: str | None = None
    restore: str | None = None
    schema_before: int | None = None
    schema_after: int | None = None
    reason: str | None = None
    undo_to: str | None = None
    started_at: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    # The last update or rollback that completed (what `rollback` goes back from).
    last: dict[str, Any] | None = None
    # How the last command ended (applied, rolled back, undone and why), for `status`.
    outcome: dict[str, Any] | None = None

    def reached(self, step: str) -> bool:
        """True once the transition got to `step` (or beyond)."""
        return self.step in STEPS and STEPS.index(self.step) >= STEPS.index(step)

    def to_bytes(self) -> bytes:
        """The journal file."""
        data = {"format": JOURNAL_FORMAT, **asdict(self)}
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, raw: bytes, where: Path) -> Journal:
        """Parse the journal file."""
        try:
            data: Any = json.loads(raw)
            if data.pop("format", None) != JOURNAL_FORMAT:
                raise ValueError("not an update journal")
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise UpdateStateError(f"the update journal {where} is unreadable ({exc})") from None


class Install:
    """One install root and what lives in it."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.slots = self.root / "slots"
        self.current = self.root / "current"
        self.state = self.root / "state"
        self.journal_path = self.state / "journal.json"
        self.trust_path = self.state / "trusted-keys.json"
        self.counter_path = self.state / "counter.json"
        self.lock_path = self.state / "update.lock"

    def slot_dir(self, name: str) -> Path:
        """The folder of slot `name` (a or b)."""
        if name not in SLOTS:
            raise UpdateStateError(f"there is no slot {name!r}")
        return self.slots / name

    @staticmethod
    def other(name: str) -> str:
        """The other slot."""
        return SLOTS[1 - SLOTS.index(name)]

    def initialised(self) -> bool:
        """True when the root has its slots, its link and its state."""
        return self.current.is_symlink() and self.journal_path.is_file()

    def require_initialised(self) -> None:
        """UpdateStateError unless `update init` made this root."""
        if not self.initialised():
            raise UpdateStateError(
                f"{self.root} is not an install root: run `python -m appliance update init "
                f"--root {self.root} --trusted-keys FILE` first"
            )

    def current_slot(self) -> str:
        """The slot `current` points at."""
        try:
            target = os.readlink(self.current)
        except OSError:
            raise UpdateStateError(f"{self.current} is not a link to a slot") from None
        for name in SLOTS:
            if target in (f"slots/{name}", str(self.slots / name)):
                return name
        raise UpdateStateError(f"{self.current} points at {target!r}, not at a slot")

    def switch(self, name: str) -> None:
        """Point `current` at slot `name` in one rename (a crash leaves the old or the new)."""
        self.slot_dir(name)
        temporary = self.root / f".current.{secrets.token_hex(4)}"
        os.symlink(f"slots/{name}", temporary)
        try:
            os.replace(temporary, self.current)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        fsync_dir(self.root)

    def read_journal(self) -> Journal:
        """The journal (an idle one when there is none yet)."""
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            return Journal()
        return Journal.from_bytes(raw, self.journal_path)

    def write_journal(self, journal: Journal) -> None:
        """Write the journal atomically and durably."""
        journal.history = journal.history[-HISTORY_KEPT:]
        write_atomic(self.journal_path, journal.to_bytes(), mode=0o644)

    def slot_version(self, name: str) -> str | None:
        """The version written in a slot (None: empty or unfinished slot)."""
        try:
            return (self.slot_dir(name) / VERSION_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Only one update command at a time changes this root."""
        self.state.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UpdateStateError("another update command is running on this box") from None
            yield
        finally:
            os.close(fd)
