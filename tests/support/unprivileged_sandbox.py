"""The coding sandbox served by a real unprivileged process, for the user-namespace mode's tests.

The suite runs as root, where the sandbox takes its root mode. To test the mode an appliance
that is not root gets, `RemoteSandbox` starts this module as a server that drops to an
unprivileged uid (no groups, no capabilities) before it imports the sandbox, and forwards
`run_source` and friends to it: the server is "the appliance", one process with a thread per
request, as the worker is. Before it drops, the server can set up what a deployment would have
done to it (`SETUPS`): /proc partly covered as systemd's ProtectKernelTunables= and Docker's
masked paths leave it, with or without systemd's ProtectProc=invisible, a seccomp filter that
refuses user namespaces as Docker's default profile does, user.max_user_namespaces=0.

    python -m tests.support.unprivileged_sandbox UID [--setup NAME]            # serve
    python -m tests.support.unprivileged_sandbox UID --exec -c CODE ARGS...    # run python
"""

from __future__ import annotations

import ctypes
import os
import pickle
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]
# Far from the root mode's pool (2 000 100 000 ...) and the tests' own (2 000 300 000 ...).
UID_BASE = 2_000_500_000
SETUPS = ("masked-proc", "masked-proc-hidepid", "no-userns-seccomp", "max-userns-0")
# Servers alive in this (test) process: they run as the unprivileged uid, as the runs do, and
# are left out when a test looks for processes of that uid that outlived a run.
SERVER_PIDS: set[int] = set()

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
_libc = ctypes.CDLL(None, use_errno=True)


def server_python() -> tuple[str, dict[str, str]] | str:
    """The interpreter and environment for the server, or why there is none. The system's
    Python with this venv's packages: the uid may not reach the venv's own interpreter (it
    may live under /root, as pyenv's does)."""
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        return "no system python3"
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if version != str(sys.version_info[:2]):
        return f"the system python3 is {version}, the venv's {sys.version_info[:2]}"
    packages = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    path = os.pathsep.join([str(REPO), *packages])
    return python, {"PATH": "/usr/bin:/bin", "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}


def unprivileged_uid() -> int:
    """The uid the tests' unprivileged appliance runs as (one per test process)."""
    return UID_BASE + os.getpid() % 1000


def give_to(path: Path, uid: int) -> None:
    """Make `path` and everything under it the unprivileged appliance's."""
    for folder, dirs, files in os.walk(path):
        os.chown(folder, uid, uid)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)


# --- the client (in the test process) -----------------------------------------------------------


def _send(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value)
    stream.write(struct.pack("<I", len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(4)
    if len(head) < 4:
        raise EOFError("the unprivileged sandbox server is gone")
    (size,) = struct.unpack("<I", head)
    return pickle.loads(stream.read(size))  # noqa: S301 - our own server's answers


class RemoteSandbox:
    """A `Sandbox` living in an unprivileged server process; the same calls the tests use."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        uid: int,
        isolation: Any = None,
        uids: tuple[int, int, Path] | None = None,
        setup: str | None = None,
    ) -> None:
        found = server_python()
        if isinstance(found, str):
            raise RuntimeError(found)
        python, env = found
        command = [python, "-m", "tests.support.unprivileged_sandbox", str(uid)]
        command += ["--setup", setup] if setup else []
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO, env=env
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in, self._out = self.process.stdin, self.process.stdout
        self._lock = threading.Lock()
        self._waiting: dict[int, Future[Any]] = {}
        self._next = 0
        _send(self._in, {"data_dir": data_dir, "isolation": isolation, "uids": uids})
        info = _receive(self._out)
        self.pid: int = info["pid"]
        self.uid: int = info["uid"]
        self.mode: str = info["mode"]
        self.isolation = info["isolation"]
        self.scratch: Path = info["scratch"]
        self.hide: tuple[str, ...] = info["hide"]
        SERVER_PIDS.add(self.pid)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                number, ok, value = _receive(self._out)
                future = self._waiting.pop(number)
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(RuntimeError(f"in the unprivileged server: {value}"))
        except (EOFError, OSError, ValueError):
            for future in list(self._waiting.values()):
                future.set_exception(EOFError("the unprivileged sandbox server is gone"))

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call `name` on the server's sandbox (or one of the server's own helpers)."""
        future: Future[Any] = Future()
        with self._lock:
            number = self._next
            self._next += 1
            self._waiting[number] = future
            _send(self._in, (number, name, args, kwargs))
        return future.result(timeout=300)

    def run_source(self, *args: Any, **kwargs: Any) -> Any:
        """Sandbox.run_source, run by the unprivileged appliance."""
        return self.call("run_source", *args, **kwargs)

    def languages(self) -> list[str]:
        """Sandbox.languages."""
        return list(self.call("languages"))

    def mechanisms(self) -> Any:
        """Sandbox.mechanisms."""
        return self.call("mechanisms")

    def sweep(self) -> list[str]:
        """Sandbox.sweep."""
        return list(self.call("sweep"))

    def close(self) -> None:
        """Stop the server."""
        SERVER_PIDS.discard(self.pid)
        with self._lock:
            self._in.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()


def start_unprivileged(data_dir: Path | None, **kwargs: Any) -> RemoteSandbox:
    """A RemoteSandbox that has run a first program, or a skip that says why this box cannot
    have one: not root (no other uid to become), no system python of the venv's version, or
    no unprivileged user namespaces (any other refusal is a failure, not a skip)."""
    import pytest

    from appliance.coding.model import Limits

    if os.geteuid() != 0:
        pytest.skip("the tests become an unprivileged appliance from root")
    found = server_python()
    if isinstance(found, str):
        pytest.skip(found)
    remote = RemoteSandbox(data_dir, **kwargs)
    probe = remote.run_source("python", "pass\n", "", Limits(wall_s=10))
    reason = str(probe.reason)
    if "cannot make a user namespace" in reason and not kwargs.get("setup"):
        remote.close()
        pytest.skip(f"no unprivileged user namespaces here: {reason}")
    return remote


# --- the server (as the unprivileged uid) -------------------------------------------------------


def _check(result: int, what: str) -> None:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None) -> None:
    def text(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    _check(_libc.mount(text(source), text(target), text(kind), flags, text(data)), target)


def _cover_proc(hidepid: bool) -> None:
    """/proc as systemd leaves it for a unit with ProtectKernelTunables= (and ProtectProc=
    invisible when `hidepid`): /proc/sys covered by a read-only bind of itself."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    if hidepid:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible")
    _mount("/proc/sys", "/proc/sys", None, MS_BIND | MS_REC, None)
    _mount(None, "/proc/sys", None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)


def _no_user_namespaces_left(uid: int) -> None:
    """Continue in a user namespace (mapping root and `uid` to themselves) whose
    user.max_user_namespaces is 0: as a box with that sysctl at 0. The parent waits."""
    ready_r, ready_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        os.close(mapped_w)
        _check(_libc.unshare(CLONE_NEWUSER), "unshare")
        os.write(ready_w, b"1")
        os.read(mapped_r, 1)
        with open("/proc/sys/user/max_user_namespaces", "w", encoding="ascii") as handle:
            handle.write("0")
        return
    os.close(ready_w)
    os.close(mapped_r)
    os.read(ready_r, 1)
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{child}/{name}", "w", encoding="ascii") as handle:
            handle.write(f"0 0 1\n{uid} {uid} 1\n")
    os.write(mapped_w, b"1")
    _, status = os.waitpid(child, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _refuse_user_namespaces() -> None:
    """A seccomp filter as Docker's default profile has for a container without
    CAP_SYS_ADMIN: unshare and clone with CLONE_NEWUSER fail with EPERM (x86-64 only)."""
    audit_x86_64, unshare, clone, clone3 = 0xC000003E, 272, 56, 435
    ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    program = [
        (ld, 0, 0, 4),  # arch
        (jeq, 1, 0, audit_x86_64),
        (ret, 0, 0, allow),
        (ld, 0, 0, 0),  # nr
        (jeq, 3, 0, unshare),
        (jeq, 2, 0, clone),
        (jeq, 5, 0, clone3),
        (ret, 0, 0, allow),
        (ld, 0, 0, 16),  # args[0]: the flags
        (jset, 0, 1, CLONE_NEWUSER),
        (ret, 0, 0, eperm),
        (ret, 0, 0, allow),
        (ret, 0, 0, enosys),
    ]

    class Filter(ctypes.Structure):
        _fields_ = (
            ("code", ctypes.c_ushort),
            ("jt", ctypes.c_ubyte),
            ("jf", ctypes.c_ubyte),
            ("k", ctypes.c_uint),
        )

    class Program(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter)))

    rows = (Filter * len(program))(*(Filter(*row) for row in program))
    fprog = Program(len(program), rows)
    ulong = ctypes.c_ulong
    _check(_libc.prctl(38, ulong(1), ulong(0), ulong(0), ulong(0)), "no_new_privs")
    pointer = ulong(ctypes.addressof(fprog))
    _check(_libc.prctl(22, ulong(2), pointer, ulong(0), ulong(0)), "seccomp")


def _become(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    assert os.getresuid() == (uid, uid, uid)


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    from appliance.coding.sandbox import Sandbox, UidPool

    params = _receive(requests)
    pool = None
    if params["uids"] is not None:
        base, count, lock_dir = params["uids"]
        pool = UidPool(base=base, count=count, lock_dir=lock_dir)
    kwargs: dict[str, Any] = {"uids": pool}
    if params["isolation"] is not None:
        kwargs["isolation"] = params["isolation"]
    sandbox = Sandbox(params["data_dir"], **kwargs)
    _send(
        answers,
        {
            "pid": os.getpid(),
            "uid": os.geteuid(),
            "mode": sandbox.mode,
            "isolation": sandbox.isolation,
            "scratch": sandbox.scratch,
            "hide": sandbox.hide,
        },
    )
    lock = threading.Lock()

    def spawn(argv: list[str]) -> int:
        """The appliance starting a process of its own (is it starved?)."""
        return subprocess.run(argv, check=False, timeout=30).returncode

    helpers: dict[str, Callable[..., Any]] = {"spawn": spawn}

    def answer(number: int, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            function = helpers.get(name) or getattr(sandbox, name)
            reply = (number, True, function(*args, **kwargs))
        except BaseException as exc:
            reply = (number, False, f"{type(exc).__name__}: {exc}")
        with lock:
            _send(answers, reply)

    threads = []
    while True:
        try:
            number, name, args, kwargs = _receive(requests)
        except EOFError:
            break
        thread = threading.Thread(target=answer, args=(number, name, args, kwargs))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    shutil.rmtree(sandbox.scratch, ignore_errors=True)


def main(argv: list[str]) -> int:
    """Drop to the uid (after the setup a deployment would have made), then serve or exec."""
    uid = int(argv[0])
    setup = argv[argv.index("--setup") + 1] if "--setup" in argv else None
    if os.geteuid() == 0:
        if setup in ("masked-proc", "masked-proc-hidepid"):
            _cover_proc(hidepid=setup == "masked-proc-hidepid")
        if setup == "max-userns-0":
            _no_user_namespaces_left(uid)
        _become(uid)
        # A fresh interpreter, which finds its standard library as the uid it now is (the
        # one root started may live under /root).
        command = [sys.executable, "-m", "tests.support.unprivileged_sandbox", *argv]
        os.execv(sys.executable, command)  # noqa: S606 - this module again
    if setup == "no-userns-seccomp":
        _refuse_user_namespaces()
    os.environ["HOME"] = "/nonexistent"
    if "--exec" in argv:
        rest = argv[argv.index("--exec") + 1 :]
        os.execv(sys.executable, [sys.executable, *rest])  # noqa: S606 - the test's own code
    # The protocol owns stdout; anything printed goes to stderr.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
