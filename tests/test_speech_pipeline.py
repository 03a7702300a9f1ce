"""The transcribe and delivery steps through the real worker, on encrypted recordings."""

from __future__ import annotations

import re
import subprocess
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jiwer
import pytest

from appliance.analysis.pipeline import ReportDraft, StepContext
from appliance.analysis.steps.transcribe import TranscribeStep
from appliance.engines.runtime import forget_loaded_models
from appliance.jobs.worker import Worker
from appliance.media.recordings import ingest_recording
from appliance.platform.config import ApplianceConfig
from appliance.platform.scratch import scratch_root
from appliance.store import Store
from appliance.store.queue import LostClaimError
from appliance.store.recordings import Recording
from tests.conftest import Appliance, demo_interview, make_appliance
from tests.support.media_files import H264_OR_MPEG4, write_media
from tests.support.speech_packs import LIBRIVOX, SPEECH_ZH, encode_speech, speech_pack_dir

PIPELINE = ["probe", "policy_gate", "transcribe", "delivery"]
CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"
REFERENCE = (
    "and mister john dashwood had then leisure to consider how much there might be "
    "prudently in his power to do for them"
)


@pytest.fixture(scope="module")
def pack_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = speech_pack_dir(tmp_path_factory.mktemp("speech-packs"))
    if folder is None or not CLIP.is_file():
        pytest.skip("speech packs or LibriVox clips absent")
    return folder


@pytest.fixture(autouse=True)
def _fresh_models() -> Iterator[None]:
    yield
    forget_loaded_models()


def _appliance(root: Path, packs: Path, **inference: object) -> Appliance:
    return make_appliance(
        root,
        worker={"pipeline": PIPELINE},
        inference={"pack_dirs": [str(packs)], "cpu_threads": 2, **inference},
    )


def _interview(store: Store, region: str, language: str) -> int:
    with store.transaction():
        requisition = store.requisitions.create("Engineer", "Engineering", "Town", region)
    candidate = store.candidates.create("Speech Candidate", email="speech@example.invalid")
    return store.interviews.create(candidate.id, requisition.id, language=language).id


def _analyse(appliance: Appliance, store: Store, interview_id: int, media: Path) -> dict[str, Any]:
    with open(media, "rb") as handle:
        ingest_recording(
            store,
            appliance.spool(),
            appliance.config,
            interview_id=interview_id,
            source=handle,
            filename=media.name,
            actor="test",
        )
    outcome = Worker(appliance.config, store).run_once()
    assert outcome is not None
    assert outcome.state == "succeeded", (outcome.error_code, store.jobs.get(outcome.job_id).error)
    [report] = store.reports.for_interview(interview_id)
    content: dict[str, Any] = report.content
    return content


def _words(text: str) -> str:
    text = re.sub(r"\bmr\.?(?=\s)", "mister", text.lower())
    return " ".join(re.sub(r"[^\w\s']", " ", text.replace("-", " ")).split())


@pytest.mark.slow
def test_english_recording_gets_transcript_and_delivery(pack_folder: Path, tmp_path: Path) -> None:
    appliance = _appliance(tmp_path, pack_folder)
    store = appliance.open_store()
    try:
        interview_id = _interview(store, "US-MD", "en")
        phone = encode_speech(CLIP, tmp_path / "answer.mp4", codec="aac", rate=48000)
        content = _analyse(appliance, store, interview_id, phone)
        assert content["steps_run"] == PIPELINE
        transcript = content["sections"]["transcript"]
        assert transcript["language"] == "en" and transcript["engine"] == "whisper"
        assert jiwer.wer(REFERENCE, _words(transcript["text"])) <= 0.1
        words = [w for s in transcript["segments"] for w in s["words"]]
        assert words and all(w["start"] <= w["end"] for w in words)
        delivery = content["sections"]["delivery"]
        assert delivery["units"] == len(words)
        assert 100 <= delivery["speaking_rate_per_min"] <= 250
        assert "translation" not in content["sections"]  # English for an English reader
        # The PCM lived in memory only: the job's scratch space holds nothing afterwards.
        assert not [p for p in scratch_root(appliance.data_dir).rglob("*") if p.is_file()]
    finally:
        store.close()


@pytest.mark.slow
def test_mandarin_answer_gets_no_wrong_translation_and_eu_policy_skips_delivery(
    pack_folder: Path, tmp_path: Path
) -> None:
    clip = SPEECH_ZH / "fireredasr_BAC009S0764W0121.wav"
    if not clip.is_file():
        pytest.skip("../shared/data/speech_zh is not present")
    appliance = _appliance(tmp_path, pack_folder)
    store = appliance.open_store()
    try:
        # An EU job without the AI notice: no AI evaluation, so no delivery metrics; people
        # may still review, so the transcript is made.
        interview_id = _interview(store, "EU", "zh")
        content = _analyse(appliance, store, interview_id, clip)
        assert content["steps_skipped"] == ["delivery"]
        assert "delivery" not in content["sections"]
        transcript = content["sections"]["transcript"]
        assert transcript["language"] == "zh"
        assert "甚至出现交易" in transcript["text"]  # simplified characters
        # Whisper base's English for this sentence has nothing to do with it ("It even has the
        # same temperature..."): shown to nobody, and the report says why.
        assert "translation" not in content["sections"]
        assert content["notes"]["translation"].startswith("no reliable translation on this box")
    finally:
        store.close()


def test_recording_without_audio_is_noted_not_failed(pack_folder: Path, tmp_path: Path) -> None:
    appliance = _appliance(tmp_path, pack_folder)
    store = appliance.open_store()
    try:
        interview_id = _interview(store, "US-MD", "en")
        silent_video = tmp_path / "video_only.mp4"
        write_media(silent_video, vcodec=H264_OR_MPEG4)
        content = _analyse(appliance, store, interview_id, silent_video)
        assert "no audio track" in content["notes"]["transcribe"]
        assert "transcript" not in content["sections"]
        assert "the transcribe step must run first" in content["notes"]["delivery"]
    finally:
        store.close()


def test_missing_speech_pack_fails_the_job_with_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "no-packs"
    empty.mkdir()
    appliance = _appliance(tmp_path, empty)
    store = appliance.open_store()
    try:
        interview_id = demo_interview(store, region="US-MD")
        with open(CLIP, "rb") as handle:
            ingest_recording(
                store,
                appliance.spool(),
                appliance.config,
                interview_id=interview_id,
                source=handle,
                filename="a.wav",
                actor="test",
            )
        outcome = Worker(appliance.config, store).run_once()
        assert outcome is not None and outcome.state == "failed"
        assert outcome.error_code == "speech_model_unavailable"
        assert "whisper-base" in (store.jobs.get(outcome.job_id).error or "")
    finally:
        store.close()


@pytest.mark.slow
def test_korean_interview_goes_through_vosk(pack_folder: Path, tmp_path: Path) -> None:
    raw, answer = tmp_path / "raw.wav", tmp_path / "korean.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            "ko",
            "-s",
            "120",
            "-w",
            str(raw),
            "저는 회사에서 일했습니다. 네 감사합니다",
        ],
        check=True,
    )
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(answer)], check=True)
    appliance = _appliance(tmp_path, pack_folder)
    store = appliance.open_store()
    try:
        interview_id = _interview(store, "US-MD", "ko")
        content = _analyse(appliance, store, interview_id, answer)
        transcript = content["sections"]["transcript"]
        assert (transcript["engine"], transcript["language"]) == ("vosk", "ko")
        words = [w for s in transcript["segments"] for w in s["words"]]
        assert len(words) >= 3 and all(w["start"] < w["end"] for w in words)
        # vosk gives no punctuation: it was restored from the pauses.
        assert transcript["text"].endswith(".")
        assert "cannot translate" in content["notes"]["translation"]
        assert content["sections"]["delivery"]["units"] == len(words)
    finally:
        store.close()


def _silent_answer(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(bytes(int(seconds * 16000) * 2))
    return path


def _context(
    tmp_path: Path, packs: Path, media: Path, progress: Callable[[float, str], None]
) -> StepContext:
    config = ApplianceConfig(
        data_dir=tmp_path / "data",
        inference={"pack_dirs": [packs], "speech": {"*": "whisper:whisper-tiny-en"}},
        worker={"pipeline": ["probe", "transcribe", "delivery"]},
    )
    recording = Recording(
        1, 1, 1, "x", media.name, "audio/wav", media.stat().st_size, "", b"", None, ""
    )
    return StepContext(
        1,
        recording,
        "US-MD",
        "en",
        config,
        lambda: open(media, "rb", buffering=0),
        tmp_path,
        progress,
    )


def test_transcribe_reports_progress_and_stops_when_told(pack_folder: Path, tmp_path: Path) -> None:
    media = _silent_answer(tmp_path / "long-silence.wav", 95.0)
    seen: list[tuple[float, str]] = []
    ctx = _context(tmp_path, pack_folder, media, lambda f, step: seen.append((f, step)))
    draft = TranscribeStep().run(
        ctx, ReportDraft(media_info={"duration_s": 95.0, "has_audio": True})
    )
    assert draft.sections["transcript"]["segments"] == []
    assert draft.notes["transcribe"] == "no speech was recognised in the recording"
    # Every 30 s of audio, inside the step's third of the job (it is step 2 of 3).
    assert [step for _, step in seen] == ["transcribe"] * 4
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    assert all(1 / 3 <= f <= 2 / 3 for f in fractions)

    reports: list[float] = []

    def stop(fraction: float, step: str) -> None:
        reports.append(fraction)
        if len(reports) == 2:  # a person pressed stop after the first report
            raise LostClaimError("job 1 was taken back from this worker")

    with pytest.raises(LostClaimError):
        TranscribeStep().run(
            _context(tmp_path, pack_folder, media, stop),
            ReportDraft(media_info={"duration_s": 95.0, "has_audio": True}),
        )
    assert len(reports) == 2  # it stopped at once, without decoding the rest


def _joined_librivox(path: Path, gap_s: float = 1.8) -> list[str]:
    """The five LibriVox clips joined with silences (a long answer with pauses, written as
    16 kHz mono WAV); returns their reference sentences."""
    refs: list[str] = []
    frames: list[bytes] = []
    for line in (LIBRIVOX / "transcription").read_text(encoding="utf-8").splitlines():
        found = re.match(r"<s>\s*(.*?)\s*</s>\s*\((.+)\)", line.strip())
        if not found:
            continue
        refs.append(found.group(1))
        with wave.open(str(LIBRIVOX / f"{found.group(2)}.wav")) as clip:
            assert clip.getframerate() == 16000 and clip.getnchannels() == 1
            frames.append(clip.readframes(clip.getnframes()))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((b"\x00\x00" * int(gap_s * 16000)).join(frames))
    return refs


def _kept(reference: str, heard: list[str]) -> float:
    """Share of a reference sentence's words found, in order, in what was heard."""
    import difflib

    words = reference.split()
    blocks = difflib.SequenceMatcher(a=words, b=heard, autojunk=False).get_matching_blocks()
    return sum(block.size for block in blocks) / len(words)


@pytest.mark.slow
def test_a_long_answer_with_pauses_loses_no_sentence(pack_folder: Path, tmp_path: Path) -> None:
    appliance = _appliance(tmp_path, pack_folder)
    store = appliance.open_store()
    try:
        refs = _joined_librivox(tmp_path / "long.wav")
        content = _analyse(
            appliance, store, _interview(store, "US-MD", "en"), tmp_path / "long.wav"
        )
        transcript = content["sections"]["transcript"]
        heard = _words(transcript["text"]).split()
        # Every sentence is there (greedy decoding used to drop one of these).
        kept = [_kept(ref, heard) for ref in refs]
        assert min(kept) >= 0.8, list(zip(refs, kept, strict=True))
        assert jiwer.wer(" ".join(refs), " ".join(heard)) <= 0.05
        assert transcript["language"] == "en" and transcript["language_mismatch"] is False
    finally:
        store.close()


@pytest.mark.slow
def test_the_interview_language_is_the_prior_and_a_sure_other_language_is_flagged(
    pack_folder: Path, tmp_path: Path
) -> None:
    clip = SPEECH_ZH / "fireredasr_BAC009S0764W0121.wav"
    if not clip.is_file():
        pytest.skip("../shared/data/speech_zh is not present")
    appliance = _appliance(tmp_path, pack_folder)
    store = appliance.open_store()
    try:
        # A Mandarin answer in an English interview: detection is sure, so it is transcribed
        # as Mandarin and the mismatch is said, whether or not anything is scored later.
        content = _analyse(appliance, store, _interview(store, "US-MD", "en"), clip)
        transcript = content["sections"]["transcript"]
        assert transcript["language"] == "zh" and "甚至出现交易" in transcript["text"]
        assert transcript["interview_language"] == "en"
        assert transcript["language_mismatch"] is True
        assert transcript["language_probability"] >= 0.8
    finally:
        store.close()
