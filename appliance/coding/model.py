"""What a sandboxed run is given (limits) and what it gives back (verdict, usage, output)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

MIB = 1 << 20


class Verdict(StrEnum):
    """How one run (or one test case) ended."""

    OK = "ok"
    WRONG = "wrong"  # ran fine, printed something else (set by the test runner)
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"  # stdout, a file or the scratch space grew past its limit
    RUNTIME_ERROR = "runtime_error"
    COMPILE_ERROR = "compile_error"
    REFUSED = "refused"  # the sandbox would not run it (too big, no isolation here, no toolchain)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run; the language adds its runtime's own overhead on top."""

    cpu_s: float = 2.0
    wall_s: float = 5.0
    memory_bytes: int = 256 * MIB
    processes: int = 0  # 0: the language's own default (a JVM needs threads, C does not)
    file_bytes: int = 16 * MIB  # largest file the program may write
    open_files: int = 64
    output_bytes: int = 64 * 1024  # stdout kept; more ends the run with OUTPUT_LIMIT
    stderr_bytes: int = 16 * 1024  # stderr kept; more is dropped, the run goes on
    scratch_bytes: int = 32 * MIB  # the private tmpfs that is the working directory
    stack_bytes: int = 0  # 0: the language's default

    def scaled(self, factor: float) -> Limits:
        """The same limits with CPU and wall time multiplied (a reference's multiple)."""
        return replace(self, cpu_s=self.cpu_s * factor, wall_s=self.wall_s * factor)


COMPILE_LIMITS = Limits(
    cpu_s=30.0,
    wall_s=60.0,
    memory_bytes=1024 * MIB,
    processes=64,
    file_bytes=64 * MIB,
    open_files=256,
    output_bytes=256 * 1024,
    stderr_bytes=64 * 1024,
    scratch_bytes=256 * MIB,
)


@dataclass(frozen=True)
class Mechanisms:
    """Which isolation mechanisms a run actually had (reported by the launcher)."""

    # The mode: a user namespace of the run's own with no capability (the appliance is not
    # root), or `privilege_drop` to a leased uid (root).
    user_namespace: bool = False
    privilege_drop: bool = False
    uid: int | None = None
    net_namespace: bool = False
    mount_namespace: bool = False
    read_only_root: bool = False
    hidden: tuple[str, ...] = ()
    pid_namespace: bool = False
    ipc_namespace: bool = False
    seccomp: bool = False
    no_new_privs: bool = False

    @property
    def network_cut(self) -> bool:
        """True when the program cannot reach any network (its own namespace or the filter)."""
        return self.net_namespace or self.seccomp

    def active(self) -> list[str]:
        """The names of the mechanisms in force, for reports and the operator's status page."""
        names = [
            "user_namespace",
            "privilege_drop",
            "net_namespace",
            "mount_namespace",
            "read_only_root",
            "pid_namespace",
            "ipc_namespace",
            "seccomp",
            "no_new_privs",
        ]
        return [name for name in names if getattr(self, name)]


@dataclass(frozen=True)
class RunResult:
    """One program run: verdict, exit, usage and (truncated) output."""

    verdict: Verdict
    exit_code: int | None = None
    signal: int | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_bytes: int = 0
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    reason: str = ""  # why, in a few words, for the expert (never the program's output)
    mechanisms: Mechanisms = field(default_factory=Mechanisms)

    @property
    def ok(self) -> bool:
        """True when the program ran to a clean exit within every limit."""
        return self.verdict is Verdict.OK
