"""Hostile submissions against the coding sandbox, as real processes (no mocks).

Each attack runs three times: with every mechanism this box has ("full"), in the fallback a
box without namespaces gets ("fallback": privilege drop, rlimits, seccomp, uid sweeps only),
and in the mode an appliance that is not root gets ("userns": the sandbox served by a real
unprivileged process, tests/support/unprivileged_sandbox.py; skipped, with the reason, where
this box has no unprivileged user namespaces). Each must fail cleanly: a verdict that is not
OK, no process of the run left, nothing of the box or of a run beside it hurt.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from appliance.coding.model import Limits, RunResult, Verdict
from appliance.coding.sandbox import Isolation, Sandbox, UidPool

from .conftest import REPO
from .support.unprivileged_sandbox import (
    SERVER_PIDS,
    RemoteSandbox,
    give_to,
    server_python,
    start_unprivileged,
    unprivileged_uid,
)

AnySandbox = Sandbox | RemoteSandbox
APPLIANCE_UID = unprivileged_uid()  # the userns mode's appliance; it owns the data directory

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox drops from root to a uid")

FALLBACK = Isolation(
    net_namespace=False, mount_namespace=False, pid_namespace=False, ipc_namespace=False
)
TIGHT = Limits(cpu_s=1, wall_s=2)
ECHO = "import sys\nprint(sys.stdin.read().strip())\n"
GIB = 1 << 30


def live_processes(uid: int) -> list[int]:
    """PIDs of the uid that still run (zombies waiting for a reaper run nothing), but for the
    unprivileged appliances serving the userns mode (they have that mode's uid)."""
    found = []
    for process in psutil.process_iter(["uids", "status"]):
        uids = process.info["uids"]
        if uids is None or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if process.pid in SERVER_PIDS:
            continue
        if uid in (uids.real, uids.effective, uids.saved):
            found.append(process.pid)
    return found


def wait_until(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """An appliance data directory outside /tmp (the run's /tmp is its own scratch anyway),
    with a private secret (0700/0600, as provisioning leaves it) and a careless one (0644)."""
    root = Path(tempfile.mkdtemp(prefix="appliance-data-", dir="/var/tmp"))
    (root / "keys").mkdir(mode=0o700)
    (root / "keys" / "db-key.sealed.json").write_text("SEALED-KEY-MATERIAL")
    os.chmod(root / "keys" / "db-key.sealed.json", 0o600)
    os.chmod(root, 0o755)  # noqa: S103 - a careless data directory, on purpose
    (root / "careless.txt").write_text("WORLD-READABLE-SECRET")
    os.chmod(root / "careless.txt", 0o644)
    give_to(root, APPLIANCE_UID)  # the appliance's, as provisioning leaves it
    yield root
    shutil.rmtree(root)
    shutil.rmtree(Sandbox(root).scratch, ignore_errors=True)  # the (empty) scratch root


@pytest.fixture(scope="module", params=["full", "fallback", "userns"])
def sandbox(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[AnySandbox]:
    if request.param == "userns":
        remote = start_unprivileged(data_dir, uid=APPLIANCE_UID)
        yield remote
        remote.close()
        return
    isolation = Isolation() if request.param == "full" else FALLBACK
    yield Sandbox(data_dir, isolation=isolation)


def is_full(sandbox: AnySandbox) -> bool:
    return sandbox.isolation.mount_namespace


def appliance_pid(sandbox: AnySandbox) -> int:
    """The process that stands for the appliance: this one, or the unprivileged server."""
    return sandbox.pid if isinstance(sandbox, RemoteSandbox) else os.getpid()


def appliance_spawns(sandbox: AnySandbox) -> int:
    """The appliance starts a process of its own (exit status of /bin/true)."""
    if isinstance(sandbox, RemoteSandbox):
        return int(sandbox.call("spawn", ["/bin/true"]))
    return subprocess.run(["/bin/true"], check=False, timeout=30).returncode


def assert_clean(result: RunResult) -> None:
    """Nothing of the run is left running."""
    assert result.mechanisms.uid is not None
    assert wait_until(lambda: not live_processes(result.mechanisms.uid or 0), 2.0)


def test_fork_bomb_is_contained_and_a_run_beside_it_is_fine(sandbox: AnySandbox) -> None:
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    beside: list[RunResult] = []
    spawned: list[int] = []

    def neighbour() -> None:
        time.sleep(0.5)  # while the bomb is at its height
        spawned.append(appliance_spawns(sandbox))  # the appliance is not starved either
        beside.append(sandbox.run_source("python", ECHO, "still here", Limits(wall_s=10)))

    thread = threading.Thread(target=neighbour)
    thread.start()
    started = time.monotonic()
    result = sandbox.run_source("python", bomb, "", TIGHT)
    thread.join()
    assert result.verdict is Verdict.TIME_LIMIT, result
    assert time.monotonic() - started < TIGHT.wall_s + 3
    assert_clean(result)
    assert beside and beside[0].ok and beside[0].stdout == "still here\n"
    assert spawned == [0]


def test_infinite_loop_hits_the_cpu_limit(sandbox: AnySandbox) -> None:
    # A wall clock far beyond the CPU limit: on a loaded machine a second of CPU can take
    # longer than two seconds of wall time, and then the wall clock would stop it first.
    result = sandbox.run_source("python", "while True:\n    pass\n", "", Limits(cpu_s=1, wall_s=30))
    assert result.verdict is Verdict.TIME_LIMIT
    assert result.signal == signal.SIGXCPU
    # The kernel stops it at 1 s of its own clock; rusage, sampled, may say a little less.
    assert 0.5 <= result.cpu_s < 2.5
    assert_clean(result)


def test_sleeping_forever_hits_the_wall_clock(sandbox: AnySandbox) -> None:
    started = time.monotonic()
    result = sandbox.run_source("python", "import time\ntime.sleep(3600)\n", "", TIGHT)
    assert result.verdict is Verdict.TIME_LIMIT and "wall" in result.reason
    assert time.monotonic() - started < TIGHT.wall_s + 2
    assert_clean(result)


def test_ten_gigabyte_allocation_fails_at_the_memory_limit(sandbox: AnySandbox) -> None:
    available = psutil.virtual_memory().available
    result = sandbox.run_source("python", "b = bytearray(10 * 1024**3)\nprint(len(b))\n", "", TIGHT)
    assert result.verdict is Verdict.MEMORY_LIMIT
    assert "MemoryError" in result.stderr and result.stdout == ""
    assert result.peak_memory_bytes < 64 << 20
    # Touching memory page by page stops at the limit too, not at the box's RAM.
    grow = "x = []\nwhile True:\n    x.append(bytearray(1 << 20))\n"
    touched = sandbox.run_source("python", grow, "", Limits(cpu_s=5, wall_s=10))
    assert touched.verdict is Verdict.MEMORY_LIMIT
    assert touched.peak_memory_bytes < Limits().memory_bytes + (64 << 20)
    assert psutil.virtual_memory().available > available - GIB
    assert_clean(touched)


ALLOCATE_10_GB = {
    "cpp": (
        "#include <vector>\n#include <cstdio>\n"
        'int main() { std::vector<char> v(10ULL << 30, 1); std::printf("%d\\n", v[5]); }\n'
    ),
    # malloc says NULL and memset faults on it: only the peak near the limit, or the fault,
    # tells; either way a clean end.
    "c": (
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
        'int main(void) { size_t n; if (scanf("%zu", &n) != 1) return 2;\n'
        '  char *p = malloc(n); memset(p, 1, n); printf("%d\\n", p[n / 2]); return 0; }\n'
    ),
    "java": (
        "public class Main { public static void main(String[] a) {\n"
        "  long[] big = new long[1_342_177_280]; System.out.println(big.length); } }\n"
    ),
    "javascript": "const b = new Float64Array(1342177280);\nconsole.log(b.length);\n",
}


@pytest.mark.parametrize("language", sorted(ALLOCATE_10_GB))
def test_ten_gigabyte_allocation_in_other_languages(sandbox: AnySandbox, language: str) -> None:
    if language not in sandbox.languages():
        pytest.skip(f"no {language} toolchain on this box")
    available = psutil.virtual_memory().available
    size = str(10 << 30)  # the C program reads it, so the compiler cannot fold it away
    result = sandbox.run_source(language, ALLOCATE_10_GB[language], size, Limits(wall_s=10))
    expected = {Verdict.MEMORY_LIMIT} | ({Verdict.RUNTIME_ERROR} if language == "c" else set())
    assert result.verdict in expected, result
    assert result.peak_memory_bytes < Limits().memory_bytes + (256 << 20)
    assert psutil.virtual_memory().available > available - GIB
    assert_clean(result)


def test_ten_gigabyte_file_write_stops_at_the_file_limit(sandbox: AnySandbox) -> None:
    disk = shutil.disk_usage("/").free
    shm = shutil.disk_usage("/dev/shm").free
    write = (
        "with open('big', 'wb') as f:\n"
        "    for _ in range(10 * 1024):\n"
        "        f.write(bytes(1 << 20))\n"
    )
    result = sandbox.run_source("python", write, "", Limits(cpu_s=5, wall_s=10))
    assert result.verdict is Verdict.OUTPUT_LIMIT, result
    assert "File too large" in result.stderr
    # Many files under the per-file limit stop at the scratch size instead.
    many = "i = 0\nwhile True:\n    open(f'part{i}', 'wb').write(bytes(1 << 20))\n    i += 1\n"
    filled = sandbox.run_source("python", many, "", Limits(cpu_s=5, wall_s=10))
    assert filled.verdict is Verdict.OUTPUT_LIMIT, filled
    assert shutil.disk_usage("/").free > disk - GIB
    assert shutil.disk_usage("/dev/shm").free > shm - GIB
    assert_clean(filled)


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    yield server, server.getsockname()[1]
    server.close()


def _connect_source(port: int) -> str:
    return (
        "import socket\n"
        "for family, host in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):\n"
        "    try:\n"
        "        s = socket.socket(family, socket.SOCK_STREAM)\n"
        "        s.settimeout(1)\n"
        f"        s.connect((host, {port}))\n"
        "        print('CONNECTED')\n"
        "    except OSError as exc:\n"
        "        print('refused', exc.errno)\n"
    )


def _accepted(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except TimeoutError:
        return False
    connection.close()
    return True


def test_network_connect_to_the_host_fails(
    sandbox: AnySandbox, listener: tuple[socket.socket, int]
) -> None:
    server, port = listener
    result = sandbox.run_source("python", _connect_source(port), "", Limits(wall_s=10))
    assert result.ok, result.stderr
    assert "CONNECTED" not in result.stdout
    assert result.stdout.count("refused") == 2
    assert not _accepted(server)
    assert result.mechanisms.network_cut


@pytest.mark.parametrize("mode", ["root", "userns"])
@pytest.mark.parametrize("alone", ["net_namespace", "seccomp"])
def test_each_network_mechanism_alone_stops_the_connect(
    alone: str, mode: str, data_dir: Path, listener: tuple[socket.socket, int]
) -> None:
    """Either mechanism is enough by itself (the fallback relies on seccomp alone)."""
    server, port = listener
    if alone == "net_namespace":
        isolation = Isolation(seccomp=False)
    else:
        isolation = Isolation(net_namespace=False)
    source = _connect_source(port)
    if mode == "userns":
        remote = start_unprivileged(data_dir, uid=APPLIANCE_UID, isolation=isolation)
        try:
            result = remote.run_source("python", source, "", Limits(wall_s=10))
        finally:
            remote.close()
    else:
        result = Sandbox(data_dir, isolation=isolation).run_source(
            "python", source, "", Limits(wall_s=10)
        )
    assert result.ok, result.stderr
    assert getattr(result.mechanisms, alone)
    assert "CONNECTED" not in result.stdout and not _accepted(server)


def test_the_data_directory_and_init_environ_are_unreadable(
    sandbox: AnySandbox, data_dir: Path
) -> None:
    targets = [
        data_dir / "keys" / "db-key.sealed.json",
        data_dir / "careless.txt",
        Path("/proc/1/environ"),
        Path(f"/proc/{appliance_pid(sandbox)}/environ"),  # the appliance itself
        Path(f"/proc/{appliance_pid(sandbox)}/mem"),
        Path("/etc/shadow"),
    ]
    source = (
        "import sys\n"
        "for path in sys.stdin.read().split():\n"
        "    try:\n"
        "        print(path, 'READ', open(path, 'rb').read(40))\n"
        "    except OSError as exc:\n"
        "        print(path, 'denied', type(exc).__name__)\n"
    )
    result = sandbox.run_source("python", source, "\n".join(map(str, targets)), Limits())
    assert result.ok, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert "SEALED-KEY-MATERIAL" not in result.stdout
    for target in targets:
        if target.name == "careless.txt" and not is_full(sandbox):
            # Without a mount namespace only file permissions guard the data directory.
            continue
        assert lines[str(target)].startswith("denied"), (target, lines[str(target)])
    if is_full(sandbox):
        assert str(data_dir) in result.mechanisms.hidden


def test_the_root_is_read_only(sandbox: AnySandbox) -> None:
    source = (
        "import sys\n"
        "for path in ('/var/tmp/sandbox-was-here', '/etc/sandbox-was-here', 'ok-here'):\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print(path, 'written')\n"
        "    except OSError as exc:\n"
        "        print(path, 'denied', exc.errno)\n"
    )
    result = sandbox.run_source("python", source, "", Limits())
    assert result.ok, result.stderr
    assert "ok-here written" in result.stdout
    assert "/etc/sandbox-was-here denied" in result.stdout
    if is_full(sandbox):
        assert "/var/tmp/sandbox-was-here denied 30" in result.stdout  # EROFS
    Path("/var/tmp/sandbox-was-here").unlink(missing_ok=True)


def test_seccomp_refuses_namespaces_mounts_and_tracing(sandbox: AnySandbox) -> None:
    source = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('unshare', libc.unshare(0x10000000 | 0x40000000), ctypes.get_errno())\n"
        "print('ptrace', libc.ptrace(16, os.getppid() or 1, 0, 0), ctypes.get_errno())\n"
        "print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())\n"
        "import socket\n"
        "a, b = socket.socketpair()\n"
        "a.send(b'unix ok')\n"
        "print(b.recv(10).decode())\n"
    )
    result = sandbox.run_source("python", source, "", Limits())
    assert result.ok, result.stderr
    assert result.stdout.splitlines() == ["unshare -1 1", "ptrace -1 1", "mount -1 1", "unix ok"]


def test_escaping_the_process_group_does_not_outlive_the_run(sandbox: AnySandbox) -> None:
    source = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(3600)\n"
        "    os._exit(0)\n"
        "print('parent leaves')\n"
    )
    result = sandbox.run_source("python", source, "", Limits())
    assert result.ok and result.stdout == "parent leaves\n"
    assert_clean(result)


RUNNER = """
import sys
from pathlib import Path
from appliance.coding.model import Limits
from appliance.coding.sandbox import Isolation, Sandbox, UidPool
full = sys.argv[3] == "full"
off = dict(net_namespace=False, mount_namespace=False, pid_namespace=False, ipc_namespace=False)
sandbox = Sandbox(
    isolation=Isolation() if full else Isolation(**off),
    uids=UidPool(base=int(sys.argv[1]), count=1, lock_dir=Path(sys.argv[2])),
)
source = '''
import os, time
for _ in range(3):
    if os.fork() == 0:
        os.setsid()
        break
while True:
    pass
'''
sandbox.run_source("python", source, "", Limits(cpu_s=120, wall_s=120))
"""


def test_killing_the_parent_takes_the_whole_run_down(sandbox: AnySandbox, tmp_path: Path) -> None:
    unprivileged = isinstance(sandbox, RemoteSandbox)
    if unprivileged:
        # The runner is an unprivileged appliance too: runs have its uid, and their leases
        # (slots, not uids) live in a folder it may write.
        uid = APPLIANCE_UID
        locks = Path(tempfile.mkdtemp(prefix="appliance-locks-", dir="/var/tmp"))
        give_to(locks, uid)
        found = server_python()
        assert not isinstance(found, str), found
        python, env = found
        prefix = [python, "-m", "tests.support.unprivileged_sandbox", str(uid), "--exec"]
        # runner, launcher, init and the program's 4 processes, all of the appliance's uid
        started = 7
    else:
        uid = 2_000_300_000 + (os.getpid() % 1000) * 2 + (0 if is_full(sandbox) else 1)
        locks = tmp_path / "locks"
        prefix, env = [sys.executable], {**os.environ, "PYTHONPATH": str(REPO)}
        started = 4  # the program's processes (launcher and init are root's)
    mode = "full" if is_full(sandbox) else "fallback"
    runner = subprocess.Popen(
        [*prefix, "-c", RUNNER, str(uid), str(locks), mode], cwd=REPO, env=env
    )
    try:
        assert wait_until(lambda: len(live_processes(uid)) >= started, 20), "it never started"
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
        assert wait_until(lambda: not live_processes(uid), 5), live_processes(uid)
    finally:
        if runner.poll() is None:
            runner.kill()
    # The uid (or slot) is free again, and a new run on it works.
    again: AnySandbox
    if unprivileged:
        again = start_unprivileged(None, uid=uid, uids=(uid, 1, locks))
    else:
        pool = UidPool(base=uid, count=1, lock_dir=locks)
        again = Sandbox(uids=pool, isolation=sandbox.isolation)
    try:
        assert again.run_source("python", ECHO, "fine", Limits()).stdout == "fine\n"
        # The dead runner's scratch folder is an orphan the next start sweeps away.
        swept = again.sweep()
        assert any(name.startswith(f"coding-p{runner.pid}-") for name in swept), swept
    finally:
        if isinstance(again, RemoteSandbox):
            again.close()
            shutil.rmtree(locks)


def test_the_unprivileged_mode_never_runs_as_root(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An appliance that is not root gets the userns mode, where the program keeps the
    appliance's uid; a launcher that is root anyway refuses it (uid 0 would own root's files)
    rather than run the code as root."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    made = Sandbox(data_dir)
    assert made.mode == "userns"
    monkeypatch.undo()
    result = made.run_source("python", "print('ran')\n", "", Limits())
    assert result.verdict is Verdict.REFUSED and "root" in result.reason
    assert result.stdout == ""
