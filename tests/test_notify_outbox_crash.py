"""A sender killed (SIGKILL) at the worst moments never makes a message arrive twice.

The sender runs in a child process with the real store and a real relay (aiosmtpd, STARTTLS,
AUTH). The child is killed either right after the relay accepted the message (before "sent"
is committed) or before the hand-over; the test process then plays the next sender.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.notify.outbox import deliver_due, requeue_dead
from appliance.scheduling import service
from appliance.store import Store
from tests.conftest import REPO, Appliance, make_appliance
from tests.support.scheduling_world import candidate_request, make_world
from tests.support.smtp_relay import RELAY_USER, Relay, start_relay

CHILD = textwrap.dedent(
    """
    import os, signal, smtplib, sys
    from pathlib import Path
    from appliance.platform.config import load_config
    from appliance.store.keyring import unlock
    from appliance.notify.outbox import deliver_due
    from appliance.store.runtime import open_store
    from appliance.security.sealing import PassphraseSealer

    config = load_config(Path(sys.argv[1]))
    where = sys.argv[2]
    store = open_store(config, unlock(config.paths, PassphraseSealer(
        os.environ["APPLIANCE_PASSPHRASE"], log2_n=14)))
    original = getattr(smtplib.SMTP, where)

    def then_die(self, *args, **kwargs):
        if where == "data":
            answer = original(self, *args, **kwargs)  # the relay has accepted the message
            os.kill(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)  # before anything was handed over

    setattr(smtplib.SMTP, where, then_die)
    deliver_due(store, config.scheduling)
    print("not killed")
    """
)


@pytest.fixture
def relayed(tmp_path: Path) -> Iterator[tuple[Appliance, Store, Relay]]:
    controller, relay = start_relay(tmp_path)
    appliance = make_appliance(
        tmp_path / "box",
        scheduling={
            "smtp_host": "127.0.0.1",
            "smtp_port": relay.port,
            "smtp_starttls": True,
            "smtp_ca_file": str(relay.ca_file),
            "smtp_username": RELAY_USER,
            "smtp_password_file": str(relay.password_file),
            "min_notice_hours": 48,
        },
    )
    store = appliance.open_store()
    try:
        yield appliance, store, relay
    finally:
        store.close()
        controller.stop()


def kill_child_during(appliance: Appliance, where: str) -> subprocess.CompletedProcess[str]:
    """Run one sender in a child process that SIGKILLs itself inside smtplib's `where`."""
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(appliance.config_path), where],
        env=appliance.env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_killed_after_the_relay_accepted_is_never_sent_again(relayed) -> None:  # type: ignore[no-untyped-def]
    appliance, store, relay = relayed
    world = make_world(store, appliance.config, emails=False)
    candidate_request(world)  # one message: the link to choose a time
    [message] = store.outbox.all()

    child = kill_child_during(appliance, "data")
    assert child.returncode == -9, child.stdout + child.stderr
    assert len(relay.inbox.messages) == 1  # delivered ...
    stuck = store.outbox.get(message.id)
    assert stuck.state == "sending"  # ... but never marked sent
    assert [a.phase for a in store.outbox.attempts(message.id)] == ["handing_over"]

    # The next sender finds the dead claimant's message in doubt and does not resend it.
    report = deliver_due(store, appliance.config.scheduling)
    assert (report.recovered, report.sent) == (1, 0)
    settled = store.outbox.get(message.id)
    assert (settled.state, settled.dead_reason) == ("dead", "in_doubt")
    for _ in range(3):
        deliver_due(store, appliance.config.scheduling)
    assert len(relay.inbox.messages) == 1
    assert relay.inbox.messages[0]["Message-ID"] == message.message_id

    # Only a person can decide to send it again, and it keeps its Message-ID.
    requeue_dead(store, world.hr, message.id)
    deliver_due(store, appliance.config.scheduling)
    assert len(relay.inbox.messages) == 2
    assert relay.inbox.messages[1]["Message-ID"] == message.message_id
    assert store.outbox.get(message.id).state == "sent"


def test_killed_before_the_hand_over_is_retried_and_arrives_once(relayed) -> None:  # type: ignore[no-untyped-def]
    appliance, store, relay = relayed
    world = make_world(store, appliance.config, emails=False)
    request, _ = candidate_request(world)
    slot = service.find_slots(store, appliance.config, request, limit=1)[0]
    service.candidate_book(store, appliance.config, request, slot.start)
    due = [
        m
        for m in store.outbox.all()
        if m.state == "pending" and m.purpose != "reminder" and m.channel == "email"
    ]
    assert len(due) == 2  # the link mail and the invitation

    child = kill_child_during(appliance, "rcpt")
    assert child.returncode == -9, child.stdout + child.stderr
    assert relay.inbox.messages == []
    claimed = [m for m in store.outbox.all() if m.state == "sending"]
    assert len(claimed) == 1
    assert [a.phase for a in store.outbox.attempts(claimed[0].id)] == ["claimed"]

    report = deliver_due(store, appliance.config.scheduling)
    assert report.recovered == 1
    deliver_due(store, appliance.config.scheduling)  # the recovered one is due again now
    ids = sorted(str(m["Message-ID"]) for m in relay.inbox.messages)
    assert ids == sorted(m.message_id for m in due)  # each exactly once
    assert all(store.outbox.get(m.id).state == "sent" for m in due)
