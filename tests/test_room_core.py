"""The interview room's core over the real encrypted store: plan, consents, takes, gates."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.compliance.analysis_settings import set_region_analysis
from appliance.compliance.policy import PolicyAction, decide_for_interview
from appliance.hiring.links import InvalidLinkError
from appliance.platform.errors import MediaRejectedError, NotFoundError
from appliance.room.consent import ConsentAnswers
from appliance.room.service import (
    AnalysisRefusedError,
    RoomClosedError,
    RoomError,
    close_room,
    current_question,
    open_room,
    room_of,
    start_analysis,
)
from appliance.room.takes import (
    PieceOrderError,
    add_piece,
    discard_take,
    finish_take,
    keep_take,
    start_take,
)
from appliance.store import Store
from appliance.store.compliance import compliance_of
from tests.conftest import Appliance
from tests.support.room_fixtures import QUESTIONS, room_setup
from tests.support.room_media import answer_webm, librivox_clips
from tests.support.room_takes import PIECE, give_consent, record_take, take_pieces


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """Three real webm answers (face video, LibriVox speech)."""
    folder = tmp_path_factory.mktemp("answers")
    clips = list(librivox_clips())[:3]
    return [answer_webm(folder / f"a{i}.webm", wav).read_bytes() for i, wav in enumerate(clips)]


def test_three_answers_are_stored_encrypted_and_closing_queues_and_notifies(
    appliance: Appliance, store: Store, answers: list[bytes]
) -> None:
    setup = room_setup(store)
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    recordings = []
    for index, data in enumerate(answers):
        key = f"take-key-{index}-abcdefgh"
        recording_id = record_take(store, appliance, setup.token, data, key)
        keep_take(store, room_of(store, setup.token), key)
        recordings.append(recording_id)

    spool = appliance.spool()
    for recording_id, data in zip(recordings, answers, strict=True):
        recording = store.recordings.get(recording_id)
        assert recording.size_bytes == len(data)
        raw = spool.path_of(recording.spool_name).read_bytes()
        assert data[200:264] not in raw  # ciphertext on disk, not the webm
        data_key = store.vault.key_for(store.candidates.get(setup.candidate_id).pseudonym)
        with spool.open(recording.spool_name, recording.wrapped_data_key, data_key) as reader:
            assert reader.read() == data
        answer = store.interview_answers.for_recording(recording_id)
        assert answer is not None
        assert answer.question_text in QUESTIONS.values()
        assert answer.dimension_key in QUESTIONS
        assert answer.question_id is not None
    assert [a.position for a in store.interview_answers.for_interview(setup.interview_id)] == [
        0,
        1,
        2,
    ]
    # No piece stays behind once a take is assembled.
    assert store.conn.execute("SELECT count(*) FROM room_chunks").fetchone()[0] == 0

    closing = close_room(store, appliance.config, room_of(store, setup.token))
    assert len(closing.jobs) == 3 and closing.analysis_refused is None
    assert {store.jobs.get(j).subject_id for j in closing.jobs} == set(recordings)
    notes = store.hr_notifications.for_user(setup.hr_id)
    assert notes[0].kind == "room.completed" and notes[0].details["answers"] == 3
    # The link is spent: the room cannot be opened again.
    with pytest.raises(RoomClosedError):
        open_room(store, setup.token)
    with pytest.raises(RoomClosedError):
        room_of(store, setup.token)


def test_pieces_are_acknowledged_once_and_gaps_refused(
    appliance: Appliance, store: Store, answers: list[bytes]
) -> None:
    setup = room_setup(store)
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    opened = room_of(store, setup.token)
    question = current_question(store, opened.room)
    assert question is not None
    key = "piece-order-key-12345"
    start_take(store, opened, question.id, key, "video/webm")
    pieces = list(take_pieces(answers[0]))
    add_piece(store, appliance.spool(), opened, key, 0, pieces[0][1])
    # A retry of an acknowledged piece:
    again = add_piece(store, appliance.spool(), opened, key, 0, pieces[0][1])
    assert again.next_seq == 1 and again.received_bytes == len(pieces[0][1])
    with pytest.raises(PieceOrderError) as gap:
        add_piece(store, appliance.spool(), opened, key, 2, pieces[2][1])
    assert gap.value.expected == 1
    for seq, piece in pieces[1:]:
        add_piece(store, appliance.spool(), opened, key, seq, piece)
    with pytest.raises(PieceOrderError):  # the browser claims more than arrived
        finish_take(
            store,
            appliance.spool(),
            appliance.config,
            opened,
            key,
            pieces=len(pieces) + 1,
            total_bytes=len(answers[0]) + 10,
        )
    done = finish_take(
        store,
        appliance.spool(),
        appliance.config,
        opened,
        key,
        pieces=len(pieces),
        total_bytes=len(answers[0]),
    )
    assert store.recordings.get(done.take.recording_id or 0).size_bytes == len(answers[0])


def test_garbage_is_refused_and_loses_nothing(appliance: Appliance, store: Store) -> None:
    setup = room_setup(store)
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    opened = room_of(store, setup.token)
    question = current_question(store, opened.room)
    assert question is not None
    with pytest.raises(MediaRejectedError):
        start_take(store, opened, question.id, "bad-type-key-123456", "text/html")
    start_take(store, opened, question.id, "garbage-key-12345678", "video/webm")
    with pytest.raises(MediaRejectedError):
        add_piece(
            store, appliance.spool(), opened, "garbage-key-12345678", 0, b"<html>not a video</html>"
        )
    assert store.room.take_by_key("garbage-key-12345678").next_seq == 0  # type: ignore[union-attr]


def test_retakes_are_limited_and_a_discarded_take_leaves_nothing(
    appliance: Appliance, store: Store, answers: list[bytes]
) -> None:
    setup = room_setup(store, settings={"retakes": 1})
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    first = record_take(store, appliance, setup.token, answers[0], "retake-first-1234567")
    spool_name = store.recordings.get(first).spool_name
    with pytest.raises(RoomError):  # one take at a time
        start_take(
            store,
            room_of(store, setup.token),
            current_question(store, room_of(store, setup.token).room).id,  # type: ignore[union-attr]
            "retake-other-1234567",
            "video/webm",
        )
    discard_take(store, appliance.spool(), room_of(store, setup.token), "retake-first-1234567")
    with pytest.raises(NotFoundError):
        store.recordings.get(first)
    assert not appliance.spool().path_of(spool_name).exists()
    record_take(store, appliance, setup.token, answers[1], "retake-second-123456")
    discard_take(store, appliance.spool(), room_of(store, setup.token), "retake-second-123456")
    opened = room_of(store, setup.token)
    with pytest.raises(RoomError, match="no attempts"):
        start_take(
            store,
            opened,
            current_question(store, opened.room).id,  # type: ignore[union-attr]
            "retake-third-1234567",
            "video/webm",
        )


def test_illinois_candidate_who_declines_ai_gets_no_analysis(
    appliance: Appliance, store: Store, answers: list[bytes]
) -> None:
    setup = room_setup(store, region="US-IL")
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=False))
    recordings = []
    for index, data in enumerate(answers):
        key = f"declined-{index}-abcdefghij"
        recordings.append(record_take(store, appliance, setup.token, data, key))
        keep_take(store, room_of(store, setup.token), key)
    closing = close_room(store, appliance.config, room_of(store, setup.token))
    assert closing.jobs == [] and closing.analysis_refused
    assert len(store.recordings.for_interview(setup.interview_id)) == 3  # people can review
    assert store.conn.execute("SELECT count(*) FROM jobs WHERE kind = 'analyse'").fetchone()[0] == 0
    with pytest.raises(AnalysisRefusedError, match="declined"):
        start_analysis(store, appliance.config, setup.hr, recordings[0])
    decision = decide_for_interview(store, PolicyAction.RUN_AI_SCORING, setup.interview_id)
    assert not decision.allowed  # IL-1: no consent after the notice, before the interview
    assert compliance_of(store).consents.for_interview(setup.interview_id) == []


def test_illinois_consent_is_stored_with_the_text_shown_and_allows_scoring(
    appliance: Appliance, store: Store
) -> None:
    setup = room_setup(store, region="US-IL")
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    consents = compliance_of(store).consents.for_interview(setup.interview_id)
    assert [c.kind for c in consents] == ["ai_evaluation"]
    consent = consents[0]
    assert consent.notice_version_id is not None and consent.channel == "candidate"
    assert "Example Corp, HR department" in consent.text_shown  # the notice as shown
    assert "room-consent-2026.1" in consent.text_shown  # the room's text version
    assert consent.given_at
    assert decide_for_interview(store, PolicyAction.RUN_AI_SCORING, setup.interview_id).allowed


def test_maryland_face_analysis_needs_the_signed_waiver(appliance: Appliance, store: Store) -> None:
    set_region_analysis(
        store,
        room_setup(store, region="US-MD", name="Setup").hr,
        "US-MD",
        visual_cues=True,
        affect=False,
    )
    without = room_setup(store, region="US-MD", name="No Waiver")
    give_consent(store, without.token, ConsentAnswers(ai_evaluation=True))
    decision = decide_for_interview(store, PolicyAction.RUN_VISUAL_CUES, without.interview_id)
    assert not decision.allowed and "waiver.facial_recognition.before_interview" in (
        decision.requirements
    )
    signed = room_setup(store, region="US-MD", name="Signed Waiver")
    give_consent(
        store,
        signed.token,
        ConsentAnswers(ai_evaluation=True, waiver_signed_name="Signed Waiver", waiver_read=True),
    )
    assert decide_for_interview(store, PolicyAction.RUN_VISUAL_CUES, signed.interview_id).allowed
    waiver = compliance_of(store).consents.for_interview(signed.interview_id)[-1]
    assert waiver.kind == "facial_recognition_waiver" and waiver.signed_name == "Signed Waiver"


def test_china_biometric_consent_is_separate(appliance: Appliance, store: Store) -> None:
    setup = room_setup(store, region="CN")
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True, biometric=True))
    kinds = {c.kind: c for c in compliance_of(store).consents.for_interview(setup.interview_id)}
    assert set(kinds) == {"ai_evaluation", "biometric"}
    assert "Separate consent to biometric processing" in kinds["biometric"].text_shown
    assert "Example Corp" not in kinds["biometric"].text_shown


def test_a_link_reaches_only_its_own_room(
    appliance: Appliance, store: Store, answers: list[bytes]
) -> None:
    mine = room_setup(store, name="Mine")
    other = room_setup(store, name="Other")
    for setup in (mine, other):
        give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    record_take(store, appliance, other.token, answers[0], "other-candidate-key-1")
    opened = room_of(store, mine.token)
    other_question = current_question(store, room_of(store, other.token).room)
    assert other_question is not None
    with pytest.raises(NotFoundError):
        start_take(store, opened, other_question.id, "sneaky-key-123456789", "video/webm")
    with pytest.raises(NotFoundError):
        add_piece(store, appliance.spool(), opened, "other-candidate-key-1", 0, answers[0][:100])
    with pytest.raises(NotFoundError):
        keep_take(store, opened, "other-candidate-key-1")
    with pytest.raises(NotFoundError):
        discard_take(store, appliance.spool(), opened, "other-candidate-key-1")
    with pytest.raises(InvalidLinkError):
        room_of(store, mine.token[:-2] + ("AA" if not mine.token.endswith("AA") else "BB"))


def test_a_requisition_without_questions_says_so(
    appliance: Appliance, store: Store, tmp_path: Path
) -> None:
    setup = room_setup(store)
    with store.transaction():
        store.conn.execute(
            "UPDATE requisitions SET competency_model_id = NULL WHERE id = ?",
            (setup.requisition_id,),
        )
    with pytest.raises(RoomError, match="no interview questions"):
        open_room(store, setup.token)


def test_erasing_the_candidate_removes_the_room_and_its_answers(
    appliance: Appliance, store: Store, answers: list[bytes]
) -> None:
    from appliance.privacy.erasure import erase_candidate

    setup = room_setup(store)
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    record_take(store, appliance, setup.token, answers[0], "erase-kept-take-1234")
    keep_take(store, room_of(store, setup.token), "erase-kept-take-1234")
    opened = room_of(store, setup.token)
    question = current_question(store, opened.room)
    assert question is not None
    start_take(store, opened, question.id, "erase-open-take-12345", "video/webm")
    add_piece(store, appliance.spool(), opened, "erase-open-take-12345", 0, answers[1][:PIECE])
    erase_candidate(store, appliance.spool(), setup.hr, setup.candidate_id, "candidate asked")
    for table in (
        "room_sessions",
        "room_questions",
        "room_takes",
        "room_chunks",
        "interview_answers",
    ):
        assert store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    with pytest.raises(InvalidLinkError):
        open_room(store, setup.token)


def test_an_abandoned_take_is_swept(
    appliance: Appliance, store: Store, answers: list[bytes]
) -> None:
    from appliance.room.takes import sweep_abandoned_takes

    setup = room_setup(store)
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    opened = room_of(store, setup.token)
    question = current_question(store, opened.room)
    assert question is not None
    start_take(store, opened, question.id, "abandoned-take-123456", "video/webm")
    add_piece(store, appliance.spool(), opened, "abandoned-take-123456", 0, answers[0][:PIECE])
    assert sweep_abandoned_takes(store, appliance.config, appliance.spool()) == 0  # still fresh
    with store.transaction():
        store.conn.execute("UPDATE room_takes SET updated_at = '2020-01-01T00:00:00Z'")
    assert sweep_abandoned_takes(store, appliance.config, appliance.spool()) == 1
    assert store.room.take_by_key("abandoned-take-123456").state == "discarded"  # type: ignore[union-attr]
    assert store.conn.execute("SELECT count(*) FROM room_chunks").fetchone()[0] == 0


def test_personalised_questions_from_the_resume_join_the_plan_sealed(
    appliance: Appliance, store: Store
) -> None:
    """HR's questions drafted from the resume are asked too (in the interview's language)."""
    setup = room_setup(store)
    secret = "Your resume mentions the Kestrel billing migration: what was your own part?"
    with store.transaction():
        store.personal_questions.add(
            setup.candidate_id,
            setup.requisition_id,
            text=secret,
            language="en",
            source="resume",
            dimension_key="ownership",
        )
        store.personal_questions.add(
            setup.candidate_id,
            setup.requisition_id,
            text="简历中提到的项目是什么?",
            language="zh",
            source="resume",
        )
    opened = open_room(store, setup.token)
    questions = store.room.questions(opened.room.id)
    kinds = [q.kind for q in questions]
    assert kinds.count("personal") == 1 and kinds[-1] == "personal"
    assert questions[-1].text == secret and questions[-1].dimension_key == "ownership"
    assert kinds.count("planned") == len(questions) - 1 >= 1
    # The question may carry personal data from the resume: it is sealed in the store.
    raw = store.conn.execute(
        "SELECT text FROM room_questions WHERE id = ?", (questions[-1].id,)
    ).fetchone()[0]
    assert "Kestrel" not in raw
