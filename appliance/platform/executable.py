"""How the appliance starts itself again (a worker lane, the web server): the Python
interpreter with `-m appliance`, or, in the compiled build, its own binary."""

from __future__ import annotations

import os
import shutil
import sys

# A Nuitka-compiled module has `__compiled__` among its globals; the interpreter's never does.
COMPILED = "__compiled__" in globals()

# The hidden command that runs gunicorn inside the appliance's own process image, so the
# compiled build (which has no `python -m gunicorn`) serves the web UI the same way.
WEB_SERVER_COMMAND = "web-server"


def _compiled_binary() -> str:
    """The compiled build's own binary (its `sys.executable` names an interpreter beside it
    that does not exist): the kernel's link to this process's program, else argv[0]."""
    try:
        return os.readlink("/proc/self/exe")
    except OSError:
        return os.path.abspath(shutil.which(sys.argv[0]) or sys.argv[0])


def appliance_command() -> list[str]:
    """The command line prefix that runs `python -m appliance` (or the compiled binary)."""
    if COMPILED:
        return [_compiled_binary()]
    return [sys.executable, "-m", "appliance"]


def command_name() -> str:
    """How a person types the appliance's command here, for help and usage lines."""
    if COMPILED:
        return os.path.basename(_compiled_binary())
    return "python -m appliance"


def run_web_server(argv: list[str]) -> int:
    """Run gunicorn with these arguments (what `python -m gunicorn ARGS` would do)."""
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", *argv]
    run()
    return 0
