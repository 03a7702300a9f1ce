"""The sandbox's unprivileged mode (user namespaces), against a real unprivileged appliance.

The suite runs as root; here the appliance is a server process that dropped to a uid of its
own (tests/support/unprivileged_sandbox.py), so every run has that uid outside its user
namespace, as it would under the systemd units or in the container. What this mode must add
to the attacks of test_sandbox_isolation.py (which run in it too): a run holds no capability
(so it cannot unmount what hides the data directory), cannot read what the appliance's uid
owns, cannot signal the appliance, and its process limit is its own. Where this box has no
unprivileged user namespaces every test here is skipped with the reason; the settings that
forbid them are simulated to check that the refusal names them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from appliance.coding.model import Limits, RunResult, Verdict
from appliance.coding.sandbox import Isolation

from .support.unprivileged_sandbox import (
    SERVER_PIDS,
    RemoteSandbox,
    give_to,
    start_unprivileged,
    unprivileged_uid,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="becomes an unprivileged appliance")

UID = unprivileged_uid()
QUICK = Limits(cpu_s=2, wall_s=10)
OWNED = "OWNED-BY-THE-APPLIANCE"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """A data directory the appliance's uid owns, with a 0600 file of its own at the top."""
    root = Path(tempfile.mkdtemp(prefix="appliance-data-", dir="/var/tmp"))
    (root / "appliance-owned.txt").write_text(OWNED)
    os.chmod(root / "appliance-owned.txt", 0o600)
    os.chmod(root, 0o700)
    give_to(root, UID)
    yield root
    shutil.rmtree(root)


@pytest.fixture(scope="module")
def sandbox(data_dir: Path) -> Iterator[RemoteSandbox]:
    remote = start_unprivileged(data_dir, uid=UID)
    yield remote
    remote.close()


def run(sandbox: RemoteSandbox, source: str, limits: Limits = QUICK) -> RunResult:
    result: RunResult = sandbox.run_source("python", source, "", limits)
    return result


def others_of_the_uid() -> list[int]:
    """Live processes of the appliance's uid that are not an appliance (server)."""
    return [
        p.pid
        for p in psutil.process_iter(["uids", "status"])
        if p.info["uids"] is not None
        and UID in p.info["uids"]
        and p.info["status"] != psutil.STATUS_ZOMBIE
        and p.pid not in SERVER_PIDS
    ]


def test_the_mode_is_chosen_and_reported(sandbox: RemoteSandbox) -> None:
    assert sandbox.mode == "userns" and sandbox.uid == UID
    mechanisms = sandbox.mechanisms()
    print("mechanisms in the unprivileged mode:", ", ".join(mechanisms.active()))
    assert mechanisms.active() == [
        "user_namespace",
        "net_namespace",
        "mount_namespace",
        "read_only_root",
        "pid_namespace",
        "ipc_namespace",
        "seccomp",
        "no_new_privs",
    ]
    assert mechanisms.uid == UID and not mechanisms.privilege_drop
    for hidden in ("/run", "/dev/shm", "/home", "/root", "/var/tmp", str(sandbox.scratch)):
        assert hidden in mechanisms.hidden or not os.path.isdir(hidden), hidden


def test_the_program_has_the_appliances_uid_and_no_capability(sandbox: RemoteSandbox) -> None:
    source = (
        "import os\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
        "print(os.getresuid(), os.getresgid(), os.getgroups())\n"
        "for key in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'):\n"
        "    print(key, status[key].strip())\n"
        "print(open('/proc/self/uid_map').read().split())\n"
        "try:\n"
        "    os.setuid(0)\n"
        "    print('ROOT')\n"
        "except OSError as exc:\n"
        "    print('setuid', exc.errno)\n"
    )
    result = run(sandbox, source)
    assert result.ok, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"({UID}, {UID}, {UID}) ({UID}, {UID}, {UID}) []"
    for line in lines[1:6]:  # every capability set is empty, the bounding set too
        assert line.split()[1] == "0000000000000000", line
    assert lines[6:8] == ["NoNewPrivs 1", "Seccomp 2"]
    assert lines[8] == str([str(UID), str(UID), "1"])  # one id mapped: itself
    assert lines[9] in ("setuid 22", "setuid 1")  # 0 is not mapped


UNMOUNT = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def show(what, result):
    print(what, result, ctypes.get_errno() if result == -1 else 0)
for target in ('DATA', '/var/tmp', '/run', '/dev/shm', '/tmp', '/proc', '/'):
    show('umount2 ' + target, libc.umount2(target.encode(), 2))  # MNT_DETACH
show('mount', libc.mount(b'none', b'/var/tmp', b'tmpfs', 0, None))
show('remount', libc.mount(None, b'/', None, 32 | 4096, None))  # MS_REMOUNT|MS_BIND, rw
show('pivot_root', libc.syscall(155, b'/tmp', b'/tmp'))
show('open_tree', libc.syscall(428, -100, b'/var/tmp', 1))  # OPEN_TREE_CLONE
show('fsopen', libc.syscall(430, b'tmpfs', 0))
show('fspick', libc.syscall(433, -100, b'/', 0))
show('mount_setattr', libc.syscall(442, -100, b'/', 0, None, 0))
show('unshare', libc.unshare(0x10000000 | 0x00020000))
show('setns', libc.setns(0, 0))
show('chroot', libc.chroot(b'/tmp'))
try:
    print('READ', open('DATA/appliance-owned.txt').read())
except OSError as exc:
    print('read denied', exc.errno)
"""


@pytest.mark.parametrize("seccomp", [True, False], ids=["seccomp", "capabilities-alone"])
def test_the_run_cannot_unmount_what_hides_the_data_directory(
    data_dir: Path, seccomp: bool
) -> None:
    """The filter refuses the mount calls; without it, the dropped capabilities still do."""
    remote = start_unprivileged(data_dir, uid=UID, isolation=Isolation(seccomp=seccomp))
    try:
        result = run(remote, UNMOUNT.replace("DATA", str(data_dir)))
    finally:
        remote.close()
    assert result.ok, result.stderr
    assert "READ" not in result.stdout and OWNED not in result.stdout
    calls = [line for line in result.stdout.splitlines() if not line.startswith("read denied")]
    assert len(calls) == 17, result.stdout
    for line in calls:
        *_, code, errno = line.split()
        assert code == "-1" and errno != "0", line  # every call failed
        if seccomp:
            assert errno == "1", line  # EPERM from the filter


def test_a_file_the_appliances_uid_owns_is_out_of_reach(
    sandbox: RemoteSandbox, data_dir: Path
) -> None:
    """0600 and the appliance's: the run has that uid, so only the mounts keep it out. By
    path, through /proc, from above, through /dev/fd."""
    target = data_dir / "appliance-owned.txt"
    paths = [
        target,
        Path("/proc/self/root") / target.relative_to("/"),
        Path("/proc/1/root") / target.relative_to("/"),
        Path(f"/proc/{sandbox.pid}/root") / target.relative_to("/"),
        Path("/dev/fd/0/../..") / target.relative_to("/"),
    ]
    source = (
        "import sys\n"
        "for path in sys.stdin.read().split():\n"
        "    try:\n"
        "        print('READ', open(path).read())\n"
        "    except OSError as exc:\n"
        "        print('denied', exc.errno)\n"
    )
    result = sandbox.run_source("python", source, "\n".join(map(str, paths)), QUICK)
    assert result.ok, result.stderr
    assert OWNED not in result.stdout and "READ" not in result.stdout
    assert result.stdout.count("denied") == len(paths)
    assert str(data_dir) in result.mechanisms.hidden


def test_the_run_cannot_signal_the_appliance(sandbox: RemoteSandbox) -> None:
    """Same uid outside, but the appliance is not in the run's PID namespace: no PID names it."""
    appliance = psutil.Process(sandbox.pid)
    nice = appliance.nice()
    source = (
        "import os, signal\n"
        f"target = {sandbox.pid}\n"
        "for what, call in (\n"
        "    ('kill', lambda: os.kill(target, signal.SIGKILL)),\n"
        "    ('probe', lambda: os.kill(target, 0)),\n"
        f"    ('killpg', lambda: os.killpg({os.getpgid(sandbox.pid)}, signal.SIGKILL)),\n"
        f"    ('renice', lambda: os.setpriority(os.PRIO_USER, {UID}, 19)),\n"
        "    ('pidfd', lambda: os.pidfd_open(target)),\n"
        "):\n"
        "    try:\n"
        "        call()\n"
        "        print(what, 'done')\n"
        "    except OSError as exc:\n"
        "        print(what, exc.errno)\n"
        "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [os.getpid()])\n"
        "try:  # everything it may signal: in its own namespace, but for init and itself\n"
        "    os.kill(-1, signal.SIGKILL)\n"
        "except ProcessLookupError:\n"
        "    print('nothing to signal')\n"
        "print('survived')\n"
    )
    result = run(sandbox, source)
    assert result.ok, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert lines[:3] == ["kill 3", "probe 3", "killpg 3"]  # ESRCH
    # PRIO_USER reaches only the processes its PID namespace shows; init's EPERM (it holds
    # capabilities the program has not) is the only error it may meet.
    assert lines[3] in ("renice done", "renice 1")
    assert lines[4] == "pidfd 3"
    assert lines[5:] == ["True", "nothing to signal", "survived"]
    assert appliance.is_running() and appliance.status() != psutil.STATUS_ZOMBIE
    assert appliance.nice() == nice
    assert run(sandbox, "print('next')\n").stdout == "next\n"


def test_signals_to_init_do_not_end_the_run_early(sandbox: RemoteSandbox) -> None:
    """init has the run's uid too: what it would act on (SIGALRM, SIGINT) changes nothing."""
    source = (
        "import os, signal, time\n"
        "for sig in (signal.SIGALRM, signal.SIGINT, signal.SIGTERM, signal.SIGKILL):\n"
        "    os.kill(1, sig)\n"
        "time.sleep(0.3)\n"
        "print('finished')\n"
    )
    result = run(sandbox, source)
    assert result.verdict is Verdict.OK and result.stdout == "finished\n", result


def test_the_process_limit_applies_to_the_run(sandbox: RemoteSandbox) -> None:
    """RLIMIT_NPROC counts per user (uid) per user namespace since Linux 5.14: a run's limit
    is the run's own, and what it may start is the same as in the root mode."""
    source = (
        "import os, time\n"
        "n = 0\n"
        "for _ in range(40):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(3)\n"
        "        os._exit(0)\n"
        "    n += 1\n"
        "print(n)\n"
    )
    for processes in (3, 8):
        result = run(sandbox, source, Limits(cpu_s=2, wall_s=10, processes=processes))
        assert result.ok, result.stderr
        assert int(result.stdout) == processes - 1  # itself and its children


def test_a_fork_bomb_starves_neither_another_run_nor_the_appliance(
    sandbox: RemoteSandbox,
) -> None:
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    # Needs every process its limit allows (8: itself and 7 children).
    fan_out = (
        "import os, time\n"
        "children = []\n"
        "for _ in range(7):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        time.sleep(0.5)\n"
        "        os._exit(0)\n"
        "    children.append(pid)\n"
        "print(sum(os.waitpid(pid, 0)[1] == 0 for pid in children))\n"
    )
    results: dict[str, RunResult] = {}
    spawned: list[int] = []

    def bomber() -> None:
        results["bomb"] = run(sandbox, bomb, Limits(cpu_s=3, wall_s=3))

    thread = threading.Thread(target=bomber)
    thread.start()
    time.sleep(0.8)  # the bomb is at its limit now
    results["beside"] = run(sandbox, fan_out, Limits(cpu_s=2, wall_s=10))
    spawned.append(int(sandbox.call("spawn", ["/bin/true"])))
    thread.join()
    assert results["bomb"].verdict is Verdict.TIME_LIMIT, results["bomb"]
    assert results["beside"].ok and results["beside"].stdout == "7\n", results["beside"]
    assert spawned == [0]
    deadline = time.monotonic() + 3
    while others_of_the_uid() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert others_of_the_uid() == []


def test_the_run_user_namespace_has_its_own_small_limits(sandbox: RemoteSandbox) -> None:
    """No namespace inside the run's (the filter refuses them too), few inotify objects: they
    are counted against the appliance's uid as well."""
    source = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "read = lambda name: open('/proc/sys/user/' + name).read().strip()\n"
        "print(read('max_user_namespaces'), read('max_mnt_namespaces'))\n"
        "made = 0\n"
        "while made < 20 and libc.inotify_init() >= 0:\n"
        "    made += 1\n"
        "print(made)\n"
    )
    result = run(sandbox, source)
    assert result.ok, result.stderr
    assert result.stdout.split() == ["0", "0", "4"]


def test_every_language_runs(sandbox: RemoteSandbox) -> None:
    programs = {
        "python": "print(int(input()) * 2)\n",
        "c": '#include <stdio.h>\nint main(void){int x; scanf("%d",&x); printf("%d\\n",2*x);}\n',
        "cpp": "#include <iostream>\nint main(){int x; std::cin>>x; std::cout<<2*x<<std::endl;}\n",
        "javascript": "console.log(2 * Number(require('fs').readFileSync(0, 'utf8')));\n",
        "java": (
            "public class Main { public static void main(String[] a) {\n"
            "System.out.println(2 * new java.util.Scanner(System.in).nextInt()); } }\n"
        ),
    }
    for language in sandbox.languages():
        result = sandbox.run_source(language, programs[language], "21\n", Limits(wall_s=20))
        assert result.ok and result.stdout.strip() == "42", (language, result)


# --- where the box forbids it: refused, naming the setting ------------------------------------


@pytest.mark.parametrize(
    ("setup", "named"),
    [
        ("no-userns-seccomp", "seccomp"),
        ("max-userns-0", "user.max_user_namespaces=0"),
        ("masked-proc", "systempaths=unconfined"),
    ],
)
def test_refused_with_the_setting_named(data_dir: Path, setup: str, named: str) -> None:
    remote = start_unprivileged(data_dir, uid=UID, setup=setup)
    try:
        result = run(remote, "print('ran')\n")
    finally:
        remote.close()
    assert result.verdict is Verdict.REFUSED, result
    assert named in result.reason and result.stdout == ""
    print(setup, "->", result.reason)


def test_systemds_proc_with_protect_proc_invisible_is_enough(data_dir: Path) -> None:
    """Under the units /proc is partly covered (ProtectKernelTunables=), so no new /proc can be
    mounted in a user namespace; their ProtectProc=invisible one shows a run only its own
    processes, which is what a private one would."""
    remote = start_unprivileged(data_dir, uid=UID, setup="masked-proc-hidepid")
    try:
        source = (
            "import os\n"
            "shown = [p for p in os.listdir('/proc') if p.isdigit()]\n"
            "print(shown == [os.readlink('/proc/self')])  # itself only, by its host PID\n"
            f"print(os.path.exists('/proc/{remote.pid}'), os.path.exists('/proc/1/environ'))\n"
            "print(os.readlink('/proc/self/exe'))\n"
        )
        result = run(remote, source)
        java = None
        if "java" in remote.languages():
            hello = (
                "public class Main { public static void main(String[] a) {\n"
                'System.out.println("hi"); } }\n'
            )
            java = remote.run_source("java", hello, "", Limits(wall_s=20))
    finally:
        remote.close()
    assert result.ok, (result.reason, result.stderr)
    assert result.stdout.splitlines()[:2] == ["True", "False False"]
    assert java is None or (java.ok and java.stdout == "hi\n"), java


def test_the_unprivileged_mode_needs_its_namespaces(data_dir: Path) -> None:
    """Without a mount namespace the data directory would be the run's (same uid), without a
    PID namespace so would the appliance's processes: refused, not run half-isolated."""
    fallback = Isolation(mount_namespace=False, pid_namespace=False)
    remote = start_unprivileged(data_dir, uid=UID, isolation=fallback)
    try:
        result = run(remote, "print(open(__import__('sys').argv[0]).read())\n")
    finally:
        remote.close()
    assert result.verdict is Verdict.REFUSED
    assert "needs the mount, pid namespace" in result.reason and result.stdout == ""


def test_nothing_is_left_after_a_stopped_run(sandbox: RemoteSandbox) -> None:
    """The appliance stops a run (output limit): killing the launcher takes the namespace."""
    source = (
        "import os, sys\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    while True: pass\n"
        "while True:\n"
        "    sys.stdout.write('x' * 4096)\n"
    )
    result = run(sandbox, source, Limits(cpu_s=5, wall_s=10, output_bytes=10_000))
    assert result.verdict is Verdict.OUTPUT_LIMIT
    deadline = time.monotonic() + 3
    while others_of_the_uid() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert others_of_the_uid() == []
