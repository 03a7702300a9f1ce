"""The sandbox launcher: isolates one run, drops its privileges and execs the program.

`appliance.coding.sandbox` imports it into an interpreter started with `-I -S`, so it must stay
standard-library only: it never imports the appliance (whose code, venv and secrets the
sandboxed program must not reach). Two modes (`cfg["mode"]`), chosen by the appliance:

- "root": the launcher runs as root; the program drops to the run's own leased uid;
- "userns": the appliance is not root; the launcher first makes a user namespace mapping the
  appliance's own uid and gid to themselves, which gives it the capabilities (inside that
  namespace only) to make the same namespaces and mounts; the program keeps the appliance's
  uid but drops every capability before it execs.

Three processes, each with one job:

- the launcher (outside the new PID namespace): creates the namespaces, makes the root
  read-only, hides the data directory, mounts the run's private scratch tmpfs, then waits;
- init (PID 1 inside the new PID namespace, root or holding the namespace's capabilities):
  mounts a private /proc, starts the program, enforces the wall-clock limit, reaps
  everything, reports the exit and usage;
- the program: rlimits, no groups and the run's uid (root mode) or no capabilities at all
  (userns mode), no new privileges, a seccomp filter, exec.

When init exits the kernel kills every process left in its PID namespace, so nothing of a run
outlives it; when the appliance dies, parent-death signals carry the kill down the chain.
Reports are JSON lines on the status pipe the appliance passed in (never the program's output).
"""

from __future__ import annotations

import ctypes
import marshal
import os
import resource
import signal
import sys
import time

# Every run pays this interpreter's start: json, fnmatch, contextlib and typing (through re and
# enum) would double it, so the config comes as marshal, reports are written by hand below, and
# typing is for the type checker only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

# linux/sched.h
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
)
# linux/mount.h
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_STRICTATIME = 1 << 24
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
SYS_MOUNT_SETATTR = 442  # the same number on every architecture (new syscalls are unified)
# linux/prctl.h, linux/capability.h, linux/securebits.h
PR_SET_PDEATHSIG = 1
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
CAPABILITY_VERSION_3 = 0x20080522
# NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE, each set and locked; KEEP_CAPS locked off.
SECUREBITS_LOCKED_DOWN = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80
SECCOMP_MODE_FILTER = 2
# linux/seccomp.h, linux/filter.h
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
EPERM, EACCES, EINVAL, ENOSPC, ENOSYS = 1, 13, 22, 28, 38
AF_UNIX = 1

# Per architecture: the audit arch, the syscalls the filter looks at, and those it refuses.
# Refused: namespaces and mounts (the kernel surface a container escape starts from; in the
# userns mode also what a program that kept CAP_SYS_ADMIN in its namespace would unmount the
# hiding tmpfs with), tracing, keyrings, BPF, perf, userfaultfd, io_uring (it can open sockets
# behind the filter's back). io_uring_setup/enter/register, open_tree, move_mount, fsopen,
# fsconfig, fsmount, fspick, mount_setattr, open_tree_attr: numbered alike on every
# architecture (a number the kernel does not know just fails ENOSYS either way).
_UNIFIED = [425, 426, 427, 428, 429, 430, 431, 432, 433, 442, 467]
_ARCHES: dict[str, dict[str, Any]] = {
    "x86_64": {
        "audit": 0xC000003E,
        "x32": True,
        "socket": 41,
        "clone": 56,
        "clone3": 435,
        # unshare setns mount umount2 pivot_root ptrace add_key request_key keyctl bpf
        # perf_event_open userfaultfd
        "denied": [272, 308, 165, 166, 155, 101, 248, 249, 250, 321, 298, 323, *_UNIFIED],
    },
    "aarch64": {
        "audit": 0xC00000B7,
        "x32": False,
        "socket": 198,
        "clone": 220,
        "clone3": 435,
        "denied": [97, 268, 40, 39, 41, 117, 217, 218, 219, 280, 241, 282, *_UNIFIED],
    },
}

_libc = ctypes.CDLL(None, use_errno=True)


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


class _MountAttr(ctypes.Structure):
    _fields_ = (
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    )


def _check(result: int, what: str) -> None:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _text(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


def _unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def _mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None) -> None:
    result = _libc.mount(
        _text(source), _text(target), _text(kind), ctypes.c_ulong(flags), _text(data)
    )
    _check(result, f"mount {target}")


def _prctl(option: int, arg: int = 0, arg_pointer: int = 0) -> int:
    result = int(
        _libc.prctl(
            ctypes.c_int(option),
            ctypes.c_ulong(arg),
            ctypes.c_ulong(arg_pointer),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        )
    )
    _check(result, f"prctl {option}")
    return result


class _Quiet:
    """contextlib.suppress without importing contextlib."""

    def __init__(self, *kinds: type[BaseException]) -> None:
        self.kinds = kinds

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> bool:
        return kind is not None and issubclass(kind, self.kinds)


def _json(value: object) -> str:
    """JSON for the few shapes a report has: str, int, float, bool, None, lists and dicts."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = "".join(
            c if " " <= c < "\x7f" and c not in '"\\' else f"\\u{min(ord(c), 0xFFFD):04x}"
            for c in value
        )
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_json(str(k))}: {_json(v)}" for k, v in value.items()) + "}"
    return _json(str(value))


def _report(fd: int, **fields: Any) -> None:
    with _Quiet(OSError):  # the appliance is gone: its death signal is on the way
        os.write(fd, (_json(fields) + "\n").encode())


def _matches(name: str, pattern: str) -> bool:
    """The build outputs' patterns: a name, or "*" and a suffix."""
    return name.endswith(pattern[1:]) if pattern.startswith("*") else name == pattern


# --- uid sweep ----------------------------------------------------------------------------------


def _processes_of(uid: int) -> list[int]:
    """Live PIDs whose real, effective or saved uid is `uid`.

    Zombies are left out: they run nothing, and their parent (init, or the host's) reaps them;
    waiting here for one whose parent is the waiter would never end.
    """
    wanted = str(uid).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as handle:
                status = handle.read()
        except OSError:
            continue  # gone meanwhile
        fields = dict(line.split(b":", 1) for line in status.split(b"\n") if b":" in line)
        if fields.get(b"State", b"").strip().startswith(b"Z"):
            continue
        if wanted in fields.get(b"Uid", b"").split()[:3]:
            found.append(int(name))
    return found


def _sweep_uid(uid: int, gid: int) -> None:
    """Kill every process that runs as `uid` (escapees of a run without a PID namespace).

    kill(-1) from a process of that uid reaches exactly the processes the uid may signal: its
    own. A forked helper does it because the launcher itself must stay root. kill(-1) is
    atomic against fork (a child is either signalled or never born) but says nothing about
    what it reached, so /proc tells when they are gone. A look at /proc alone is not enough
    to skip it: a process forked after the listing was read would be missed.
    """
    if os.geteuid() != 0:
        # Only root mode has a uid per run. In the userns mode every run shares the
        # appliance's uid: kill(-1) as that uid would kill the appliance itself.
        return
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            me = os.getpid()
            for _ in range(5000):
                os.kill(-1, signal.SIGKILL)
                if not [other for other in _processes_of(uid) if other != me]:
                    os._exit(0)
                time.sleep(0.001)  # a fork in flight when the signal went out
            os._exit(1)
        except BaseException:
            os._exit(2)
    os.waitpid(pid, 0)


# --- mounts -------------------------------------------------------------------------------------


def _read_only_root() -> None:
    """Every mount read-only and nosuid (one recursive call, or mount by mount on old kernels)."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    result = _libc.syscall(
        ctypes.c_long(SYS_MOUNT_SETATTR),
        ctypes.c_int(AT_FDCWD),
        b"/",
        ctypes.c_uint(AT_RECURSIVE),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    if result == 0:
        return
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for line in lines:
        fields = line.split()
        target = fields[4].encode().decode("unicode_escape")
        options = set(fields[5].split(","))
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
        flags |= MS_NODEV if "nodev" in options else 0
        flags |= MS_NOEXEC if "noexec" in options else 0
        # In a user namespace the kernel refuses a remount that changes a locked atime mode.
        flags |= MS_NOATIME if "noatime" in options else 0
        flags |= MS_NODIRATIME if "nodiratime" in options else 0
        flags |= MS_STRICTATIME if "strictatime" in options else 0
        _mount(None, target, None, flags, None)


def _hide(path: str) -> bool:
    """An empty read-only tmpfs over a directory (the data directory, /run, other scratch)."""
    if os.path.islink(path) or not os.path.isdir(path):
        return False
    flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    _mount("tmpfs", path, "tmpfs", flags, "size=4k,nr_inodes=4,mode=0555")
    return True


def _snapshot(dir_fd: int, limit: int) -> list[tuple[str, bytes, int]]:
    """The run's files (top level, regular files only) read before the tmpfs covers them."""
    files: list[tuple[str, bytes, int]] = []
    total = 0
    for entry in os.scandir(dir_fd):
        if not entry.is_file(follow_symlinks=False):
            continue
        fd = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
        try:
            mode = os.fstat(fd).st_mode
            data = _read_all(fd, limit - total)
        finally:
            os.close(fd)
        total += len(data)
        files.append((entry.name, data, 0o700 if mode & 0o100 else 0o600))
    return files


def _read_all(fd: int, limit: int) -> bytes:
    chunks = []
    size = 0
    while chunk := os.read(fd, 1 << 20):
        size += len(chunk)
        if size > limit:
            raise OSError("the run's files exceed the scratch size")
        chunks.append(chunk)
    return b"".join(chunks)


def _write_file(name: str, data: bytes, mode: int, uid: int, gid: int, dir_fd: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open(name, flags, mode, dir_fd=dir_fd)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _keep(scratch: str, host_fd: int, patterns: list[str], cfg: dict[str, Any]) -> list[str]:
    """Copy the build outputs named by `patterns` back to the host folder (regular files only).

    Runs after every process of the run is gone, and never follows a link the program made.
    """
    kept = []
    limit = int(cfg["keep_bytes"])
    for entry in sorted(os.scandir(scratch), key=lambda e: e.name):
        if not any(_matches(entry.name, p) for p in patterns):
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            mode = os.fstat(fd).st_mode
            data = _read_all(fd, limit)
        finally:
            os.close(fd)
        limit -= len(data)
        perm = 0o700 if mode & 0o100 else 0o600
        _write_file(entry.name, data, perm, cfg["uid"], cfg["gid"], host_fd)
        kept.append(entry.name)
    return kept


# --- user namespace (the unprivileged mode) ---------------------------------------------------

# Limits of the run's own user namespace (/proc/sys/user/ is per user namespace): no namespace
# inside it (the seccomp filter refuses them too), and few inotify and fanotify objects, which
# are also counted against the appliance's uid (its own and every run's together).
_RUN_USER_LIMITS = {
    "max_user_namespaces": 0,
    "max_pid_namespaces": 0,
    "max_net_namespaces": 0,
    "max_mnt_namespaces": 0,
    "max_ipc_namespaces": 0,
    "max_uts_namespaces": 0,
    "max_cgroup_namespaces": 0,
    "max_time_namespaces": 0,
    "max_inotify_instances": 4,
    "max_inotify_watches": 1024,
    "max_fanotify_groups": 0,
    "max_fanotify_marks": 0,
}


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except (OSError, ValueError):
        return None


def _write_text(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _userns_settings(inside: bool) -> list[str]:
    """The settings of this box that forbid or cripple unprivileged user namespaces (`inside`:
    asked from the run's own namespace, whose limits the launcher set itself)."""
    found = []
    if _read_text("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        found.append("sysctl kernel.unprivileged_userns_clone=0 (set it to 1)")
    if not inside and _read_text("/proc/sys/user/max_user_namespaces") == "0":
        found.append("sysctl user.max_user_namespaces=0 (set it above 0)")
    if _read_text("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        found.append(
            "AppArmor's kernel.apparmor_restrict_unprivileged_userns=1 (give the appliance's "
            "interpreter an AppArmor profile that allows `userns,`)"
        )
    status = _read_text("/proc/self/status") or ""
    if any(line.split() == ["Seccomp:", "2"] for line in status.splitlines()):
        found.append(
            "a seccomp filter on the appliance: systemd's RestrictNamespaces= or "
            "SystemCallFilter= without unshare and mount, or Docker's default seccomp profile "
            "(run the container with --security-opt seccomp=<a profile allowing unshare, mount "
            "and mount_setattr>)"
        )
    return found


def _userns_refusal(what: str, err: int) -> str:
    """A refusal that names the setting to change (docs/coding-sandbox.md, deployment)."""
    settings = _userns_settings(inside=what != "make a user namespace")
    if err == ENOSPC and not settings:
        settings = ["user.max_user_namespaces is reached"]
    if err == EINVAL and not settings:
        settings = ["this kernel has no user namespaces (CONFIG_USER_NS)"]
    cause = "; ".join(settings) if settings else "no setting found that explains it"
    return f"the unprivileged sandbox cannot {what} ({os.strerror(err)}): {cause}"


def _enter_user_namespace(want: dict[str, bool], uid: int, gid: int) -> dict[str, bool]:
    """unshare the user namespace with all the others, then map the appliance's own uid and
    gid to themselves (the only map an unprivileged process may write: one id, no setgroups).

    The launcher then holds every capability, but only over the new namespaces."""
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    flags |= CLONE_NEWNET if want.get("net") else 0
    _unshare(flags)
    _write_text("/proc/self/setgroups", "deny")
    _write_text("/proc/self/uid_map", f"{uid} {uid} 1")
    _write_text("/proc/self/gid_map", f"{gid} {gid} 1")
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
        raise OSError("the user namespace's id map did not take")
    for name, value in _RUN_USER_LIMITS.items():
        with _Quiet(OSError):  # best effort: a read-only /proc/sys (systemd) refuses it
            _write_text(f"/proc/sys/user/{name}", str(value))
    return {"net": bool(want.get("net")), "mount": True, "pid": True, "ipc": True}


def _hides_processes(mountinfo: str) -> bool:
    """Whether the /proc on top at /proc shows each process only what it may ptrace
    (hidepid=invisible or ptraceable: systemd's ProtectProc=invisible)."""
    hidden = False
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 7 or fields[4] != "/proc" or "-" not in fields:
            continue
        tail = fields[fields.index("-") + 1 :]  # fs type, source, super options
        options = set(tail[2].split(",")) if len(tail) >= 3 and tail[0] == "proc" else set()
        hidden = bool(
            options & {"hidepid=2", "hidepid=invisible", "hidepid=4", "hidepid=ptraceable"}
        )
    return hidden


def _drop_capabilities() -> None:
    """Every capability set emptied (effective, permitted, inheritable, bounding, ambient),
    locked so that no execve (not even of a file with capabilities) brings one back."""
    _prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED_DOWN)
    cap = 0
    while True:
        try:
            _prctl(PR_CAPBSET_DROP, cap)
        except OSError as exc:
            if exc.errno != EINVAL:
                raise
            break  # past the last capability this kernel knows
        cap += 1
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    if any(getattr(d, f) for d in data for f in ("effective", "permitted", "inheritable")):
        raise OSError("a capability survived capset")
    if any(_prctl(PR_CAPBSET_READ, number) for number in range(cap)):
        raise OSError("a capability survived in the bounding set")


# --- seccomp ------------------------------------------------------------------------------------


def seccomp_supported() -> bool:
    """Whether this machine's architecture has a filter here and the kernel has seccomp."""
    if os.uname().machine not in _ARCHES:
        return False
    with open("/proc/self/status", encoding="utf-8") as handle:
        return any(line.startswith("Seccomp:") for line in handle)


def _seccomp_program(arch: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    """The BPF program: sockets other than AF_UNIX, namespace-making clones and the denied
    syscalls fail with an errno; a foreign ABI (32-bit or x32 calls) kills the process."""
    code: list[tuple[int, str | int, str | int, int]] = [
        (BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (BPF_JEQ_K, 0, "kill", arch["audit"]),
        (BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if arch["x32"]:
        code.append((BPF_JGE_K, "kill", 0, 0x40000000))
    code += [
        (BPF_JEQ_K, "socket", 0, arch["socket"]),
        (BPF_JEQ_K, "clone", 0, arch["clone"]),
        # clone3 hides its flags in memory a filter cannot read: ENOSYS makes libc use clone.
        (BPF_JEQ_K, "enosys", 0, arch["clone3"]),
    ]
    code += [(BPF_JEQ_K, "eperm", 0, number) for number in arch["denied"]]
    labels: dict[str, int] = {}
    tail: list[tuple[str | None, tuple[int, str | int, str | int, int]]] = [
        (None, (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)),
        ("socket", (BPF_LD_W_ABS, 0, 0, 16)),  # args[0], the low half: the domain
        (None, (BPF_JEQ_K, "allow", "eacces", AF_UNIX)),
        ("clone", (BPF_LD_W_ABS, 0, 0, 16)),  # args[0]: the clone flags
        (None, (BPF_JSET_K, "eperm", "allow", NAMESPACE_FLAGS)),
        ("allow", (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)),
        ("eperm", (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM)),
        ("eacces", (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EACCES)),
        ("enosys", (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS)),
        ("kill", (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS)),
    ]
    for label, instruction in tail:
        if label is not None:
            labels[label] = len(code)
        code.append(instruction)
    program = []
    for index, (op, jt, jf, k) in enumerate(code):

        def offset(target: str | int, index: int = index) -> int:
            return target if isinstance(target, int) else labels[target] - index - 1

        program.append((op, offset(jt), offset(jf), k))
    return program


def _install_seccomp() -> None:
    arch = _ARCHES[os.uname().machine]
    program = _seccomp_program(arch)
    filters = (_SockFilter * len(program))(*(_SockFilter(*row) for row in program))
    fprog = _SockFprog(len(program), filters)
    _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog))


# --- the three processes ------------------------------------------------------------------------


def _program(cfg: dict[str, Any], cwd: str, error_fd: int) -> NoReturn:
    """The forked child that becomes the candidate's program."""
    try:
        os.setsid()
        for number in (
            signal.SIGPIPE,
            signal.SIGXFSZ,
            signal.SIGXCPU,
            signal.SIGINT,
            signal.SIGTERM,
            signal.SIGALRM,
            signal.SIGHUP,
            signal.SIGQUIT,
            signal.SIGCHLD,
        ):
            signal.signal(number, signal.SIG_DFL)  # Python set SIGPIPE/SIGXFSZ to ignored
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.chdir(cwd)
        try:
            adj = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
            os.write(adj, b"1000")  # the host's OOM killer takes a run before the appliance
            os.close(adj)
        except OSError:
            pass
        os.setpriority(os.PRIO_PROCESS, 0, int(cfg["nice"]))
        for name, (soft, hard) in cfg["rlimits"].items():
            resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (soft, hard))
        uid, gid = int(cfg["uid"]), int(cfg["gid"])
        if cfg["mode"] == "userns":
            # The appliance's own uid (the only one mapped) with no capability at all: it
            # could otherwise unmount the tmpfs that hides the data directory.
            _drop_capabilities()
            if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
                raise OSError("the run does not have the mapped uid")
        else:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
                raise OSError("the uid change did not take")
            if os.getgroups():
                raise OSError("supplementary groups are still set")
        try:
            os.setuid(0)
        except (PermissionError, OSError):  # EPERM; EINVAL where 0 is not mapped (userns)
            pass
        else:
            raise OSError("root could be regained")
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        if cfg["want"]["seccomp"]:
            _install_seccomp()
        os.umask(0o077)
        argv = list(cfg["argv"])
        os.execve(argv[0], argv, dict(cfg["env"]))  # noqa: S606 - argv from the language table
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        with _Quiet(OSError):
            os.write(error_fd, message.encode()[:400])
    os._exit(127)


def _kill_everything(program: int, pid_ns: bool, cfg: dict[str, Any]) -> None:
    if pid_ns:
        with _Quiet(ProcessLookupError):  # ESRCH: nothing else is left
            os.kill(-1, signal.SIGKILL)  # as PID 1 of the run's namespace: all the others in it
        return
    with _Quiet(OSError):
        os.killpg(program, signal.SIGKILL)
    _sweep_uid(int(cfg["uid"]), int(cfg["gid"]))


def _init(cfg: dict[str, Any], cwd: str, pid_ns: bool, mount_ns: bool, status_fd: int) -> NoReturn:
    """PID 1 of the run: starts the program, enforces the wall clock, reaps, reports."""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # Python's SIGINT handler would let a program of the same uid (userns mode) end init
        # with a KeyboardInterrupt; at SIG_DFL the kernel drops it for a namespace's init.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        pid_ns = pid_ns and os.getpid() == 1
        if not mount_ns:
            pass  # a mount here would change the host's /proc: the host's stays, uids protect it
        else:
            try:
                # The run's own /proc (with a PID namespace, only the run's processes),
                # showing each uid only its own: not even init's command line (paths, limits).
                _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
            except OSError as exc:
                if cfg["mode"] != "userns" or exc.errno != EPERM:
                    raise
                # In a user namespace the kernel mounts a new proc only where the whole of
                # /proc is visible: no file or folder of it covered by a mount (systemd's
                # ProtectKernelTunables=, ProtectKernelLogs=; Docker's masked paths). The
                # /proc already there will do where it shows each process only what it may
                # ptrace (hidepid=invisible: systemd's ProtectProc=invisible): the program
                # may ptrace nothing outside its user namespace, nor init or the launcher
                # (they hold capabilities it has not), and it signals by PID namespace.
                with open("/proc/self/mountinfo", encoding="utf-8") as handle:
                    if not _hides_processes(handle.read()):
                        reason = (
                            "the unprivileged sandbox cannot mount a private /proc: parts of "
                            "/proc are covered by mounts (systemd's ProtectKernelTunables= or "
                            "ProtectKernelLogs= without ProtectProc=invisible; Docker's masked "
                            "paths: run with --security-opt systempaths=unconfined)"
                        )
                        _report(status_fd, kind="refused", reason=reason)
                        os._exit(0)
        if not pid_ns:
            _prctl(PR_SET_CHILD_SUBREAPER, 1)  # escapees re-parent to us, not to the host init
        error_r, error_w = os.pipe()
        started = time.monotonic()
        program = os.fork()
        if program == 0:
            os.close(error_r)
            _program(cfg, cwd, error_w)
        os.close(error_w)
        timed_out = False

        deadline = started + float(cfg["wall_s"])

        def on_alarm(signum: int, frame: object) -> None:
            nonlocal timed_out
            if time.monotonic() < deadline - 0.05:
                return  # not our timer: a program of init's uid (userns mode) sent it
            timed_out = True
            _kill_everything(program, pid_ns, cfg)

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, float(cfg["wall_s"]))
        setup_error = os.read(error_r, 1000).decode(errors="replace")  # EOF once exec succeeded
        os.close(error_r)
        status: int | None = None
        maxrss = 0
        while status is None:
            try:
                pid, code, usage = os.wait4(-1, 0)
            except ChildProcessError:
                break
            if pid == program:
                status, maxrss = code, usage.ru_maxrss
        wall = time.monotonic() - started
        signal.setitimer(signal.ITIMER_REAL, 0)
        _kill_everything(program, pid_ns, cfg)
        while True:
            try:
                os.wait4(-1, 0)
            except ChildProcessError:
                break  # nothing of the run is left
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        _report(
            status_fd,
            kind="result",
            exit_code=os.WEXITSTATUS(status)
            if status is not None and os.WIFEXITED(status)
            else None,
            signal=os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None,
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            maxrss_kb=max(maxrss, usage.ru_maxrss),
            timed_out=timed_out,
            setup_error=setup_error or None,
        )
        os._exit(0)
    except BaseException as exc:
        _report(status_fd, kind="error", reason=f"init: {type(exc).__name__}: {exc}")
        os._exit(1)


def _isolate(want: dict[str, bool]) -> dict[str, bool]:
    """Enter the namespaces asked for: all in one call, else each alone (a partial fallback)."""
    table = {
        "net": CLONE_NEWNET,
        "mount": CLONE_NEWNS,
        "pid": CLONE_NEWPID,
        "ipc": CLONE_NEWIPC | CLONE_NEWUTS,
    }
    asked = {name: flag for name, flag in table.items() if want.get(name)}
    try:
        _unshare(sum(asked.values()))
        return {name: name in asked for name in table}
    except OSError:
        pass
    got = {}
    for name in table:
        try:
            if name in asked:
                _unshare(asked[name])
                got[name] = True
                continue
        except OSError:
            pass
        got[name] = False
    return got


def _kernel_version() -> tuple[int, int]:
    release = os.uname().release.split("-")[0].split(".")
    try:
        return int(release[0]), int(release[1])
    except (IndexError, ValueError):
        return (0, 0)


def _refusal(mode: str, want: dict[str, bool], uid: int, gid: int) -> str | None:
    """Why this launcher must not run the program at all (None: it may try)."""
    if mode == "root":
        return None if os.geteuid() == 0 else "the sandbox needs root to drop to a run's uid"
    if mode != "userns":
        return f"unknown sandbox mode {mode!r}"
    if os.geteuid() == 0:
        # kuid 0 would own every file root owns (/etc/shadow): root mode is for root.
        return "the unprivileged mode does not run as root"
    if (uid, gid) != (os.geteuid(), os.getegid()):
        return "the unprivileged mode runs the program as the appliance's own uid and gid"
    if _kernel_version() < (5, 14):
        # Before 5.14 RLIMIT_NPROC counted every process of a uid, in every user namespace:
        # the runs and the appliance together, so a run's limit would mean nothing.
        return "the unprivileged mode needs Linux 5.14 or later (RLIMIT_NPROC per namespace)"
    missing = [name for name in ("mount", "pid", "ipc") if not want.get(name)]
    if missing:
        # The run has the appliance's uid: only the mounts keep the data directory from it,
        # only the PID namespace keeps it from signalling the appliance.
        return f"the unprivileged mode needs the {', '.join(missing)} namespace(s)"
    return None


def _mount_view(
    cfg: dict[str, Any], files: list[tuple[str, bytes, int]], uid: int, gid: int
) -> list[str]:
    """The run's view of the box: a read-only root, the hidden folders, a private scratch
    tmpfs on /tmp holding the run's files. Returns the folders it hid."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)  # nothing propagates to the host
    _read_only_root()
    hidden = [path for path in cfg["hide"] if _hide(path)]
    scratch = "/tmp"  # noqa: S108 - a fresh private tmpfs inside the run's mount namespace
    options = (
        f"size={int(cfg['scratch_bytes'])},nr_inodes={int(cfg['scratch_inodes'])},"
        f"mode=0700,uid={uid},gid={gid}"
    )
    _mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, options)
    scratch_fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
    for name, data, mode in files:
        _write_file(name, data, mode, uid, gid, scratch_fd)
    os.close(scratch_fd)
    return hidden


def launch(cfg: dict[str, Any]) -> int:
    """Run one program as `cfg` describes; the result goes to the status pipe."""
    status_fd = int(cfg["status_fd"])
    os.set_inheritable(status_fd, False)  # the program never sees the status pipe
    init = 0
    pid_ns = False

    def on_term(signum: int, frame: object) -> None:
        # The appliance stops the run (timeout, output limit) or died (parent-death signal).
        if init:
            with _Quiet(ProcessLookupError):
                os.kill(init, signal.SIGKILL)
        if not pid_ns:
            _sweep_uid(int(cfg["uid"]), int(cfg["gid"]))
        if not init:
            os._exit(1)

    signal.signal(signal.SIGTERM, on_term)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(cfg["parent"]):
        return 1  # the appliance died before the parent-death signal was armed
    mode = cfg["mode"] = str(cfg.get("mode", "root"))
    uid, gid = int(cfg["uid"]), int(cfg["gid"])
    want: dict[str, bool] = cfg["want"]
    refusal = _refusal(mode, want, uid, gid)
    if refusal:
        _report(status_fd, kind="refused", reason=refusal)
        return 0
    host_fd = os.open(cfg["workdir"], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    files = _snapshot(host_fd, int(cfg["scratch_bytes"])) if want.get("mount") else []
    if mode == "userns":
        try:
            got = _enter_user_namespace(want, uid, gid)
        except OSError as exc:
            reason = _userns_refusal("make a user namespace", exc.errno or EPERM)
            _report(status_fd, kind="refused", reason=reason)
            return 0
    else:
        got = _isolate(want)
    pid_ns = got["pid"]
    if not pid_ns:
        # Leftovers of an earlier run on this uid whose teardown was cut short. With a PID
        # namespace there are none to find: a run's processes never outlive its init.
        _sweep_uid(uid, gid)
    seccomp = bool(want.get("seccomp")) and seccomp_supported()
    cfg["want"]["seccomp"] = seccomp
    cwd = cfg["workdir"]
    hidden: list[str] = []
    if got["mount"]:
        try:
            hidden = _mount_view(cfg, files, uid, gid)
        except OSError as exc:
            if mode != "userns":
                raise
            reason = _userns_refusal("mount inside its user namespace", exc.errno or EPERM)
            _report(status_fd, kind="refused", reason=f"{reason} ({exc})")
            return 0
        cwd = "/tmp"  # noqa: S108 - the private scratch tmpfs _mount_view put there
    cfg["env"] = {**cfg["env"], "HOME": cwd, "TMPDIR": cwd}
    mechanisms = {
        "privilege_drop": mode == "root",
        "user_namespace": mode == "userns",
        "uid": uid,
        "net_namespace": got["net"],
        "mount_namespace": got["mount"],
        "read_only_root": got["mount"],
        "hidden": hidden,
        "pid_namespace": pid_ns,
        "ipc_namespace": got["ipc"],
        "seccomp": seccomp,
        "no_new_privs": True,
    }
    if not (got["net"] or seccomp):
        _report(status_fd, kind="refused", reason="no way to cut the network here", **mechanisms)
        return 0
    _report(status_fd, kind="setup", **mechanisms)
    init = os.fork()
    if init == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.close(host_fd)
        _init(cfg, cwd, pid_ns, got["mount"], status_fd)
    _, code, _ = os.wait4(init, 0)
    init = 0  # reaped: its pid may belong to someone else from now on
    kept = _keep(cwd, host_fd, list(cfg["keep"]), cfg) if cfg["keep"] and got["mount"] else []
    _report(status_fd, kind="done", kept=kept, init_status=code)
    for fd in (0, 1, 2, status_fd):
        os.close(fd)  # the appliance reads EOF now, not after the namespaces are torn down
    return 0


def main(argv: list[str]) -> int:
    """`[dir, CONFIG]` runs one program; `[dir, "reap", UID, GID]` sweeps a uid."""
    if len(argv) == 4 and argv[1] == "reap":
        _sweep_uid(int(argv[2]), int(argv[3]))
        return 0
    status_fd = -1
    try:
        cfg = marshal.loads(bytes.fromhex(argv[1]))  # noqa: S302 - written by the appliance
        status_fd = int(cfg["status_fd"])
        return launch(cfg)
    except BaseException as exc:
        # Never a traceback on stderr: that pipe carries the program's output.
        _report(status_fd, kind="error", reason=f"{type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
