"""The languages a coding round can use, and which of them this box has the toolchain for."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import cache

from appliance.coding.model import MIB

# Only the system's own directories: never a venv, pyenv shim or anything under /root.
SYSTEM_PATH = "/usr/bin:/bin:/usr/local/bin"


@dataclass(frozen=True)
class Language:
    """How to build and run one language inside the sandbox."""

    name: str
    label: str
    source_name: str
    tools: tuple[str, ...]  # looked up on SYSTEM_PATH; the first one runs the program
    run: tuple[str, ...]  # "{tool0}", "{tool1}" and "{heap_mb}" are filled in
    compile: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()  # what the compile step leaves for the runs
    # Writable memory the runtime itself needs beyond the task's limit (a JVM's code cache,
    # metaspace and thread stacks; V8's young generation), so the limit means the same to all.
    overhead_bytes: int = 16 * MIB
    # Address space on top of the writable limit: code, shared libraries and the reservations
    # a JIT makes without touching them. It caps shared mappings, which RLIMIT_DATA does not.
    address_slack_bytes: int = 512 * MIB
    processes: int = 8  # RLIMIT_NPROC counts threads too
    stack_bytes: int = 64 * MIB

    def argv(self, tools: tuple[str, ...], heap_mb: int, *, compile_step: bool) -> list[str]:
        """The command line with the tool paths and heap size filled in."""
        template = self.compile if compile_step else self.run
        values = {f"tool{index}": path for index, path in enumerate(tools)}
        return [part.format(heap_mb=heap_mb, **values) for part in template]


JVM_FLAGS = (
    "-XX:+UseSerialGC",  # one GC thread: the JVM stays within a small process limit
    "-XX:TieredStopAtLevel=1",  # C1 only: starts fast, short judge runs never reach C2
    "-XX:CICompilerCount=1",
    "-XX:-UsePerfData",  # no hsperfdata file in the scratch space
    "-XX:ReservedCodeCacheSize=32m",
    "-XX:MaxMetaspaceSize=128m",
    "-XX:CompressedClassSpaceSize=64m",
    "-Xshare:auto",
)

LANGUAGES: dict[str, Language] = {
    lang.name: lang
    for lang in (
        Language(
            name="python",
            label="Python 3",
            source_name="main.py",
            # The system interpreter, isolated (-I) and without site-packages (-S): the
            # appliance's venv and its libraries are out of reach; -B writes no .pyc.
            tools=("python3",),
            run=("{tool0}", "-I", "-S", "-B", "main.py"),
            overhead_bytes=32 * MIB,
        ),
        Language(
            name="javascript",
            label="JavaScript (Node.js)",
            source_name="main.js",
            tools=("node",),
            run=("{tool0}", "--max-old-space-size={heap_mb}", "--stack-size=8000", "main.js"),
            overhead_bytes=192 * MIB,
            address_slack_bytes=2048 * MIB,
            processes=32,
            stack_bytes=16 * MIB,  # libuv sizes its worker threads' stacks by this limit
        ),
        Language(
            name="java",
            label="Java 17",
            source_name="Main.java",
            tools=("java", "javac"),
            compile=(
                "{tool1}",
                "-J-Xmx384m",
                *(f"-J{flag}" for flag in JVM_FLAGS),
                "-encoding",
                "UTF-8",
                "-d",
                ".",
                "Main.java",
            ),
            artifacts=("*.class",),
            run=("{tool0}", "-Xmx{heap_mb}m", "-Xss16m", *JVM_FLAGS, "-cp", ".", "Main"),
            overhead_bytes=256 * MIB,
            address_slack_bytes=2048 * MIB,
            processes=48,
            stack_bytes=8 * MIB,
        ),
        Language(
            name="c",
            label="C (gcc, C17)",
            source_name="main.c",
            tools=("gcc",),
            compile=("{tool0}", "-O2", "-std=gnu17", "-pipe", "-o", "main", "main.c", "-lm"),
            artifacts=("main",),
            run=("./main",),
        ),
        Language(
            name="cpp",
            label="C++ (g++, C++17)",
            source_name="main.cpp",
            tools=("g++",),
            compile=("{tool0}", "-O2", "-std=gnu++17", "-pipe", "-o", "main", "main.cpp"),
            artifacts=("main",),
            run=("./main",),
        ),
    )
}


@cache
def toolchain(name: str) -> tuple[str, ...] | None:
    """Absolute paths of the language's tools, or None when one is missing on this box."""
    language = LANGUAGES[name]
    paths = tuple(shutil.which(tool, path=SYSTEM_PATH) for tool in language.tools)
    if any(path is None for path in paths):
        return None
    return tuple(path for path in paths if path is not None)


def available() -> list[str]:
    """The languages whose toolchain is installed here (Python is expected on every box)."""
    return [name for name in LANGUAGES if toolchain(name) is not None]
