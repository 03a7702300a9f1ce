"""Many candidates recording at once: `python -m appliance serve` on loopback, each simulated
candidate following room.js (the interview page for its CSRF token, a take, one piece a second,
the finish, then asking until the answer is safe), with the batch worker's core kept busy.

Measured: pieces per second sustained, piece latency (median, p95, max), finish latency, time
until the answer is safe, errors, and the bytes the server's processes wrote to disk per byte
uploaded (/proc/<pid>/io write_bytes of `serve` and every process it started), plus the sizes
of the database, its WAL and the spool afterwards.

    python -m pytest benchmarks/bench_room_uploads.py            # 40 candidates x 20 s
    APPLIANCE_BENCH_CANDIDATES=80 python -m pytest benchmarks/bench_room_uploads.py

The figures go to benchmarks/results/room_uploads.json under APPLIANCE_BENCH_LABEL (default
"current"). APPLIANCE_BENCH_CODE names another source tree (e.g. `git archive HEAD` unpacked)
whose code provisions and serves the appliance, so the same client measures before and after.
The "busy worker" is a process spinning at the batch worker's niceness (what an analysis costs
the box); room_assemble runs in the interactive lane (worker.interactive_kinds).
Under `--benchmark-disable` 4 candidates send 5 pieces: a smoke test.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import psutil
import pytest
import requests

from benchmarks.serving import serving

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "room_uploads.json"
PIECE_BYTES = 62 << 10  # one second of a 500 kbit/s VP8/Opus recording, as the issue measured
INTERACTIVE = ["live_assist", "room_followup", "room_assemble"]
ANSWERS = 3  # each candidate answers the room's three questions in a row

# Provisioning and rooms are made by the code under test (its own schema and helpers).
SETUP = r"""
import json, sys
from pathlib import Path
from appliance.room.consent import ConsentAnswers
from tests.conftest import make_appliance
from tests.support.room_fixtures import room_setup
from tests.support.room_takes import give_consent

root, count, interactive = Path(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
appliance = make_appliance(
    root,
    web={"cookie_secure": False},
    worker={
        "poll_interval_s": 1.0,
        "heartbeat_interval_s": 5.0,
        "stale_after_s": 60.0,
        "backoff_base_s": 5.0,
        "backoff_max_s": 600.0,
        "interactive_kinds": interactive,
    },
)
store = appliance.open_store()
tokens = []
for index in range(count):
    setup = room_setup(store, name=f"Bench Candidate {index}", settings={"max_answer_s": 900})
    give_consent(store, setup.token, ConsentAnswers(ai_evaluation=True))
    tokens.append(setup.token)
# One more interview, for the real recording the worker analyses meanwhile (if asked).
busy = room_setup(store, name="Bench Interviewee", settings={"max_answer_s": 900})
give_consent(store, busy.token, ConsentAnswers(ai_evaluation=True))
store.close()
print(json.dumps(
    {"config": str(appliance.config_path), "tokens": tokens, "busy_interview": busy.interview_id}
))
"""


def make_recording(path: Path, seconds: int, piece_bytes: int) -> bytes:
    """A VP8/Opus webm of `seconds`, padded by its own encoder to about `piece_bytes` a second."""
    rng = np.random.default_rng(7)
    fps, width, height = 10, 320, 240
    with av.open(str(path), "w", format="webm") as out:
        video: Any = out.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = int(piece_bytes * 8 * 0.93) - 40_000
        audio: Any = out.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        for index in range(seconds * fps):
            img = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        tone = (3000 * np.sin(np.arange(48000 * seconds) * 2 * np.pi * 220 / 48000)).astype("<i2")
        for start in range(0, len(tone), 4800):
            sound = av.AudioFrame.from_ndarray(
                tone[start : start + 4800].reshape(1, -1), format="s16", layout="mono"
            )
            sound.sample_rate, sound.pts, sound.time_base = 48000, start, Fraction(1, 48000)
            for packet in audio.encode(sound):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path.read_bytes()


@dataclass
class Candidate:
    """One simulated candidate's measurements."""

    token: str
    piece_latency_s: list[float] = field(default_factory=list)
    piece_sent_at: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finish_s: list[float] = field(default_factory=list)
    safe_after_s: list[float] = field(default_factory=list)
    acked_bytes: int = 0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _answer(
    base: str,
    session: requests.Session,
    who: Candidate,
    headers: dict[str, str],
    pieces: list[bytes],
) -> bool:
    """One answer as room.js records it: the take, one piece a second, finish, safe, keep."""
    question = session.get(f"{base}/room/{who.token}/state", timeout=60).json()["question"]
    key = str(uuid.uuid4())
    made = session.post(
        f"{base}/room/{who.token}/questions/{question['id']}/takes",
        json={"key": key, "content_type": "video/webm;codecs=vp8,opus"},
        headers=headers,
        timeout=60,
    )
    if made.status_code != 201:
        who.errors.append(f"take {made.status_code}")
        return False
    began = time.monotonic()
    for seq, piece in enumerate(pieces):
        time.sleep(max(0.0, began + seq - time.monotonic()))  # one piece a second
        sent = time.perf_counter()
        reply = session.put(
            f"{base}/room/{who.token}/takes/{key}/pieces/{seq}",
            data=piece,
            headers=headers,
            timeout=120,
        )
        who.piece_latency_s.append(time.perf_counter() - sent)
        who.piece_sent_at.append(time.monotonic())
        if reply.status_code != 200 or reply.json()["next_seq"] != seq + 1:
            who.errors.append(f"piece {seq}: {reply.status_code}")
            return False
        who.acked_bytes += len(piece)
    sent = time.perf_counter()
    finished = session.post(
        f"{base}/room/{who.token}/takes/{key}/finish",
        json={"pieces": len(pieces), "bytes": sum(map(len, pieces)), "background": True},
        headers=headers,
        timeout=300,
    )
    who.finish_s.append(time.perf_counter() - sent)
    if finished.status_code != 200:
        who.errors.append(f"finish {finished.status_code}: {finished.text[:200]}")
        return False
    take = finished.json()["take"]
    # The previous version stores the answer before it replies (no `safe` in its answer).
    while not take.get("safe", take.get("state") == "complete"):
        if take.get("problem"):
            who.errors.append(f"refused: {take['problem']}")
            return False
        time.sleep(0.5)
        take = session.get(f"{base}/room/{who.token}/takes/{key}", timeout=60).json()
    who.safe_after_s.append(time.perf_counter() - sent)
    kept = session.post(
        f"{base}/room/{who.token}/takes/{key}/keep", json={}, headers=headers, timeout=60
    )
    if kept.status_code != 200:
        who.errors.append(f"keep {kept.status_code}")
        return False
    return True


def run_candidate(
    base: str, who: Candidate, pieces: list[bytes], start_at: float, answers: int
) -> None:
    """room.js for `answers` answers in a row, from `start_at` on."""
    session = requests.Session()
    session.trust_env = False  # loopback only, never a proxy
    try:
        page = session.get(f"{base}/room/{who.token}/interview", timeout=60).text
        csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        time.sleep(max(0.0, start_at - time.monotonic()))
        for _ in range(answers):
            if not _answer(base, session, who, {"X-CSRFToken": csrf}, pieces):
                return
    except Exception as exc:  # a broken candidate is counted, the others go on
        who.errors.append(f"{type(exc).__name__}: {exc}")


def _written(processes: list[psutil.Process]) -> int:
    total = 0
    for process in processes:
        try:
            total += process.io_counters().write_bytes
        except psutil.NoSuchProcess:
            continue
    return total


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _status(env: dict[str, str], code: Path, config: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "appliance", "status", "--config", config, "--limit", "2000"],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _start_real_analysis(
    env: dict[str, str], code: Path, config: str, interview_id: int, seconds: float
) -> dict[str, Any]:
    """Ingest a real interview of `seconds` for the worker under `serve` to analyse."""
    from benchmarks.end_to_end_parts import interview_video

    video = interview_video(seconds)
    subprocess.run(
        [
            *(sys.executable, "-m", "appliance", "ingest", "--config", config),
            *("--interview", str(interview_id), str(video)),
        ],
        env=env,
        cwd=code,
        capture_output=True,
        timeout=600,
        check=True,
    )
    jobs = [j for j in _status(env, code, config)["jobs"] if j["kind"] == "analyse"]
    return {"media_s": seconds, "job": max(j["id"] for j in jobs), "began": time.monotonic()}


def _analysis_outcome(
    env: dict[str, str], code: Path, config: str, analysis: dict[str, Any]
) -> dict[str, Any]:
    """State of the real analysis when the candidates were done, then how long it took in all
    (waiting at most 15 minutes) and what that pace means in answers analysed an hour."""
    state_then = None
    deadline = time.monotonic() + 900
    while True:
        jobs = _status(env, code, config)["jobs"]
        job = next(j for j in jobs if j["id"] == analysis["job"])
        state_then = state_then or f"{job['state']} ({job['progress']} %)"
        if job["state"] in ("succeeded", "failed", "dead") or time.monotonic() > deadline:
            break
        time.sleep(2)
    wall = time.monotonic() - analysis["began"]
    speed = analysis["media_s"] / wall
    return {
        "state_when_candidates_were_done": state_then,
        "final_state": job["state"],
        "wall_s_from_ingest": round(wall, 1),
        "real_time_factor": round(speed, 2),
        # What the box analyses meanwhile: minutes of answers per hour, at this pace.
        "answer_minutes_analysed_per_hour": round(speed * 60),
    }


def test_candidates_recording_at_once(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    quick = bool(request.config.getoption("benchmark_disable"))
    count = 4 if quick else int(os.environ.get("APPLIANCE_BENCH_CANDIDATES", "40"))
    seconds = 5 if quick else int(os.environ.get("APPLIANCE_BENCH_SECONDS", "20"))
    code = Path(os.environ.get("APPLIANCE_BENCH_CODE", str(REPO))).resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    env.update(
        {"PYTHONPATH": str(code), "APPLIANCE_PASSPHRASE": "test passphrase for the appliance"}
    )

    media = make_recording(tmp_path / "answer.webm", seconds, PIECE_BYTES)
    size = -(-len(media) // seconds)
    pieces = [media[start : start + size] for start in range(0, len(media), size)]
    made = subprocess.run(
        [sys.executable, "-c", SETUP, str(tmp_path / "box"), str(count), json.dumps(INTERACTIVE)],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    setup = json.loads(made.stdout.strip().splitlines()[-1])
    data_dir = Path(setup["config"]).parent
    # The batch worker's analysis: with APPLIANCE_BENCH_ANALYSIS_S, a real interview of that
    # length (speech and a face, benchmarks/end_to_end_parts.py) ingested for the real worker
    # under `serve`; otherwise one core kept busy at the worker's niceness, as analysis would.
    analysis_s = 0.0 if quick else float(os.environ.get("APPLIANCE_BENCH_ANALYSIS_S", "0"))
    busy: subprocess.Popen[bytes] | None = None
    if analysis_s <= 0:
        busy = subprocess.Popen(
            [sys.executable, "-c", "import os; os.nice(10)\nwhile True: pass"], env=env
        )
    analysis: dict[str, Any] = {}
    try:
        with serving(setup["config"], env, code, tmp_path / "serve.log") as (base, serve):
            if analysis_s > 0:
                analysis = _start_real_analysis(
                    env, code, setup["config"], setup["busy_interview"], analysis_s
                )
            family = [
                psutil.Process(serve.pid),
                *psutil.Process(serve.pid).children(recursive=True),
            ]
            written_before = _written(family)
            candidates = [Candidate(token) for token in setup["tokens"]]
            begin = time.monotonic() + 2.0
            threads = [
                threading.Thread(
                    target=run_candidate,
                    # Spread over one answer's length: someone is always finishing somewhere.
                    args=(base, who, pieces, begin + seconds * index / count, ANSWERS),
                )
                for index, who in enumerate(candidates)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=ANSWERS * seconds + 900)
            written = _written(family) - written_before
            if analysis:
                analysis.update(_analysis_outcome(env, code, setup["config"], analysis))
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()

    latencies = [lat for who in candidates for lat in who.piece_latency_s]
    # Steady state: from when the last candidate began to when the first one stopped.
    active = [who.piece_sent_at for who in candidates if who.piece_sent_at]
    start, stop = max(at[0] for at in active), min(at[-1] for at in active)
    steady = sum(1 for at in active for t in at if start <= t <= stop)
    finishes = [s for who in candidates for s in who.finish_s]
    safes = [s for who in candidates for s in who.safe_after_s]
    uploaded = sum(who.acked_bytes for who in candidates)
    errors = [f"{who.token[-6:]}: {e}" for who in candidates for e in who.errors]
    figures = {
        "code": str(code),
        "candidates": count,
        "seconds": seconds,
        "piece_bytes": size,
        "answers_each": ANSWERS,
        "pieces_acked": len(latencies) - len(errors),
        "offered_pieces_per_s": count,
        "pieces_per_s": round(steady / (stop - start), 1) if stop > start else None,
        "piece_p50_s": round(statistics.median(latencies), 4) if latencies else None,
        "piece_p95_s": round(_percentile(latencies, 0.95), 4),
        "piece_max_s": round(max(latencies), 4) if latencies else None,
        "finish_p50_s": round(statistics.median(finishes), 3) if finishes else None,
        "finish_p95_s": round(_percentile(finishes, 0.95), 3) if finishes else None,
        "safe_p95_s": round(_percentile(safes, 0.95), 3) if safes else None,
        "errors": len(errors),
        "uploaded_bytes": uploaded,
        "written_bytes": written,
        "written_per_uploaded_byte": round(written / uploaded, 2) if uploaded else None,
        "database_bytes": _size(data_dir / "db" / "appliance.db"),
        "wal_bytes": _size(data_dir / "db" / "appliance.db-wal"),
        "spool_bytes": _size(data_dir / "spool"),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "worker_busy_with": (
            f"a real {analysis_s:g} s interview" if analysis_s > 0 else "a spinning process"
        ),
        "real_analysis": analysis or None,
    }
    print(json.dumps(figures, indent=2))
    if not quick:
        label = os.environ.get("APPLIANCE_BENCH_LABEL", "current")
        kept = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        kept[f"{label} {count}x{seconds}s"] = figures
        RESULTS.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
    assert errors == [], errors[:10]
    assert len(safes) == count * ANSWERS
