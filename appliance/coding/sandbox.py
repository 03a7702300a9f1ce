"""Run a candidate's code: a separate unprivileged process with no network, a read-only root,
rlimits, a wall clock and a private scratch folder that is wiped afterwards.

The isolation itself happens in `_launcher.py`, a fresh interpreter started for each run, so
this (threaded) process only spawns, reads pipes and judges: nothing runs between fork and exec
here. Two modes, chosen by who the appliance runs as:

- root: each concurrent run gets its own uid from a pool, so a fork bomb's RLIMIT_NPROC is its
  own and a sweep by uid can only ever touch that run;
- not root ("userns"): each run gets a user namespace of its own, in which the launcher makes
  the same namespaces and mounts; the program keeps the appliance's uid with no capability,
  and RLIMIT_NPROC counts per user namespace, so per run.

See docs/coding-sandbox.md.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import marshal
import math
import os
import pwd
import random
import re
import secrets
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import psutil

from appliance.coding.languages import LANGUAGES, SYSTEM_PATH, Language, toolchain
from appliance.coding.model import (
    COMPILE_LIMITS,
    MIB,
    Limits,
    Mechanisms,
    RunResult,
    Verdict,
)
from appliance.platform.scratch import SHM, sweep_orphans, wipe

logger = logging.getLogger(__name__)

LAUNCHER = Path(__file__).resolve().parent / "_launcher.py"
# The launcher is imported, not run as a script: a script is compiled afresh at every start
# (~25 ms of CPU per run), an imported module comes from its cached bytecode. Appended to the
# path, so nothing beside it can shadow the standard library.
BOOT = (
    "import sys; sys.path.append(sys.argv[1]); import _launcher; "
    "sys.exit(_launcher.main(sys.argv[1:]))"
)
MAX_SOURCE_BYTES = 256 * 1024
MAX_INPUT_BYTES = 64 * MIB
UID_BASE = 2_000_100_000  # far above login users, container sub-uid ranges and systemd's
UID_COUNT = 64
STOP_GRACE_S = 3.0  # how long the launcher gets to tear a run down before it is killed
SCRATCH_CHECK_S = 0.1  # how often the scratch folder is measured where it has no tmpfs
SCRATCH_ENTRIES = 1024  # files and folders in the scratch, as the tmpfs's inode limit
LAUNCH_ALLOWANCE_S = 5.0  # launcher start and teardown, on top of the run's own wall limit
# Messages runtimes print when an allocation fails under RLIMIT_DATA / RLIMIT_AS.
_MEMORY = re.compile(
    rb"MemoryError|std::bad_alloc|OutOfMemoryError|heap out of memory|"
    rb"Cannot allocate memory|(?i:allocation failed)"
)
MEMORY_NEAR = 0.9  # a failed run whose peak came this close to the limit ran out of memory
# A file over RLIMIT_FSIZE (EFBIG) or a full scratch tmpfs (ENOSPC).
_FILE_FULL = re.compile(rb"File too large|\[Errno 27\]|No space left on device|\[Errno 28\]")
BASE_ENV = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
# The userns mode: the launcher and init live in the run's user namespace too, and
# RLIMIT_NPROC there counts every process of the namespace; two more keep the program's own
# allowance what it is in root mode.
USERNS_HELPERS = 2
USERNS_SIGPENDING = 64  # queued signals count against the appliance's uid as well
# Hidden in the userns mode besides the root mode's list: the run has the appliance's uid, so
# whatever that uid may read is the run's to read unless a mount covers it. /tmp is the run's
# own scratch tmpfs in both modes.
USERNS_HIDE = (Path("/var/tmp"), Path("/dev/mqueue"))  # noqa: S108 - hidden, not used
# Where an installation keeps folders of its own: any folder one level below these that the
# appliance's uid owns, or that only its groups may read, is hidden as well.
PRIVATE_ROOTS = (
    "/",
    "/etc",
    "/opt",
    "/srv",
    "/var",
    "/var/lib",
    "/var/log",
    "/var/cache",
    "/var/spool",
    "/var/backups",
    "/var/opt",
    "/mnt",
    "/media",
)
NEVER_HIDDEN = {"/proc", "/sys", "/dev", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"}


def _is_private(path: Path, uid: int, groups: set[int]) -> bool:
    """Whether a run with this uid and groups may read `path` where another uid may not."""
    try:
        info = path.lstat()
    except OSError:
        return False
    if not path.is_dir() or path.is_symlink():
        return False
    return info.st_uid == uid or (
        info.st_gid in groups and bool(info.st_mode & 0o040) and not info.st_mode & 0o004
    )


def own_folders() -> list[Path]:
    """Folders the appliance's uid or groups may read and a run in the userns mode could too:
    this installation and its venv, the uid's home, and any folder one level below the
    usual places (`PRIVATE_ROOTS`) it owns. Never a folder that holds a toolchain."""
    uid = os.geteuid()
    groups = {os.getegid(), *os.getgroups()}
    candidates = [Path(__file__).resolve().parents[2], Path(sys.prefix)]
    with suppress(KeyError):
        candidates.append(Path(pwd.getpwuid(uid).pw_dir))
    for root in PRIVATE_ROOTS:
        with suppress(OSError):
            candidates += [
                entry for entry in Path(root).iterdir() if str(entry) not in NEVER_HIDDEN
            ]
    tools = [Path(os.path.realpath(path)) for name in LANGUAGES for path in (toolchain(name) or ())]
    tools.append(Path(os.path.realpath(_interpreter())))
    found = []
    for path in dict.fromkeys(candidates):
        if str(path) in NEVER_HIDDEN or str(path) == "/":
            continue
        if any(tool.is_relative_to(path) for tool in tools):
            continue
        if _is_private(path, uid, groups):
            found.append(path)
    return found


@dataclass(frozen=True)
class Isolation:
    """The mechanisms to try; switching one off is how the tests exercise the fallbacks."""

    net_namespace: bool = True
    mount_namespace: bool = True
    pid_namespace: bool = True
    ipc_namespace: bool = True
    seccomp: bool = True
    nice: int = 10  # the web UI and the interview rooms stay responsive under load


class UidPool:
    """Dedicated uids, one per concurrent run, leased with flock (released if a holder dies)."""

    def __init__(self, base: int = UID_BASE, count: int = UID_COUNT, lock_dir: Path | None = None):
        self.base = base
        self.count = count
        default = Path("/run/lock") if Path("/run/lock").is_dir() else SHM
        self.lock_dir = lock_dir or default / f"appliance-coding-{base}"

    @contextmanager
    def lease(self, timeout_s: float = 60.0) -> Iterator[int]:
        """One free uid for the duration of the block (waits while all are busy)."""
        self.lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout_s
        while True:
            for slot in random.sample(range(self.count), self.count):
                fd = os.open(self.lock_dir / f"uid-{self.base + slot}.lock", os.O_RDWR | os.O_CREAT)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                try:
                    yield self.base + slot
                finally:
                    os.close(fd)
                return
            if time.monotonic() > deadline:
                raise TimeoutError("every sandbox uid is busy")
            time.sleep(0.05)


def _processes_of(uid: int) -> list[int]:
    found = []
    for process in psutil.process_iter(["uids"]):
        uids = process.info.get("uids")
        if uids is not None and uid in (uids.real, uids.effective, uids.saved):
            found.append(process.pid)
    return found


class Sandbox:
    """Runs submissions in isolated processes; one instance serves every thread of a process."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        scratch: Path | None = None,
        hide: Sequence[Path] = (),
        isolation: Isolation | None = None,
        uids: UidPool | None = None,
        max_parallel: int | None = None,
    ) -> None:
        self.isolation = isolation or Isolation()
        # Root gives each run a uid of its own; otherwise each run gets a user namespace.
        self.mode = "root" if os.geteuid() == 0 else "userns"
        digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
        if scratch is None:
            on_shm = SHM.is_dir() and os.access(SHM, os.W_OK)
            scratch = (
                SHM / f"appliance-coding-{os.getuid()}-{digest}"
                if on_shm or data_dir is None
                else data_dir / "tmp" / "coding"
            )
        self.scratch = scratch
        # Hidden from every run: the data directory, this sandbox's own scratch (other runs'
        # folders), secrets mounted under /run, and people's homes.
        hidden = [data_dir, scratch, *hide, Path("/run"), SHM, Path("/home"), Path("/root")]
        if self.mode == "userns":
            # After the root mode's list, so that a folder inside one of these (a data
            # directory under /var/tmp) is hidden, and listed, first.
            hidden += [*USERNS_HIDE, *own_folders()]
        self.hide = tuple(dict.fromkeys(str(p) for p in hidden if p is not None))
        # In the userns mode the pool's uids are not used: its leases (under the scratch
        # root, as /run/lock may be read-only there) only cap the runs at UID_COUNT at once.
        self.uids = uids or (
            UidPool() if self.mode == "root" else UidPool(lock_dir=scratch / ".slots")
        )
        self._gate = threading.BoundedSemaphore(max_parallel) if max_parallel else None
        self._mechanisms: Mechanisms | None = None

    def languages(self) -> list[str]:
        """The languages this box can run."""
        return [name for name in LANGUAGES if toolchain(name) is not None]

    def mechanisms(self) -> Mechanisms:
        """The isolation a run gets on this box (found once, by running a tiny program)."""
        if self._mechanisms is None:
            result = self.run_source("python", "pass\n", limits=Limits(cpu_s=2, wall_s=10))
            self._mechanisms = result.mechanisms
        return self._mechanisms

    def sweep(self) -> list[str]:
        """Wipe scratch folders left by a process that died (the worker calls it at start)."""
        return sweep_orphans(self.scratch)

    @contextmanager
    def workspace(self, language: str, source: str) -> Iterator[Workspace]:
        """A leased uid and a private scratch folder holding the source, wiped at the end."""
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}")
        encoded = source.encode("utf-8")
        with self.uids.lease() as leased:
            uid = leased if self.mode == "root" else os.geteuid()
            box = self._make_box()
            try:
                work = box / "work"
                work.mkdir(mode=0o700)
                path = work / LANGUAGES[language].source_name
                path.write_bytes(encoded[:MAX_SOURCE_BYTES])
                if os.geteuid() == 0:  # otherwise every run is refused (see Workspace)
                    os.chown(work, uid, uid)
                    os.chown(path, uid, uid)
                yield Workspace(self, LANGUAGES[language], work, uid, len(encoded))
            finally:
                wipe(box)

    def run_source(
        self, language: str, source: str, stdin: str | bytes = b"", limits: Limits | None = None
    ) -> RunResult:
        """Compile if needed and run once: the compile result when it fails, else the run's."""
        with self.workspace(language, source) as space:
            built = space.compile()
            if built is not None and not built.ok:
                return built
            return space.run(stdin, limits or Limits())

    def _make_box(self) -> Path:
        # 0711 up to the box: a run without a mount namespace reaches its own folder by path,
        # and no uid can list the folder to find another run's (0700, owned by that run's uid).
        self.scratch.mkdir(mode=0o711, parents=True, exist_ok=True)
        os.chmod(self.scratch, 0o711)  # noqa: S103 - traversable only, see above
        started = int(psutil.Process().create_time())
        box = self.scratch / f"coding-p{os.getpid()}-{started}-{secrets.token_hex(8)}"
        box.mkdir(mode=0o711)
        return box

    def _launch(
        self,
        space: Workspace,
        argv: list[str],
        limits: Limits,
        stdin: bytes,
        *,
        keep: tuple[str, ...] = (),
    ) -> RunResult:
        if self._gate is None:
            return _Run(self, space, argv, limits, stdin, keep).execute()
        with self._gate:
            return _Run(self, space, argv, limits, stdin, keep).execute()


class Workspace:
    """One submission's scratch folder and uid: compile once, run many test inputs."""

    def __init__(
        self, sandbox: Sandbox, language: Language, work: Path, uid: int, source_bytes: int
    ) -> None:
        self.sandbox = sandbox
        self.language = language
        self.work = work
        self.uid = uid
        self.source_bytes = source_bytes
        tools = toolchain(language.name)
        self.tools = tools or ()

    def compile(self, limits: Limits = COMPILE_LIMITS) -> RunResult | None:
        """Build the program (None for an interpreted language); COMPILE_ERROR when it fails."""
        refused = self._refusal()
        if refused is not None:
            return refused
        if not self.language.compile:
            return None
        argv = self.language.argv(self.tools, 256, compile_step=True)
        result = self.sandbox._launch(self, argv, limits, b"", keep=self.language.artifacts)
        if result.verdict is Verdict.OK:
            return result
        if result.verdict is Verdict.RUNTIME_ERROR:
            return _with(result, verdict=Verdict.COMPILE_ERROR, reason="the compiler failed")
        return result

    def run(self, stdin: str | bytes, limits: Limits) -> RunResult:
        """Run the program once on `stdin`."""
        refused = self._refusal()
        if refused is not None:
            return refused
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        if len(data) > MAX_INPUT_BYTES:
            return RunResult(Verdict.REFUSED, reason="the input is too large")
        heap_mb = max(16, limits.memory_bytes // MIB)
        argv = self.language.argv(self.tools, heap_mb, compile_step=False)
        return self.sandbox._launch(self, argv, limits, data)

    def _refusal(self) -> RunResult | None:
        # Not root is no refusal by itself: the launcher makes a user namespace, or refuses
        # with the setting that forbids it (docs/coding-sandbox.md, deployment).
        if not self.tools:
            return RunResult(Verdict.REFUSED, reason=f"no {self.language.label} toolchain here")
        if self.source_bytes > MAX_SOURCE_BYTES:
            return RunResult(Verdict.REFUSED, reason="the source is too large")
        return None


def _with(result: RunResult, **changes: Any) -> RunResult:
    values = {f.name: getattr(result, f.name) for f in fields(result)}
    values.update(changes)
    return RunResult(**values)


def _interpreter() -> str:
    """The launcher's Python: the system one, whose standard library stays visible once /root
    and the homes are hidden (a pyenv or venv interpreter may live there)."""
    return (toolchain("python") or (sys.executable,))[0]


def _sealed_input(data: bytes) -> int:
    """The program's stdin: a sealed memfd (no file on disk; the program cannot change it)."""
    fd = os.memfd_create("stdin", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    seals = fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
    return fd


class _Run:
    """One launch: spawn the launcher, read its pipes under the limits, judge the end."""

    def __init__(
        self,
        sandbox: Sandbox,
        space: Workspace,
        argv: list[str],
        limits: Limits,
        stdin: bytes,
        keep: tuple[str, ...],
    ) -> None:
        self.sandbox = sandbox
        self.space = space
        self.argv = argv
        self.limits = limits
        self.stdin = stdin
        self.keep = keep
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.stdout_over = False
        self.stderr_over = False
        self.parent_timeout = False
        self.scratch_over = False
        self.forced = False
        self.status = bytearray()

    def config(self, status_fd: int) -> dict[str, Any]:
        """The launcher's instructions (paths, limits, argv: no source, input or secret)."""
        lang, limits, iso = self.space.language, self.limits, self.sandbox.isolation
        cpu = max(1, math.ceil(limits.cpu_s))
        data = limits.memory_bytes + lang.overhead_bytes
        processes = limits.processes or lang.processes
        stack = limits.stack_bytes or lang.stack_bytes
        userns = self.sandbox.mode == "userns"
        extra: dict[str, list[int]] = {}
        if userns:
            processes += USERNS_HELPERS
            extra["SIGPENDING"] = [USERNS_SIGPENDING, USERNS_SIGPENDING]
        return {
            "parent": os.getpid(),
            "status_fd": status_fd,
            "mode": self.sandbox.mode,
            "uid": self.space.uid,
            "gid": os.getegid() if userns else self.space.uid,
            "workdir": str(self.space.work),
            "argv": self.argv,
            "env": BASE_ENV,  # the launcher adds HOME and TMPDIR: the scratch it mounted
            "rlimits": {
                "CPU": [cpu, cpu + 1],  # SIGXCPU first, SIGKILL a second later
                "DATA": [data, data],
                "AS": [data + lang.address_slack_bytes] * 2,
                "NPROC": [processes, processes],
                "FSIZE": [limits.file_bytes, limits.file_bytes],
                "NOFILE": [limits.open_files, limits.open_files],
                "CORE": [0, 0],
                "STACK": [stack, stack],
                "MEMLOCK": [0, 0],
                "MSGQUEUE": [0, 0],
                **extra,
            },
            "wall_s": limits.wall_s,
            "scratch_bytes": limits.scratch_bytes,
            "scratch_inodes": SCRATCH_ENTRIES,
            "keep": list(self.keep),
            "keep_bytes": limits.scratch_bytes,
            "hide": list(self.sandbox.hide),
            "want": {
                "net": iso.net_namespace,
                "mount": iso.mount_namespace,
                "pid": iso.pid_namespace,
                "ipc": iso.ipc_namespace,
                "seccomp": iso.seccomp,
            },
            "nice": iso.nice,
        }

    def execute(self) -> RunResult:
        """Launch, collect, judge; never leaves a process of the run's uid behind."""
        status_r, status_w = os.pipe()
        stdin_fd = _sealed_input(self.stdin)
        started = time.monotonic()
        try:
            config = marshal.dumps(self.config(status_w)).hex()
            command = [_interpreter(), "-I", "-S", "-c", BOOT, str(LAUNCHER.parent), config]
            process = subprocess.Popen(
                command,
                stdin=stdin_fd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(status_w,),
                start_new_session=True,
                env=BASE_ENV,
                cwd="/",
            )
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
            os.close(stdin_fd)
        try:
            deadline = started + self.limits.wall_s + LAUNCH_ALLOWANCE_S
            self._collect(process, status_r, deadline)
        finally:
            os.close(status_r)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
            if process.poll() is None and not self._finished():
                self._stop(process)
        if process.poll() is None:
            # Every process of the run is gone; the launcher is only tearing its namespaces
            # down, which takes milliseconds the judgement need not wait for.
            threading.Thread(target=process.wait, daemon=True).start()
        elapsed = time.monotonic() - started
        result = self._judge(elapsed)
        logger.info(
            "coding run: %s %s in %.2fs wall, %.2fs cpu, uid %d",
            self.space.language.name,
            result.verdict.value,
            result.wall_s,
            result.cpu_s,
            self.space.uid,
        )
        return result

    def _collect(self, process: subprocess.Popen[bytes], status_r: int, deadline: float) -> None:
        assert process.stdout is not None and process.stderr is not None
        selector = selectors.DefaultSelector()
        streams = {
            process.stdout.fileno(): "stdout",
            process.stderr.fileno(): "stderr",
            status_r: "status",
        }
        for fd in streams:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        stopping = False
        checked = time.monotonic()
        try:
            while selector.get_map():
                now = time.monotonic()
                left = deadline - now
                if left <= 0:
                    if stopping:
                        break
                    self.parent_timeout = True
                    self._stop(process)
                    stopping, deadline = True, time.monotonic() + STOP_GRACE_S
                    continue
                if self._watch_scratch() and not stopping:
                    left = min(left, SCRATCH_CHECK_S)
                    if now - checked >= SCRATCH_CHECK_S:
                        checked = now
                        if self._scratch_over():
                            self.scratch_over = True
                            self._stop(process)
                            stopping, deadline = True, time.monotonic() + STOP_GRACE_S
                            continue
                for key, _ in selector.select(left):
                    fd = int(key.fd)
                    try:
                        chunk = os.read(fd, 1 << 16)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        selector.unregister(fd)
                        continue
                    if self._take(streams[fd], chunk) and not stopping:
                        self._stop(process)  # stdout over its limit: the run ends now
                        stopping, deadline = True, time.monotonic() + STOP_GRACE_S
        finally:
            selector.close()
        if self._finished():
            return
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE_S)
        if process.poll() is None:
            self._stop(process)

    def _finished(self) -> bool:
        """True once the launcher reported the run over (init reaped, build outputs kept)."""
        return b'"kind": "done"' in self.status

    def _watch_scratch(self) -> bool:
        """True once the launcher said it had no mount namespace: then the scratch folder is
        a plain folder without a size of its own, and this process measures it instead."""
        return b'"mount_namespace": false' in self.status

    def _scratch_over(self) -> bool:
        """Whether the scratch folder holds more than its limit (bytes or entries)."""
        used, entries = 0, 0
        for folder, dirs, files in os.walk(self.space.work, followlinks=False):
            for name in dirs + files:
                entries += 1
                with suppress(OSError):
                    used += os.lstat(os.path.join(folder, name)).st_blocks * 512
            if used > self.limits.scratch_bytes or entries > SCRATCH_ENTRIES:
                return True
        return False

    def _take(self, stream: str, chunk: bytes) -> bool:
        """Keep what fits; True when stdout just went over its limit."""
        if stream == "status":
            self.status += chunk[: 1 << 16]
            return False
        if stream == "stderr":
            room = self.limits.stderr_bytes - len(self.stderr)
            self.stderr += chunk[: max(0, room)]
            self.stderr_over = self.stderr_over or len(chunk) > room
            return False
        room = self.limits.output_bytes - len(self.stdout)
        self.stdout += chunk[: max(0, room)]
        if len(chunk) > room and not self.stdout_over:
            self.stdout_over = True
            return True
        return False

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        """Ask the launcher to tear the run down; kill it and sweep the uid if it does not."""
        if process.poll() is not None:
            return
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.forced = True
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            self._sweep()

    def _sweep(self) -> None:
        if self.sandbox.mode == "userns":
            # Every run shares the appliance's uid: no sweep by uid. Killing the launcher's
            # process group took init with it (init is in it, and its parent-death signal is
            # SIGKILL), and the run's PID namespace dies with its init.
            return
        uid = self.space.uid
        launcher = [_interpreter(), "-I", "-S", "-c", BOOT, str(LAUNCHER.parent)]
        reaper = [*launcher, "reap", str(uid), str(uid)]
        subprocess.run(reaper, env=BASE_ENV, cwd="/", check=False, timeout=30)
        if _processes_of(uid):
            logger.error("coding run: processes of uid %d survived the sweep", uid)

    def _reports(self) -> dict[str, dict[str, Any]]:
        reports: dict[str, dict[str, Any]] = {}
        for line in self.status.decode(errors="replace").splitlines():
            with suppress(ValueError):
                report = json.loads(line)
                if isinstance(report, dict):
                    reports[str(report.get("kind"))] = report
        return reports

    def _judge(self, elapsed: float) -> RunResult:
        reports = self._reports()
        setup = reports.get("setup") or reports.get("refused") or {}
        mechanisms = Mechanisms(
            user_namespace=bool(setup.get("user_namespace")),
            privilege_drop=bool(setup.get("privilege_drop")),
            uid=setup.get("uid"),
            net_namespace=bool(setup.get("net_namespace")),
            mount_namespace=bool(setup.get("mount_namespace")),
            read_only_root=bool(setup.get("read_only_root")),
            hidden=tuple(setup.get("hidden", ())),
            pid_namespace=bool(setup.get("pid_namespace")),
            ipc_namespace=bool(setup.get("ipc_namespace")),
            seccomp=bool(setup.get("seccomp")),
            no_new_privs=bool(setup.get("no_new_privs")),
        )
        outcome = reports.get("result", {})
        base = RunResult(
            verdict=Verdict.RUNTIME_ERROR,
            exit_code=outcome.get("exit_code"),
            signal=outcome.get("signal"),
            wall_s=float(outcome.get("wall_s", elapsed)),
            cpu_s=float(outcome.get("cpu_s", 0.0)),
            peak_memory_bytes=int(outcome.get("maxrss_kb", 0)) * 1024,
            stdout=self.stdout.decode("utf-8", errors="replace"),
            stderr=self.stderr.decode("utf-8", errors="replace"),
            stdout_truncated=self.stdout_over,
            stderr_truncated=self.stderr_over,
            mechanisms=mechanisms,
        )
        verdict, reason = self._verdict(reports, outcome)
        return _with(base, verdict=verdict, reason=reason)

    def _verdict(
        self, reports: dict[str, dict[str, Any]], outcome: dict[str, Any]
    ) -> tuple[Verdict, str]:
        limits = self.limits
        if "refused" in reports:
            return Verdict.REFUSED, str(reports["refused"].get("reason", "refused"))
        if self.stdout_over:
            return Verdict.OUTPUT_LIMIT, "the output went over its limit"
        if self.scratch_over:
            return Verdict.OUTPUT_LIMIT, "the scratch folder went over its limit"
        if self.parent_timeout or outcome.get("timed_out"):
            return Verdict.TIME_LIMIT, "the wall-clock limit ran out"
        if not outcome:
            error = reports.get("error", {}).get("reason", "the launcher ended without a result")
            return Verdict.REFUSED, str(error)
        if outcome.get("setup_error"):
            return Verdict.REFUSED, f"the sandbox could not start it: {outcome['setup_error']}"
        sig, code = outcome.get("signal"), outcome.get("exit_code")
        if sig == signal.SIGXCPU or float(outcome.get("cpu_s", 0.0)) > limits.cpu_s:
            return Verdict.TIME_LIMIT, "the CPU time limit ran out"
        if code == 0 and sig is None:
            return Verdict.OK, ""
        if sig == signal.SIGXFSZ:
            return Verdict.OUTPUT_LIMIT, "a file went over the size limit"
        if sig == signal.SIGKILL and int(outcome.get("cpu_s", 0.0)) >= math.ceil(limits.cpu_s):
            return Verdict.TIME_LIMIT, "the CPU time limit ran out"
        stderr = bytes(self.stderr)
        if _MEMORY.search(stderr):
            return Verdict.MEMORY_LIMIT, "an allocation failed at the memory limit"
        if _FILE_FULL.search(stderr):
            return Verdict.OUTPUT_LIMIT, "a file or the scratch space went over its limit"
        # C's malloc just returns NULL: what follows is the program's own failure.
        if int(outcome.get("maxrss_kb", 0)) * 1024 >= MEMORY_NEAR * limits.memory_bytes:
            return Verdict.MEMORY_LIMIT, "it failed at the memory limit"
        if sig is not None:
            return Verdict.RUNTIME_ERROR, f"killed by {signal.Signals(sig).name}"
        return Verdict.RUNTIME_ERROR, f"exit status {code}"
