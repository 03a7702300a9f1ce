"""The candidate's side of the room, as the page drives it: consent, then an answer uploaded in
pieces, finished and stored as a recording."""

from __future__ import annotations

from collections.abc import Iterator

from appliance.room.consent import ConsentAnswers, record_room_consents
from appliance.room.service import begin_questions, current_question, open_room, room_of
from appliance.room.takes import add_piece, finish_take, start_take
from appliance.store import Store
from tests.conftest import Appliance

PIECE = 16 << 10


def take_pieces(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The answer in PIECE-sized pieces with their sequence numbers."""
    for seq, start in enumerate(range(0, len(data), PIECE)):
        yield seq, data[start : start + PIECE]


def record_take(store: Store, appliance: Appliance, token: str, data: bytes, key: str) -> int:
    """Upload `data` as a take of the current question, finish it; returns its recording id."""
    opened = room_of(store, token)
    question = current_question(store, opened.room)
    assert question is not None
    start_take(store, opened, question.id, key, "video/webm;codecs=vp8,opus")
    pieces = list(take_pieces(data))
    for seq, piece in pieces:
        add_piece(store, appliance.spool(), opened, key, seq, piece)
    finished = finish_take(
        store,
        appliance.spool(),
        appliance.config,
        opened,
        key,
        pieces=len(pieces),
        total_bytes=len(data),
    )
    assert finished.take.recording_id is not None
    return finished.take.recording_id


def give_consent(store: Store, token: str, answers: ConsentAnswers) -> None:
    """Open the room, record the candidate's consent answers and begin the questions."""
    opened = open_room(store, token)
    record_room_consents(store, opened.room, answers, "en")
    begin_questions(store, room_of(store, token))
