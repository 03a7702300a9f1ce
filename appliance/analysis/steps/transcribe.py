"""The transcribe step: recording -> 16 kHz PCM (in memory only) -> transcript (+ English).

The audio is decoded from the decrypting reader straight into the speech backend, window by
window; no PCM is ever written to disk.  The backend comes from `inference.speech` in the
config (per language, through `appliance.engines.runtime`).  The interview's language is the
prior: a backend that detects the spoken language (Whisper) keeps it unless it is confident of
another, and the transcript then says the two differ.
When the answer's language differs from the reviewer's (English) and the backend can
translate, an English translation is added for HR.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from appliance.analysis.pipeline import (
    AnalysisStep,
    ReportDraft,
    StepContext,
    StepFailure,
    register_step,
)
from appliance.platform.config import ApplianceConfig
from appliance.platform.errors import ConfigError
from inference.interfaces import InferenceError, SpeechBackend, Transcript
from inference.media import MediaError, decode_audio_pcm
from inference.packs import PackError
from inference.speech.normalise import normalise_transcript

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# Progress is reported (and a stop request noticed) after every this many seconds of audio.
PROGRESS_EVERY_S = 30.0
# A machine translation is kept only when its meaning agrees with the transcript's this well
# (cosine of their multilingual sentence embeddings; docs/speech-decoding.md has the figures
# that set it): a wrong translation is worse than none.
TRANSLATION_FLOOR = 0.85


def base_language(language: str | None) -> str:
    """`zh-CN` -> `zh`; empty -> `und`."""
    return (language or "und").replace("_", "-").split("-")[0].lower() or "und"


def speech_backend(config: ApplianceConfig, language: str) -> SpeechBackend:
    """The configured (process-cached) speech backend for `language`."""
    from appliance.engines.runtime import speech_backend_for

    return speech_backend_for(config, language)


def translation_agreement(config: ApplianceConfig, source: str, translated: str) -> float | None:
    """How well a translation's meaning agrees with its source text (cosine of multilingual
    sentence embeddings), or None when no sentence encoder is installed."""
    from appliance.engines.runtime import text_encoder

    if not source.strip() or not translated.strip():
        return 0.0
    try:
        encoder = text_encoder(config)
    except (PackError, InferenceError, LookupError, ConfigError):
        return None
    first, second = encoder.encode([source, translated], kind="query")
    return round(float(first @ second), 4)


def step_span(ctx: StepContext, name: str) -> tuple[float, float]:
    """Where this step's progress lies within the whole job's (start, width)."""
    names = list(ctx.config.worker.pipeline)
    if name not in names:
        return 0.0, 1.0
    return names.index(name) / len(names), 1 / len(names)


def _with_progress(
    chunks: Iterable[bytes],
    ctx: StepContext,
    name: str,
    start: float,
    width: float,
    duration_s: float | None,
) -> Iterator[bytes]:
    """Pass PCM through, reporting progress by the seconds of audio decoded so far."""
    every = int(PROGRESS_EVERY_S * SAMPLE_RATE * 2)
    seen = next_report = 0
    for chunk in chunks:
        seen += len(chunk)
        if seen >= next_report:
            next_report = seen + every
            done = seen / 2 / SAMPLE_RATE / duration_s if duration_s else 0.0
            ctx.report_progress(start + width * min(done, 1.0), name)
        yield chunk


@register_step
class TranscribeStep(AnalysisStep):
    """Speech to text with word times; a translation to English for other languages."""

    name = "transcribe"

    def _run_backend(
        self,
        ctx: StepContext,
        draft: ReportDraft,
        backend: SpeechBackend,
        *,
        language: str | None,
        task: str,
        part: tuple[float, float],
        prior: str | None = None,
    ) -> Transcript:
        """Decode the recording and pass it through the backend once."""
        start, width = step_span(ctx, self.name)
        duration = (draft.media_info or {}).get("duration_s")
        with ctx.open_media() as media:
            pcm = decode_audio_pcm(media, sample_rate=SAMPLE_RATE)
            fed = _with_progress(
                pcm, ctx, self.name, start + width * part[0], width * part[1], duration
            )
            try:
                return backend.transcribe(
                    fed, sample_rate=SAMPLE_RATE, language=language, task=task, prior=prior
                )
            except MediaError as exc:
                raise StepFailure(f"media_{exc.code}", str(exc), retryable=False) from None
            except InferenceError as exc:
                raise StepFailure(
                    "speech_failed", f"speech recognition failed: {exc}", retryable=False
                ) from None

    def run(self, ctx: StepContext, draft: ReportDraft) -> ReportDraft:
        """Transcribe the recording; translate it when HR reads another language."""
        if draft.media_info is not None and not draft.media_info.get("has_audio", True):
            draft.notes[self.name] = "the recording has no audio track, so there is no transcript"
            return draft
        interview_language = base_language(ctx.language)
        try:
            backend = speech_backend(ctx.config, interview_language)
        except (PackError, InferenceError, LookupError, ConfigError) as exc:
            raise StepFailure("speech_model_unavailable", str(exc), retryable=False) from None
        detects = bool(getattr(backend, "detects_language", False))
        transcript = self._run_backend(
            ctx,
            draft,
            backend,
            language=None if detects else interview_language,
            task="transcribe",
            part=(0.0, 0.5),
            prior=interview_language if interview_language != "und" else None,
        )
        transcript = normalise_transcript(transcript)
        draft.sections["transcript"] = transcript.to_dict()
        # Said whether or not the answers are scored later (the report shows it either way).
        draft.sections["transcript"]["interview_language"] = interview_language
        draft.sections["transcript"]["language_mismatch"] = (
            interview_language != "und" and base_language(transcript.language) != interview_language
        )
        draft.artifacts["transcript"] = transcript
        if not transcript.segments:
            draft.notes["transcribe"] = "no speech was recognised in the recording"
            return draft
        self._translate(ctx, draft, backend, transcript)
        return draft

    def _translate(
        self, ctx: StepContext, draft: ReportDraft, backend: SpeechBackend, transcript: Transcript
    ) -> None:
        """Add an English translation when the reviewer reads English and the answer is not."""
        reviewer = base_language(ctx.config.inference.reviewer_language)
        spoken = base_language(transcript.language)
        if reviewer != "en" or spoken == reviewer:
            return
        if not backend.supports_translation:
            draft.notes["translation"] = (
                f"no English translation: the {backend.type_key} engine cannot translate"
            )
            return
        try:
            translation = self._run_backend(
                ctx, draft, backend, language=spoken, task="translate", part=(0.5, 0.5)
            )
        except StepFailure as exc:
            # The transcript is what matters; a missing translation is noted, not fatal.
            draft.notes["translation"] = f"no English translation: {exc.message}"
            return
        agreement = translation_agreement(ctx.config, transcript.text, translation.text)
        if agreement is not None and agreement < TRANSLATION_FLOOR:
            draft.notes["translation"] = (
                "no reliable translation on this box: the machine translation did not agree "
                f"with what was said (agreement {agreement:.2f}, at least {TRANSLATION_FLOOR} "
                "needed)"
            )
            return
        translated: dict[str, Any] = translation.to_dict()
        translated["source_language"] = spoken
        translated["agreement"] = agreement
        draft.sections["translation"] = translated
        draft.artifacts["translation"] = translation
