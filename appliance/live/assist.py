"""Live assist: an interviewer streams a call's audio, the appliance transcribes as it arrives.

The web layer only stores the audio pieces (sealed, in order) and reads the running view; the
transcription runs in the worker as a `live_assist` job (never in a web request thread): it
cuts the stream into utterances at pauses and transcribes each on a short window (Whisper),
or feeds a streaming recognizer where the language's backend streams (vosk). After every
utterance the view is rewritten: the running transcript, which competencies the talk has
covered so far, and alerts with probes from the scoring's live rules. When the interviewer
ends the session the audio becomes a recording of the interview (encrypted into the spool)
and is analysed afterwards like any other, where consent and policy allow.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from appliance.live.segmenter import UtteranceCutter
from appliance.media.recordings import check_queue_room
from appliance.media.spool import Spool
from appliance.platform.clock import now_stamp
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import ApplianceError, MediaRejectedError, NotFoundError
from appliance.room.service import ANALYSE, analysis_refusal
from appliance.security.permissions import Action, Principal, require
from appliance.store import Store
from appliance.store.competency import ModelSpec
from appliance.store.live import LiveSession
from inference.interfaces import Segment, SpeechBackend, SpeechStream, Word

logger = logging.getLogger(__name__)

LIVE_KIND = "live_assist"
SAMPLE_RATE = 16000
MAX_PIECE_BYTES = 1 << 20
POLL_S = 0.05
IDLE_END_S = 15 * 60.0  # a session nobody feeds for this long is ended and saved
PARTIAL_EVERY_S = 2.0
MAX_PARTIAL_COST = 0.25  # no partial guesses once transcribing takes a quarter of real time
PUBLISH_EVERY_S = 2.0  # the view is rewritten on news, else at most this often
# Live transcription favours speed: one beam, our own pause detection, no word alignment.
LIVE_OPTIONS: dict[str, dict[str, Any]] = {
    "whisper": {"beam_size": 1, "vad_filter": False, "word_timestamps": False},
}
_backends: dict[tuple[str, str], SpeechBackend] = {}
_backends_lock = threading.Lock()


class LiveAssistError(ApplianceError):
    """The live session cannot do that (ended, not yours, refused by policy)."""

    exit_code = 29


class LivePieceOrderError(MediaRejectedError):
    """An audio piece arrived out of order."""

    def __init__(self, expected: int) -> None:
        super().__init__(f"the audio continues with piece {expected}")
        self.expected = expected


# --- sessions (web side: cheap, no inference) ------------------------------------------------


def _own_session(store: Store, principal: Principal, live_id: int) -> LiveSession:
    visibility = require(principal, Action.LIVE_ASSIST)
    session = store.live.get(live_id)
    store.interviews.get_visible(session.interview_id, visibility)
    if session.user_id != principal.user_id:
        raise NotFoundError(f"no live session {live_id}")
    return session


def start_live(
    store: Store,
    config: ApplianceConfig,
    principal: Principal,
    *,
    interview_id: int,
    language: str,
    sample_rate: int = SAMPLE_RATE,
) -> LiveSession:
    """Open a live session for an interview the person may assist; its worker job is queued."""
    visibility = require(principal, Action.LIVE_ASSIST)
    interview = store.interviews.get_visible(interview_id, visibility)
    actor = principal.actor
    refusal = analysis_refusal(store, interview.id, actor=actor)
    if refusal is not None:
        raise LiveAssistError(f"live assist is AI processing and cannot start: {refusal}")
    if sample_rate != SAMPLE_RATE:
        raise LiveAssistError(f"send 16-bit mono PCM at {SAMPLE_RATE} Hz")
    code = (language or interview.language or "en").split("-", 1)[0].split("_", 1)[0].lower()
    check_queue_room(store, config)
    candidate = store.candidates.get(interview.candidate_id)
    with store.audited(
        actor, "live_assist.started", subject=candidate.pseudonym, interview=interview.id
    ) as entry:
        live_id = store.live.create(interview.id, principal.user_id, code, sample_rate)
        job = store.jobs.enqueue(
            LIVE_KIND,
            subject_type="live_session",
            subject_id=live_id,
            payload={"live_id": live_id},
            max_open=config.worker.max_queued_jobs,
            max_attempts=config.worker.max_attempts,
            priority=5,  # a person is waiting for the first words
        )
        store.live.update(live_id, job_id=job.id)
        entry.details.update(live=live_id, job=job.id)
    return store.live.get(live_id)


def add_audio(
    store: Store, principal: Principal, live_id: int, seq: int, pcm: bytes
) -> LiveSession:
    """Keep audio piece `seq` (16-bit mono PCM); a repeat of an acknowledged piece is a no-op."""
    session = _own_session(store, principal, live_id)
    if session.state != "open":
        if seq < session.next_seq:
            return session
        raise LiveAssistError("this live session has ended")
    if not pcm or len(pcm) % 2:
        raise MediaRejectedError("audio pieces are 16-bit samples (an even, non-zero length)")
    if len(pcm) > MAX_PIECE_BYTES:
        raise MediaRejectedError(f"an audio piece is at most {MAX_PIECE_BYTES} bytes")
    key = store.vault.key_for(store.live.pseudonym(live_id))
    with store.transaction():
        fresh = store.live.get(live_id)
        if seq < fresh.next_seq:
            return fresh
        if seq > fresh.next_seq:
            raise LivePieceOrderError(fresh.next_seq)
        store.live.add_chunk(live_id, seq, pcm, key)
    return store.live.get(live_id)


def end_live(store: Store, principal: Principal, live_id: int) -> LiveSession:
    """The interview is over: the worker saves the recording once every piece is transcribed."""
    session = _own_session(store, principal, live_id)
    if session.state == "open":
        with store.transaction():
            store.live.update(live_id, state="ending")
    return store.live.get(live_id)


def live_view(store: Store, principal: Principal, live_id: int) -> dict[str, Any]:
    """What the interviewer's page shows: transcript, coverage, alerts, state."""
    session = _own_session(store, principal, live_id)
    return {
        "id": session.id,
        "state": session.state,
        "received_seq": session.next_seq,
        "processed_seq": session.processed_seq,
        "recording_id": session.recording_id,
        "error": session.error,
        **{
            "segments": [],
            "partial": "",
            "coverage": [],
            "alerts": [],
            "position_s": 0.0,
            **session.view,
        },
    }


# --- transcription (worker side) ---------------------------------------------------------------


def live_speech_backend(config: ApplianceConfig, language: str) -> SpeechBackend:
    """The speech backend for live assist: tuned for latency, built once per process.

    `inference.live_speech` may name a smaller pack for a language; when that pack is not
    installed, the language's regular pack (`inference.speech`) serves instead.
    """
    from appliance.engines.runtime import load_pack, speech_choice
    from inference.packs import PackNotFoundError
    from inference.registry import speech_backend_class

    choices = [speech_choice(config, language)]
    spec = config.inference.live_speech.get(language, "")
    if ":" in spec:
        backend_key, _, pack_name = spec.partition(":")
        choices.insert(0, (backend_key, pack_name))
    with _backends_lock:
        for backend_key, pack_name in choices:
            found = _backends.get((backend_key, pack_name))
            if found is not None:
                return found
            try:
                pack = load_pack(config, pack_name, allowed_uses={"speech"})
            except PackNotFoundError:
                if (backend_key, pack_name) == choices[-1]:
                    raise
                logger.info("live pack %s is not installed; using the regular one", pack_name)
                continue
            backend = speech_backend_class(backend_key)(
                pack,
                cpu_threads=config.inference.cpu_threads,
                **LIVE_OPTIONS.get(backend_key, {}),
            )
            _backends[(backend_key, pack_name)] = backend
            return backend
    raise LiveAssistError(f"no speech model for live assist in {language!r}")


def _spread_words(segment: Segment) -> tuple[Word, ...]:
    """Words with times spread over the segment when the engine gave none (alerts need words)."""
    if segment.words:
        return segment.words
    tokens = segment.text.split() if " " in segment.text.strip() else list(segment.text.strip())
    if not tokens:
        return ()
    step = (segment.end - segment.start) / len(tokens)
    return tuple(
        Word(t, round(segment.start + i * step, 3), round(segment.start + (i + 1) * step, 3))
        for i, t in enumerate(tokens)
    )


@dataclass
class LiveTranscriber:
    """Turns a stream of PCM into finished segments (and a partial guess) with stream times."""

    backend: SpeechBackend
    language: str
    start_s: float = 0.0
    cutter: UtteranceCutter = field(init=False)
    stream: SpeechStream | None = field(init=False, default=None)
    partial: str = ""
    _partial_at: float = 0.0
    _fed_s: float = 0.0
    # Seconds of computing per second of audio in the last transcription: partial guesses are
    # made only while there is time to spare, so finished sentences are never delayed by them.
    _cost: float = 0.0
    last_took_s: float = 0.0  # seconds the last transcription took (shown for diagnosis)

    @property
    def position_s(self) -> float:
        """Seconds of the stream consumed so far."""
        return self._fed_s

    def __post_init__(self) -> None:
        self.cutter = UtteranceCutter(SAMPLE_RATE, start_s=self.start_s)
        self._fed_s = self.start_s
        if self.backend.supports_streaming:
            self.stream = self.backend.stream(sample_rate=SAMPLE_RATE, language=self.language)

    def _windowed(self, utterance_pcm: bytes, offset: float) -> list[Segment]:
        began = time.monotonic()
        transcript = self.backend.transcribe(
            [utterance_pcm], sample_rate=SAMPLE_RATE, language=self.language
        )
        audio_s = max(0.5, len(utterance_pcm) / 2 / SAMPLE_RATE)
        self.last_took_s = time.monotonic() - began
        self._cost = self.last_took_s / audio_s
        return [
            Segment(
                s.text.strip(),
                round(s.start + offset, 3),
                round(s.end + offset, 3),
                tuple(
                    Word(w.text, round(w.start + offset, 3), round(w.end + offset, 3), w.confidence)
                    for w in s.words
                ),
            )
            for s in transcript.segments
            if s.text.strip()
        ]

    def feed(self, pcm: bytes, *, want_partial: bool) -> list[Segment]:
        """Add PCM; return the segments finished by it."""
        self._fed_s += len(pcm) / 2 / SAMPLE_RATE
        if self.stream is not None:
            update = self.stream.feed(pcm)
            self.partial = update.partial
            return [
                Segment(
                    s.text,
                    round(s.start + self.start_s, 3),
                    round(s.end + self.start_s, 3),
                    tuple(
                        Word(
                            w.text,
                            round(w.start + self.start_s, 3),
                            round(w.end + self.start_s, 3),
                            w.confidence,
                        )
                        for w in s.words
                    ),
                )
                for s in update.final
            ]
        finished: list[Segment] = []
        for utterance in self.cutter.feed(pcm):
            finished.extend(self._windowed(utterance.pcm, utterance.start_s))
            self.partial = ""
        if finished:
            return finished
        current = self.cutter.in_progress()
        if (
            want_partial
            and self._cost < MAX_PARTIAL_COST
            and current is not None
            and current.end_s - current.start_s >= PARTIAL_EVERY_S
            and self._fed_s - self._partial_at >= PARTIAL_EVERY_S
        ):
            self._partial_at = self._fed_s
            self.partial = " ".join(s.text for s in self._windowed(current.pcm, current.start_s))
        return finished

    def flush(self) -> list[Segment]:
        """The stream ended: whatever remains."""
        self.partial = ""
        if self.stream is not None:
            final = self.stream.finish()
            return [s for s in final.segments if s.end > self.start_s - 0.01][-1:]
        finished: list[Segment] = []
        for utterance in self.cutter.flush():
            finished.extend(self._windowed(utterance.pcm, utterance.start_s))
        return finished


_WORD = re.compile(r"[\w']+", re.UNICODE)


def coverage(model: ModelSpec | None, text: str, language: str) -> list[dict[str, Any]]:
    """Which competencies the conversation has touched: their keywords heard so far."""
    if model is None:
        return []
    lowered = text.lower()
    tokens = set(_WORD.findall(lowered))
    found = []
    for dim in model.dimensions:
        phrases = dim.keywords_in(language) or dim.keywords_in("en")
        hits = sorted(
            {
                p
                for p in phrases
                if (p.lower() in lowered if " " in p or language == "zh" else p.lower() in tokens)
            }
        )
        found.append(
            {
                "key": dim.key,
                "name": dim.label(language),
                "covered": bool(hits),
                "evidence": hits[:5],
            }
        )
    return found


def alerts_for(model: ModelSpec | None, words: list[Word], language: str) -> list[dict[str, Any]]:
    """Flags with suggested probes from the scoring's live rules (none without a model)."""
    if model is None or not words:
        return []
    try:
        from appliance.scoring import live_alerts

        return list(live_alerts(model, words, language))
    except Exception as exc:  # advice may fail; the transcript must go on
        logger.warning("live alerts unavailable: %s", type(exc).__name__)
        return []


def _model_of(store: Store, interview_id: int) -> ModelSpec | None:
    interview = store.interviews.get(interview_id)
    requisition = store.requisitions.get(interview.requisition_id)
    if requisition.competency_model_id is None:
        return None
    return store.competency.spec(requisition.competency_model_id)


def _wav(pcm_pieces: list[bytes]) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        for piece in pcm_pieces:
            handle.writeframes(piece)
    return out.getvalue()


def _save_recording(store: Store, config: ApplianceConfig, session: LiveSession) -> dict[str, Any]:
    """The whole call as a WAV recording of the interview; its analysis queued where allowed."""
    pseudonym = store.live.pseudonym(session.id)
    key = store.vault.key_for(pseudonym)
    pieces = [c.pcm for c in store.live.chunks_from(session.id, 0, key)]
    result: dict[str, Any] = {"recording_id": None, "job_id": None}
    if not pieces:
        with store.transaction():
            store.live.update(session.id, state="ended", ended_at=now_stamp())
        return result
    spool = Spool(config.paths.spool, chunk_size=config.media.spool_chunk_bytes)
    spooled = spool.write_stream(
        io.BytesIO(_wav(pieces)), key, max_bytes=config.media.max_upload_bytes
    )
    interview = store.interviews.get(session.interview_id)
    refusal = analysis_refusal(store, interview.id, actor=f"user:{session.user_id}")
    try:
        with store.audited(
            f"user:{session.user_id}", "live_assist.saved", subject=pseudonym, live=session.id
        ) as entry:
            recording = store.recordings.create(
                interview.id,
                interview.candidate_id,
                spooled.name,
                f"live-{session.id}.wav",
                "audio/wav",
                spooled.size_bytes,
                spooled.sha256,
                spooled.wrapped_data_key,
            )
            job_id = None
            if refusal is None:
                job_id = store.jobs.enqueue(
                    ANALYSE,
                    subject_type="recording",
                    subject_id=recording.id,
                    max_open=config.worker.max_queued_jobs,
                    max_attempts=config.worker.max_attempts,
                ).id
            store.live.drop_chunks(session.id)
            store.live.update(
                session.id, state="ended", ended_at=now_stamp(), recording_id=recording.id
            )
            store.interviews.set_status(interview.id, "recorded")
            store.hr_notifications.add(
                session.user_id,
                "live.saved",
                interview.id,
                {"recording": recording.id, "job": job_id},
            )
            entry.details.update(recording=recording.id, job=job_id, bytes=spooled.size_bytes)
    except BaseException:
        spool.remove(spooled.name)
        raise
    result.update(recording_id=recording.id, job_id=job_id)
    return result


def live_assist_task(
    store: Store,
    config: ApplianceConfig,
    payload: dict[str, Any],
    report_progress: Callable[[float, str], None],
) -> dict[str, Any]:
    """Worker task: follow one live session until it ends, then save it as a recording."""
    live_id = int(payload["live_id"])
    session = store.live.get(live_id)
    if session.state == "ended":
        return {"recording_id": session.recording_id}
    key = store.vault.key_for(store.live.pseudonym(live_id))
    model = _model_of(store, session.interview_id)
    view: dict[str, Any] = {
        "segments": [],
        "partial": "",
        "coverage": [],
        "alerts": [],
        "position_s": 0.0,
        **session.view,
    }
    transcriber = LiveTranscriber(
        live_speech_backend(config, session.language),
        session.language,
        start_s=float(view["position_s"]),
    )
    processed = session.processed_seq
    words: list[Word] = [
        w for s in view["segments"] for w in _spread_words(Segment(s["text"], s["start"], s["end"]))
    ]
    last_audio = last_publish = time.monotonic()
    while True:
        report_progress(0.5, "live")  # heartbeat; raises if the job was taken back
        chunks = store.live.chunks_from(live_id, processed, key)
        if chunks:
            last_audio = time.monotonic()
            finished: list[Segment] = []
            partial = transcriber.partial
            for index, chunk in enumerate(chunks):
                # Partials only when the backlog is gone: finished text comes first.
                finished.extend(transcriber.feed(chunk.pcm, want_partial=index == len(chunks) - 1))
            processed = chunks[-1].seq + 1
            if (
                finished
                or partial != transcriber.partial
                or (time.monotonic() - last_publish > PUBLISH_EVERY_S)
            ):
                _publish(
                    store,
                    live_id,
                    view,
                    transcriber,
                    finished,
                    words,
                    model,
                    session.language,
                    processed,
                )
                last_publish = time.monotonic()
            continue
        state = store.live.get(live_id).state
        if state == "ending" or time.monotonic() - last_audio > IDLE_END_S:
            if state == "open":
                with store.transaction():
                    store.live.update(live_id, state="ending")
            _publish(
                store,
                live_id,
                view,
                transcriber,
                transcriber.flush(),
                words,
                model,
                session.language,
                processed,
            )
            return _save_recording(store, config, store.live.get(live_id))
        time.sleep(POLL_S)


def _publish(
    store: Store,
    live_id: int,
    view: dict[str, Any],
    transcriber: LiveTranscriber,
    finished: list[Segment],
    words: list[Word],
    model: ModelSpec | None,
    language: str,
    processed: int,
) -> None:
    shown = time.time()
    for segment in finished:
        view["segments"].append(
            {
                "text": segment.text,
                "start": segment.start,
                "end": segment.end,
                "shown_at": shown,
                "took_s": round(transcriber.last_took_s, 3),
            }
        )
        words.extend(_spread_words(segment))
    view["partial"] = transcriber.partial
    view["position_s"] = round(transcriber.position_s, 3)
    if finished:
        text = " ".join(s["text"] for s in view["segments"])
        view["coverage"] = coverage(model, text, language)
        view["alerts"] = alerts_for(model, words, language)
    with store.transaction():
        store.live.set_view(live_id, view, processed)
