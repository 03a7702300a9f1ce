"""SMS through an on-premises HTTP gateway (a real HTTP server on loopback that dedupes by
Idempotency-Key), and in-app notifications written with their 'sent' mark."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from appliance.notify.outbox import deliver_due
from appliance.scheduling import service
from appliance.store import Store
from tests.conftest import Appliance
from tests.support.scheduling_world import candidate_request, make_world

TOKEN = "gateway-token-7"


@dataclass
class Gateway:
    """What the gateway received; `fail_next` answers with that status instead."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    fail_next: list[int] = field(default_factory=list)
    unauthorised: int = 0


def make_handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                gateway.unauthorised += 1
                self.send_response(401)
                self.end_headers()
                return
            if gateway.fail_next:
                self.send_response(gateway.fail_next.pop(0))
                self.end_headers()
                return
            key = self.headers["Idempotency-Key"]
            if key not in gateway.keys:  # a repeat of a key is acknowledged, not sent again
                gateway.keys.add(key)
                gateway.received.append(json.loads(body))
            self.send_response(202)
            self.end_headers()
            self.wfile.write(b'{"status":"queued"}')

        def log_message(self, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    state = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_sms_through_the_gateway_with_retries(
    appliance: Appliance, store: Store, gateway: Gateway, tmp_path: Path
) -> None:
    settings = appliance.config.scheduling
    token_file = tmp_path / "sms-token"
    token_file.write_text(TOKEN + "\n")
    settings.sms_gateway_url = f"http://127.0.0.1:{gateway.port}/send"
    settings.sms_gateway_token_file = token_file
    settings.outbox_backoff_base_s = 0
    settings.min_notice_hours = 48
    world = make_world(store, appliance.config, emails=False)
    request, _ = candidate_request(
        world, email=None, phone="+91 98765 43210", timezone="Asia/Kolkata"
    )
    slot = service.find_slots(store, appliance.config, request, limit=1)[0]
    booking = service.candidate_book(store, appliance.config, request, slot.start)
    gateway.fail_next = [503]  # the gateway is busy once
    first = deliver_due(store, settings)
    assert first.retried == 1
    deliver_due(store, settings)
    sms = [m for m in store.outbox.all() if m.channel == "sms"]
    invitation = next(m for m in sms if m.message_key.endswith(f"{booking.uid}:0:candidate:sms"))
    assert invitation.state == "sent" and invitation.attempts == 2
    assert [r["to"] for r in gateway.received] == ["+91 98765 43210"]
    assert "(Asia/Kolkata, UTC+05:30)" in gateway.received[0]["text"]
    assert gateway.received[0]["message_id"] == invitation.message_id

    # A refusal (4xx other than 408/429) is final.
    gateway.fail_next = [400]
    service.candidate_cancel(store, appliance.config, request)
    deliver_due(store, settings)
    cancelled = next(
        m for m in store.outbox.all() if m.message_key.endswith(f"{booking.uid}:1:candidate:sms")
    )
    assert (cancelled.state, cancelled.dead_reason) == ("dead", "rejected")


def test_in_app_notifications_are_sealed_and_exactly_once(
    appliance: Appliance, store: Store
) -> None:
    appliance.config.scheduling.min_notice_hours = 48
    world = make_world(store, appliance.config, emails=False)
    request, _ = candidate_request(world, "Mei Lin")
    slot = service.find_slots(store, appliance.config, request, limit=1)[0]
    service.candidate_book(store, appliance.config, request, slot.start)
    for _ in range(3):
        deliver_due(store, appliance.config.scheduling)
    person = world.interviewers[0]
    notes = store.inapp.for_user(person)
    assert [n.content["title"].split(":")[0] for n in notes] == ["Interview booked"]
    assert store.inapp.unread_count(person) == 1
    # The stored content is sealed with the candidate's key: no clear text in the database.
    raw = store.conn.execute("SELECT content FROM notifications").fetchone()[0]
    assert "Interview booked" not in raw and raw.startswith('"fc1:')
    raw_outbox = [row[0] for row in store.conn.execute("SELECT payload FROM outbox")]
    assert all("Mei Lin" not in text and text.startswith('"fc1:') for text in raw_outbox)
    assert store.inapp.mark_read(person, notes[0].id)
    assert store.inapp.unread_count(person) == 0


def test_an_erased_candidate_is_never_messaged(appliance: Appliance, store: Store) -> None:
    """Crypto-shredding the candidate's key makes their queued messages unreadable: the sender
    dead-letters them as 'erased' and nothing leaves the box."""
    world = make_world(store, appliance.config, emails=False)
    request, _ = candidate_request(world, "Erased Person")
    candidate = store.candidates.get(store.interviews.get(request.interview_id).candidate_id)
    assert store.vault.shred(candidate.pseudonym)
    appliance.config.scheduling.smtp_host = "127.0.0.1"  # would fail loudly if it were tried
    deliver_due(store, appliance.config.scheduling)
    [message] = store.outbox.all()
    assert (message.state, message.dead_reason) == ("dead", "erased")
    assert message.payload == {"erased": True}
    assert [a.phase for a in store.outbox.attempts(message.id)] == ["failed"]
