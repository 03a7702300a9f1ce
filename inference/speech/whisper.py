"""Whisper through faster-whisper (CTranslate2, int8 on CPU): batch speech to text and to English.

The model is read from a verified model pack (a CTranslate2 folder: `model.bin`, `config.json`,
`tokenizer.json`, `vocabulary.txt`); nothing is fetched from a hub (`HF_HUB_OFFLINE=1`, local
files only).  Long recordings are cut into windows of `window_s` seconds at the quietest moment
near each window's end, so at most one window of samples is held in memory whatever the length
of the recording.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from inference.heap import give_back_freed_memory
from inference.interfaces import InferenceError, Segment, SpeechBackend, Transcript, Word
from inference.packs import VerifiedPack
from inference.registry import register_speech

logger = logging.getLogger(__name__)

_PACK_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
_TASKS = frozenset({"transcribe", "translate"})
_KNOWN_OPTIONS = frozenset(
    {
        "window_s",
        "beam_size",
        "translate_beam_size",
        "vad_filter",
        "min_silence_ms",
        "word_timestamps",
        "cut_search_s",
        "language_override",
        "batch_size",
    }
)
# Where a batched segment (a VAD chunk of up to 30 s) is cut into sentences for reading.
SENTENCE_ENDS = (".", "?", "!", "\u3002", "\uff1f", "\uff01")
# The cut between two windows is placed at the quietest 200 ms in the last stretch of a window.
_CUT_FRAME_S = 0.2


def _quietest_cut(samples: npt.NDArray[np.int16], sample_rate: int, search_s: float) -> int:
    """The sample index in the last `search_s` seconds of `samples` where the signal is quietest."""
    frame = max(1, int(_CUT_FRAME_S * sample_rate))
    search = min(len(samples), int(search_s * sample_rate))
    tail = samples[len(samples) - search :].astype(np.float32)
    frames = len(tail) // frame
    if frames < 2:
        return len(samples)
    energy = np.square(tail[: frames * frame].reshape(frames, frame)).mean(axis=1)
    quietest = int(np.argmin(energy))
    return len(samples) - search + quietest * frame + frame // 2


def _windows(
    pcm: Iterable[bytes], sample_rate: int, window_s: float, search_s: float
) -> Iterator[tuple[float, npt.NDArray[np.int16]]]:
    """Yield (offset seconds, samples) windows of at most `window_s`, cut in quiet places."""
    limit = int(window_s * sample_rate) * 2
    buf = bytearray()
    offset_samples = 0
    for chunk in pcm:
        if len(chunk) % 2:
            raise InferenceError("PCM chunks must hold whole 16-bit samples")
        buf.extend(chunk)
        while len(buf) >= limit:
            window = np.frombuffer(bytes(buf[:limit]), dtype="<i2")
            cut = _quietest_cut(window, sample_rate, search_s)
            yield offset_samples / sample_rate, window[:cut]
            offset_samples += cut
            del buf[: cut * 2]
    if buf:
        yield offset_samples / sample_rate, np.frombuffer(bytes(buf), dtype="<i2")


@register_speech
class WhisperBackend(SpeechBackend):
    """faster-whisper: word timestamps, voice-activity filter, language detection, translation."""

    type_key: ClassVar[str] = "whisper"
    supports_translation: ClassVar[bool] = True
    # The pipeline asks the engine for the spoken language instead of trusting the interview's.
    detects_language: ClassVar[bool] = True
    sample_rate: ClassVar[int] = 16000

    def __init__(
        self,
        pack: VerifiedPack,
        *,
        cpu_threads: int = 0,
        compute_type: str = "int8",
        **options: Any,
    ) -> None:
        unknown = set(options) - _KNOWN_OPTIONS
        if unknown:
            raise InferenceError(f"unknown whisper options: {', '.join(sorted(unknown))}")
        for name in _PACK_FILES:
            if not pack.path(name).is_file():
                raise InferenceError(f"model pack {pack.manifest.name!r} lacks {name}")
        # Never reach for a hub, even if a library underneath would like to.
        os.environ["HF_HUB_OFFLINE"] = "1"
        from faster_whisper import WhisperModel

        from inference.speech import features

        self.pack = pack
        self.model_name = f"{pack.manifest.name}@{pack.manifest.version}"
        self.window_s = float(options.get("window_s", 300.0))
        self.cut_search_s = float(options.get("cut_search_s", 15.0))
        if self.window_s < 30 or not 1 <= self.cut_search_s < self.window_s:
            raise InferenceError("window_s must be at least 30 s and cut_search_s below it")
        self.beam_size = int(options.get("beam_size", 5))
        # Translation is rarer and greedy decoding there often leaves source-language words.
        self.translate_beam_size = int(options.get("translate_beam_size", 5))
        self.vad_filter = bool(options.get("vad_filter", True))
        # How sure detection must be to override the interview's language (docs/speech-decoding.md).
        self.language_override = float(options.get("language_override", 0.8))
        self.min_silence_ms = int(options.get("min_silence_ms", 500))
        self.word_timestamps = bool(options.get("word_timestamps", True))
        # Above 0: transcription decodes the VAD's speech chunks in batches of this many
        # (faster-whisper's BatchedInferencePipeline), each chunk on its own rather than
        # conditioned on the text before it (docs/speech-decoding.md has the measured table).
        self.batch_size = int(options.get("batch_size", 0))
        if self.batch_size < 0:
            raise InferenceError("batch_size must be 0 (one window after another) or more")
        try:
            self._model = WhisperModel(
                str(pack.root),
                device="cpu",
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise InferenceError(
                f"model pack {pack.manifest.name!r} could not be loaded: {exc}"
            ) from None
        # Same features, a fraction of the transient memory on long windows (features.py).
        features.install(self._model)
        self.multilingual = bool(self._model.model.is_multilingual)
        self._batched: Any = None
        if self.batch_size:
            from faster_whisper import BatchedInferencePipeline

            self._batched = BatchedInferencePipeline(self._model)

    @property
    def engine(self) -> Any:
        """The underlying faster-whisper model (benchmarks compare against it bare)."""
        return self._model

    def transcribe(
        self,
        pcm: Iterable[bytes],
        *,
        sample_rate: int,
        language: str | None,
        task: str = "transcribe",
        prior: str | None = None,
    ) -> Transcript:
        """Transcribe (or translate to English) 16 kHz mono s16le PCM, window by window.

        With `language=None` the language is detected on the first window; given a `prior`
        (the interview's language), detection only overrides it when at least
        `language_override` sure. The later windows are decoded in the language chosen."""
        if sample_rate != self.sample_rate:
            raise InferenceError(f"whisper needs {self.sample_rate} Hz PCM, got {sample_rate} Hz")
        if task not in _TASKS:
            raise InferenceError(f"unknown task {task!r}")
        if not self.multilingual:
            if task == "translate":
                raise InferenceError(f"{self.model_name} is English-only and cannot translate")
            if language not in (None, "en"):
                raise InferenceError(f"{self.model_name} is English-only, not {language!r}")
            language = "en"
        if language is None and prior is not None and self.language_override > 1.0:
            # Configured never to override the interview's language: skip detection (it costs
            # about a fifth more CPU, docs/speech-decoding.md).
            language = prior
        segments: list[Segment] = []
        detected_probability: float | None = None
        total_samples = 0
        for offset, samples in _windows(pcm, sample_rate, self.window_s, self.cut_search_s):
            total_samples += len(samples)
            audio = samples.astype(np.float32) / 32768.0
            try:
                found, info = self._decode(audio, language, task)
                if language is None:
                    # Detect once, on the first window: one recording is answered in one
                    # language. Decoding is lazy, so switching to the prior here costs nothing.
                    language, detected_probability = self._chosen(info, prior)
                    if language != info.language:
                        found, info = self._decode(audio, language, task)
                # The segments are produced lazily: errors surface while reading them.
                segments.extend(self._convert(found, offset))
            except ValueError as exc:  # e.g. a language code Whisper does not know
                raise InferenceError(f"whisper refused the input: {exc}") from None
            # The window's arrays go now; without the trim glibc would keep their pages.
            del samples, audio, found, info
            give_back_freed_memory()
        duration = total_samples / sample_rate
        logger.debug("whisper %s: %.1f s of audio, %d segments", task, duration, len(segments))
        return Transcript(
            # A translation is English whatever was spoken (the caller knows the source).
            language="en" if task == "translate" else (language or "und"),
            segments=segments,
            engine=self.type_key,
            model=self.model_name,
            duration_s=duration,
            language_probability=detected_probability,
            task=task,
        )

    def _decode(self, audio: npt.NDArray[np.float32], language: str | None, task: str) -> Any:
        """faster-whisper on one window: (lazy segments, info)."""
        if self._batched is not None and task == "transcribe":
            return self._batched.transcribe(
                audio,
                language=language,
                task=task,
                beam_size=self.beam_size,
                word_timestamps=self.word_timestamps,
                vad_filter=True,  # the batches are the VAD's speech chunks
                vad_parameters={"min_silence_duration_ms": self.min_silence_ms},
                batch_size=self.batch_size,
            )
        return self._model.transcribe(
            audio,
            language=language,
            task=task,
            beam_size=self.translate_beam_size if task == "translate" else self.beam_size,
            # A translation is decoded once, without the random-sampling fallback at higher
            # temperatures: the same answer gives the same translation, and a poor one is
            # caught by the translation check rather than re-rolled.
            **({"temperature": 0.0} if task == "translate" else {}),
            word_timestamps=self.word_timestamps,
            vad_filter=self.vad_filter,
            vad_parameters={"min_silence_duration_ms": self.min_silence_ms},
        )

    def _chosen(self, info: Any, prior: str | None) -> tuple[str, float]:
        """The detected language, or the `prior` unless detection was at least
        `language_override` sure of another; with the chosen language's probability."""
        detected, sure = str(info.language), float(info.language_probability)
        if prior is None or detected == prior or sure >= self.language_override:
            return detected, sure
        ranked = {str(code): float(p) for code, p in (info.all_language_probs or ())}
        return prior, ranked.get(prior, 0.0)

    def _convert(self, found: Iterable[Any], offset: float) -> Iterator[Segment]:
        """faster-whisper segments as ours, shifted by the window's offset; in batches, a
        segment with word times is cut at its sentence ends (a batched segment is a whole VAD
        chunk of up to 30 s, too long to read or to quote as one line)."""
        for seg in found:
            text = str(seg.text).strip()
            if not text:
                continue
            raw = [w for w in (seg.words or ()) if str(w.word).strip()]
            if not raw or self._batched is None:
                yield Segment(
                    text=text,
                    start=round(float(seg.start) + offset, 3),
                    end=round(float(seg.end) + offset, 3),
                    words=tuple(_word(w, offset) for w in raw),
                )
                continue
            sentence: list[Any] = []
            for index, w in enumerate(raw):
                sentence.append(w)
                if str(w.word).strip().endswith(SENTENCE_ENDS) or index == len(raw) - 1:
                    yield _segment_of(sentence, offset)
                    sentence = []

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self.__dict__.pop("_batched", None)
        self.__dict__.pop("_model", None)


def _segment_of(words: list[Any], offset: float) -> Segment:
    """One of our segments from consecutive faster-whisper words (their own spacing kept, so
    English keeps its spaces and Chinese has none)."""
    return Segment(
        text="".join(str(w.word) for w in words).strip(),
        start=round(float(words[0].start) + offset, 3),
        end=round(float(words[-1].end) + offset, 3),
        words=tuple(_word(w, offset) for w in words),
    )


def _word(w: Any, offset: float) -> Word:
    """A faster-whisper word as ours, shifted by the window's offset."""
    return Word(
        text=str(w.word).strip(),
        start=round(float(w.start) + offset, 3),
        end=round(float(w.end) + offset, 3),
        confidence=round(float(w.probability), 4),
    )
