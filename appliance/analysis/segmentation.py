"""Which question each part of a recording answers.

A recording made in the interview room holds one answer: one span over the whole recording.
An uploaded live interview holds them all: the interviewer's speech is matched against the
job's planned questions (and the candidate's personalised ones), and each answer runs from
the end of its question to the start of the next. A person's correction, saved from the UI,
always wins over the automatic split. Anything else is one span without a dimension.

The match is lexical and deterministic: content words for English, character bigrams for
Chinese, scored as the F1 of the two token sets, so an interviewer's paraphrase still matches
while a candidate repeating a few words of the question does not.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from appliance.platform.errors import RefusedError
from appliance.scoring.spans import AnswerSpan
from inference.interfaces import Segment, Transcript

if TYPE_CHECKING:
    from appliance.store import Store

MATCH_THRESHOLD = 0.45  # token-set F1 from which a stretch of speech counts as a question
MAX_WINDOW = 3  # a question may run over this many transcript segments
MIN_ANSWER_S = 0.5  # shorter stretches between two questions are no answer
MAX_SPANS = 100  # a correction holds at most this many answers

_LATIN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# Words that carry no topic: they make every question look alike.
_STOPWORD_TEXT = (
    "a about all also an and any are as at be been being but by can could did do does doing"
    " for from had has have how i if in into is it its just me more most my of on one or our"
    " out over please so some such tell than that the their them then there these they this"
    " those to up us was we were what when where which while who why will with would you"
    " your yours describe give example share walk through time"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_ZH_STOP = frozenset("请说一下讲个的了吗呢吧是我你们在有这那")


class SegmentationError(RefusedError):
    """Corrected answer boundaries that cannot be used (overlapping, outside the recording)."""

    exit_code = 42


@dataclass(frozen=True)
class Candidate:
    """A question the interviewer may have asked."""

    question_id: int | None
    text: str
    dimension_key: str | None
    language: str


@dataclass(frozen=True)
class QuestionHit:
    """Where in the transcript a question was asked, and how sure the match is."""

    question: Candidate
    first: int  # index of the first transcript segment of the question
    last: int  # index of the last one
    start: float
    end: float
    score: float


def tokens(text: str) -> set[str]:
    """Content tokens of a text: Latin words without stopwords, CJK character bigrams."""
    folded = unicodedata.normalize("NFKC", text).lower()
    found = {
        _stem(word) for word in _LATIN.findall(folded) if word not in _STOPWORDS and len(word) > 1
    }
    for run in _CJK.findall(folded):
        chars = [ch for ch in run if ch not in _ZH_STOP]
        if len(chars) == 1:
            found.add(chars[0])
        found.update(chars[i] + chars[i + 1] for i in range(len(chars) - 1))
    return found


def _stem(word: str) -> str:
    # Enough folding for a question and its spoken paraphrase ("projects" ~ "project").
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def similarity(question: set[str], heard: set[str]) -> float:
    """F1 of two token sets (0 when either is empty)."""
    if not question or not heard:
        return 0.0
    common = len(question & heard)
    if common == 0:
        return 0.0
    precision, recall = common / len(heard), common / len(question)
    return 2 * precision * recall / (precision + recall)


def find_questions(
    segments: Sequence[Segment], candidates: Sequence[Candidate]
) -> list[QuestionHit]:
    """Where each candidate question was asked (at most once each), in time order."""
    wanted = [(candidate, tokens(candidate.text)) for candidate in candidates]
    if not wanted:
        return []
    heard_in = [tokens(segment.text) for segment in segments]  # each segment read once
    hits: list[QuestionHit] = []
    for first in range(len(segments)):
        heard: set[str] = set()
        for last in range(first, min(first + MAX_WINDOW, len(segments))):
            heard = heard | heard_in[last]
            for candidate, asked in wanted:
                score = similarity(asked, heard)
                if score >= MATCH_THRESHOLD:
                    hits.append(
                        QuestionHit(
                            candidate,
                            first,
                            last,
                            segments[first].start,
                            segments[last].end,
                            round(score, 6),
                        )
                    )
    # Best first; ties go to the earlier and shorter stretch, so the result is deterministic.
    hits.sort(
        key=lambda h: (-h.score, h.first, h.last, h.question.question_id or 0, h.question.text)
    )
    chosen: list[QuestionHit] = []
    used_questions: set[tuple[int | None, str]] = set()
    for hit in hits:
        ident = (hit.question.question_id, hit.question.text)
        if ident in used_questions:
            continue
        if any(hit.first <= c.last and c.first <= hit.last for c in chosen):
            continue
        chosen.append(hit)
        used_questions.add(ident)
    return sorted(chosen, key=lambda h: h.start)


def split_by_questions(transcript: Transcript, candidates: Sequence[Candidate]) -> list[AnswerSpan]:
    """Answers of a live interview: from the end of each question to the start of the next."""
    hits = find_questions(transcript.segments, candidates)
    duration = _duration(transcript)
    spans: list[AnswerSpan] = []
    for position, hit in enumerate(hits):
        start = hit.end
        end = hits[position + 1].start if position + 1 < len(hits) else duration
        if end - start < MIN_ANSWER_S:
            continue
        spans.append(
            AnswerSpan(
                len(spans),
                hit.question.question_id,
                hit.question.text,
                hit.question.dimension_key,
                round(start, 3),
                round(end, 3),
            )
        )
    return spans


def _duration(transcript: Transcript) -> float:
    last = max((s.end for s in transcript.segments), default=0.0)
    return round(max(transcript.duration_s, last), 3)


def whole_recording(
    transcript: Transcript,
    *,
    question_id: int | None = None,
    question_text: str = "",
    dimension_key: str | None = None,
) -> AnswerSpan:
    """One span over the whole recording."""
    return AnswerSpan(0, question_id, question_text, dimension_key, 0.0, _duration(transcript))


def spans_from_rows(rows: Sequence[dict[str, Any]], duration: float | None) -> list[AnswerSpan]:
    """Checked answer spans from stored or submitted rows (sorted, inside, not overlapping)."""
    if len(rows) > MAX_SPANS:
        raise SegmentationError(f"at most {MAX_SPANS} answers per recording")
    parsed: list[tuple[float, float, int | None, str, str | None]] = []
    for number, row in enumerate(rows, start=1):
        try:
            start, end = float(row["start"]), float(row["end"])
        except (KeyError, TypeError, ValueError):
            raise SegmentationError(
                f"answer {number}: start and end are numbers of seconds"
            ) from None
        if not (start >= 0 and end > start):
            raise SegmentationError(f"answer {number}: the end must come after the start")
        if duration is not None and end > duration + 0.5:
            raise SegmentationError(
                f"answer {number}: ends at {end:g} s, after the recording ({duration:g} s)"
            )
        question_id = row.get("question_id")
        if question_id is not None and not isinstance(question_id, int):
            raise SegmentationError(f"answer {number}: unknown question")
        dimension = row.get("dimension_key")
        parsed.append(
            (
                start,
                end if duration is None else min(end, duration),
                question_id,
                str(row.get("question_text") or ""),
                str(dimension) if dimension else None,
            )
        )
    parsed.sort(key=lambda item: item[0])
    for (_, end, *_rest), (start, *_more) in itertools.pairwise(parsed):
        if start < end:
            raise SegmentationError("answers overlap: each moment belongs to one answer at most")
    return [
        AnswerSpan(index, question_id, text, dimension, round(start, 3), round(end, 3))
        for index, (start, end, question_id, text, dimension) in enumerate(parsed)
    ]


def span_rows(spans: Sequence[AnswerSpan]) -> list[dict[str, Any]]:
    """Spans as the JSON rows a correction stores."""
    return [{k: v for k, v in asdict(span).items() if k != "index"} for span in spans]


def planned_candidates(store: Store, recording_id: int) -> list[Candidate]:
    """The questions the interviewer may have asked in this recording's interview.

    The job's planned questions in the interview's language (all languages when it has none
    in it), then the candidate's personalised questions for this job.
    """
    recording = store.recordings.get(recording_id)
    interview = store.interviews.get(recording.interview_id)
    requisition = store.requisitions.get(interview.requisition_id)
    found: list[Candidate] = []
    if requisition.competency_model_id is not None:
        planned = store.interview_plan.planned_questions(requisition.competency_model_id)
        in_language = [q for q in planned if q.language == interview.language] or planned
        found.extend(Candidate(q.id, q.text, q.dimension_key, q.language) for q in in_language)
    found.extend(
        Candidate(None, q.text, q.dimension_key, q.language)
        for q in store.personal_questions.for_plan(recording.candidate_id, requisition.id)
    )
    return found


def automatic_spans(store: Store, recording_id: int, transcript: Transcript) -> list[AnswerSpan]:
    """The split without any person's correction."""
    room_answer = store.interview_answers.for_recording(recording_id)
    if room_answer is not None:
        return [
            whole_recording(
                transcript,
                question_id=room_answer.question_id,
                question_text=room_answer.question_text,
                dimension_key=room_answer.dimension_key,
            )
        ]
    recording = store.recordings.get(recording_id)
    interview = store.interviews.get(recording.interview_id)
    if interview.kind in ("live", "upload"):
        spans = split_by_questions(transcript, planned_candidates(store, recording_id))
        if spans:
            return spans
    return [whole_recording(transcript)]


def answer_spans(store: Store, recording_id: int, transcript: Transcript) -> list[AnswerSpan]:
    """The answers of a recording, a person's correction first, else the automatic split."""
    correction = store.segment_corrections.latest(recording_id)
    if correction is not None and correction.spans:
        # Checked when saved; here only cut to this transcript (its length may differ a little
        # from the media's that the person saw).
        duration = _duration(transcript)
        kept = [
            AnswerSpan(
                span.index,
                span.question_id,
                span.question_text,
                span.dimension_key,
                span.start,
                min(span.end, duration),
            )
            for span in spans_from_rows(correction.spans, None)
            if span.start < duration
        ]
        if kept:
            return [
                AnswerSpan(i, s.question_id, s.question_text, s.dimension_key, s.start, s.end)
                for i, s in enumerate(kept)
            ]
    return automatic_spans(store, recording_id, transcript)
