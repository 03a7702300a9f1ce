"""The WSGI entry point gunicorn loads: opens the store with the key handed over by `serve`."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path

from appliance.platform.config import load_config
from appliance.platform.errors import PassphraseError
from appliance.platform.locks import shared_lock
from appliance.security.outbound import guard_process
from appliance.store.runtime import open_store, receive_keyset
from webui.app import create_app

_config = load_config(Path(os.environ["APPLIANCE_CONFIG"]))
guard_process(_config)  # before the app imports anything that could talk to the network
# Set before gunicorn forks (the interval is the interpreter's, and forks keep it).
sys.setswitchinterval(_config.web.switch_interval_ms / 1000)
_keyset = receive_keyset()
if _keyset is None:
    raise PassphraseError("the web UI must be started by `python -m appliance serve`")
_locks = ExitStack()
_locks.enter_context(shared_lock(_config.paths.lock))
app = create_app(_config, open_store(_config, _keyset))
