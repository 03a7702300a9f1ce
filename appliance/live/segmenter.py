"""Cutting a live audio stream into utterances at pauses, so short windows can be transcribed.

A frame is speech when its energy stands clearly above the noise floor the cutter has learnt
(the quietest recent frames). An utterance ends after `pause_s` of non-speech, or at `max_s`
so a speaker who never pauses still gets text; a burst shorter than `min_speech_s` is noise.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

FRAME_S = 0.03
ABSOLUTE_FLOOR = 120.0  # RMS (16-bit scale) below which nothing is speech, however quiet the room
FLOOR_FACTOR = 3.0


@dataclass(frozen=True)
class Utterance:
    """A stretch of speech: its place in the stream (seconds) and its 16-bit PCM."""

    start_s: float
    end_s: float
    pcm: bytes


class UtteranceCutter:
    """Feeds on 16-bit mono PCM; returns utterances as their ends are heard."""

    def __init__(
        self,
        sample_rate: int,
        *,
        pause_s: float = 0.4,
        max_s: float = 12.0,
        min_speech_s: float = 0.25,
        lead_s: float = 0.2,
        start_s: float = 0.0,
    ) -> None:
        self.rate = sample_rate
        self.frame = max(1, int(sample_rate * FRAME_S))
        self.pause_frames = max(1, round(pause_s / FRAME_S))
        self.max_frames = max(1, round(max_s / FRAME_S))
        self.min_frames = max(1, round(min_speech_s / FRAME_S))
        self.lead_frames = max(0, round(lead_s / FRAME_S))
        self._rest = b""
        self._frames_seen = round(start_s / FRAME_S)
        self._energies: deque[float] = deque(maxlen=round(10 / FRAME_S))
        self._lead: deque[bytes] = deque(maxlen=self.lead_frames or 1)
        self._speech: list[bytes] = []
        self._speech_start = 0
        self._last_voiced = 0  # index within _speech of the last voiced frame + 1
        self._voiced_count = 0
        self._silent_run = 0

    @property
    def position_s(self) -> float:
        """How much audio the cutter has consumed (seconds since the stream began)."""
        return self._frames_seen * self.frame / self.rate

    def _threshold(self) -> float:
        if not self._energies:
            return ABSOLUTE_FLOOR
        floor = float(np.percentile(np.fromiter(self._energies, dtype=np.float64), 10))
        return max(ABSOLUTE_FLOOR, floor * FLOOR_FACTOR)

    def _close(self) -> Utterance | None:
        frames = self._speech[: self._last_voiced]
        voiced = self._voiced_count
        start = self._speech_start
        self._speech, self._last_voiced, self._voiced_count, self._silent_run = [], 0, 0, 0
        if voiced < self.min_frames or not frames:
            return None
        seconds = self.frame / self.rate
        return Utterance(
            round(start * seconds, 3), round((start + len(frames)) * seconds, 3), b"".join(frames)
        )

    def feed(self, pcm: bytes) -> list[Utterance]:
        """Add audio; return the utterances that ended in it."""
        data = self._rest + pcm
        step = self.frame * 2
        usable = len(data) - len(data) % step
        self._rest = data[usable:]
        done: list[Utterance] = []
        for offset in range(0, usable, step):
            raw = data[offset : offset + step]
            samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
            energy = float(np.sqrt(np.mean(samples * samples)))
            voiced = energy > self._threshold()
            self._energies.append(energy)
            index = self._frames_seen
            self._frames_seen += 1
            if not self._speech:
                if voiced:
                    # A little audio before the onset keeps the first syllable whole.
                    self._speech = [*self._lead, raw]
                    self._speech_start = index - len(self._lead)
                    self._lead.clear()
                    self._last_voiced, self._voiced_count = len(self._speech), 1
                elif self.lead_frames:
                    self._lead.append(raw)
                continue
            self._speech.append(raw)
            if voiced:
                self._last_voiced, self._silent_run = len(self._speech), 0
                self._voiced_count += 1
            else:
                self._silent_run += 1
            if self._silent_run >= self.pause_frames or len(self._speech) >= self.max_frames:
                ended = self._close()
                if ended is not None:
                    done.append(ended)
        return done

    def in_progress(self) -> Utterance | None:
        """The utterance still being spoken (for a partial result), if any."""
        if not self._speech or self._voiced_count < self.min_frames:
            return None
        seconds = self.frame / self.rate
        frames = self._speech[: self._last_voiced]
        start = self._speech_start
        return Utterance(
            round(start * seconds, 3), round((start + len(frames)) * seconds, 3), b"".join(frames)
        )

    def flush(self) -> list[Utterance]:
        """The end of the stream: whatever was being said is an utterance."""
        ended = self._close() if self._speech else None
        return [ended] if ended is not None else []
