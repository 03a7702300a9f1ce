"""The shapes inference backends share: transcripts, frame cues, and the backend interfaces.

Nothing here touches the database or knows about candidates; the core (`appliance/`) receives
these values through the pipeline steps and stores what it decides to keep.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from inference.packs import VerifiedPack


class InferenceError(Exception):
    """A backend cannot produce a result for this input."""


@dataclass(frozen=True)
class Word:
    """One recognised word (or Mandarin character run) with its time in the recording."""

    text: str
    start: float
    end: float
    confidence: float | None = None
    speaker: str | None = None


@dataclass(frozen=True)
class Segment:
    """A stretch of speech the engine returned as one unit (a sentence or a pause-bounded run)."""

    text: str
    start: float
    end: float
    words: tuple[Word, ...] = ()
    speaker: str | None = None


@dataclass
class Transcript:
    """What a speech backend heard in one recording (or one answer)."""

    language: str
    segments: list[Segment]
    engine: str
    model: str
    duration_s: float
    language_probability: float | None = None
    task: str = "transcribe"  # or "translate" (Whisper's speech translation to English)

    @property
    def text(self) -> str:
        """The whole transcript as one string (segments joined as the language wants)."""
        joiner = "" if self.language in {"zh", "ja", "ko-nospace"} else " "
        return joiner.join(s.text.strip() for s in self.segments if s.text.strip())

    def words(self) -> list[Word]:
        """Every word in time order."""
        return [w for s in self.segments for w in s.words]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in a report."""
        data = asdict(self)
        data["text"] = self.text
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        """Inverse of `to_dict`."""
        segments = [
            Segment(
                text=s["text"],
                start=float(s["start"]),
                end=float(s["end"]),
                words=tuple(Word(**w) for w in s.get("words", ())),
                speaker=s.get("speaker"),
            )
            for s in data.get("segments", [])
        ]
        return cls(
            language=data["language"],
            segments=segments,
            engine=data["engine"],
            model=data["model"],
            duration_s=float(data["duration_s"]),
            language_probability=data.get("language_probability"),
            task=data.get("task", "transcribe"),
        )


@dataclass
class StreamUpdate:
    """What a streaming recognizer knows after a feed: a partial guess and finished segments."""

    partial: str = ""
    final: list[Segment] = field(default_factory=list)


class SpeechStream(ABC):
    """An incremental recognizer (live assist): feed PCM, read partials and finished segments."""

    @abstractmethod
    def feed(self, pcm: bytes) -> StreamUpdate:
        """Add 16-bit mono PCM at the stream's sample rate; return what is new."""

    @abstractmethod
    def finish(self) -> Transcript:
        """Flush and return everything heard since the stream began."""


class SpeechBackend(ABC):
    """Speech to text; plugins register by `type_key` (see `inference.registry`)."""

    type_key: ClassVar[str]
    supports_streaming: ClassVar[bool] = False
    supports_translation: ClassVar[bool] = False

    def __init__(self, pack: VerifiedPack, **options: Any) -> None:
        """Build the backend from a verified pack; `options` come from config."""
        self.pack = pack
        self.options = options

    @abstractmethod
    def transcribe(
        self,
        pcm: Iterable[bytes],
        *,
        sample_rate: int,
        language: str | None,
        task: str = "transcribe",
        prior: str | None = None,
    ) -> Transcript:
        """Transcribe 16-bit mono PCM chunks; `language=None` asks the engine to detect it,
        keeping the expected `prior` language unless it is confident of another."""

    def stream(
        self, *, sample_rate: int, language: str, grammar: Sequence[str] | None = None
    ) -> SpeechStream:
        """An incremental recognizer; backends without streaming refuse."""
        raise InferenceError(f"{self.type_key} does not stream")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model."""


@dataclass(frozen=True)
class FaceCues:
    """What one detected face shows in one frame (observations, never emotions)."""

    box: tuple[float, float, float, float]  # x, y, w, h as fractions of the frame
    score: float
    yaw: float | None = None  # degrees, + = turned to the person's left
    pitch: float | None = None
    roll: float | None = None
    gaze_at_camera: bool | None = None
    eye_closure: float | None = None  # 0 open .. 1 closed
    smile: float | None = None  # 0 .. 1 from mouth geometry


@dataclass(frozen=True)
class FrameCues:
    """The cues of one sampled frame at time `t` (seconds)."""

    t: float
    width: int
    height: int
    faces: tuple[FaceCues, ...] = ()

    @property
    def face_count(self) -> int:
        """How many faces were found."""
        return len(self.faces)


Frame = npt.NDArray[np.uint8]  # H x W x 3, RGB


class VisionBackend(ABC):
    """Face presence, pose, gaze and smile per frame; plugins register by `type_key`."""

    type_key: ClassVar[str]

    def __init__(self, pack: VerifiedPack, **options: Any) -> None:
        """Build the backend from a verified pack; `options` come from config."""
        self.pack = pack
        self.options = options

    @abstractmethod
    def analyse(self, frame: Frame, t: float = 0.0) -> FrameCues:
        """Cues of one RGB frame."""

    def analyse_many(self, frames: Iterable[tuple[float, Frame]]) -> list[FrameCues]:
        """Cues of many frames; backends with async requests override this for throughput."""
        return [self.analyse(frame, t) for t, frame in frames]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release compiled models."""


class TextEncoder(ABC):
    """Sentence embeddings (English and Chinese) for scoring against anchors."""

    type_key: ClassVar[str]

    def __init__(self, pack: VerifiedPack, **options: Any) -> None:
        """Build the backend from a verified pack; `options` come from config."""
        self.pack = pack
        self.options = options

    @abstractmethod
    def encode(self, texts: Sequence[str], *, kind: str = "passage") -> npt.NDArray[np.float32]:
        """Unit-length embeddings, one row per text; `kind` is "query" or "passage"."""
