"""The report pages in plain words: competency labels, delivery, visual observations, analysis
steps, flags and the reasons a step produced nothing, as sentences in the viewer's language.

The core hands over numbers and codes (`appliance.analysis.report_facts`, `report_steps`);
every sentence is made here, through Flask-Babel, so a Chinese reader never meets an internal
name. Registered as template globals by `register`.
"""

# Ranges are written with the en dash on purpose, as the pages print them.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import flask_babel
from flask import Blueprint
from flask_babel import get_locale


def _(text: str, **variables: Any) -> str:
    """Flask-Babel's `gettext`, typed (its package has no type hints)."""
    return str(flask_babel.gettext(text, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """Flask-Babel's `ngettext`, typed."""
    return str(flask_babel.ngettext(singular, plural, num, **variables))


def viewer_language() -> str:
    """The language the viewer reads the page in (`en`, `zh`)."""
    locale = get_locale()
    return locale.language if locale is not None else "en"


def _in_language(texts: Any, fallback: str) -> str:
    if isinstance(texts, Mapping):
        found = texts.get(viewer_language())
        if found:
            return str(found)
    return fallback


def label(dimension: Mapping[str, Any]) -> str:
    """A competency's name from the model in the viewer's language (else as it was scored)."""
    return _in_language(dimension.get("names"), str(dimension.get("name") or ""))


def label_of(dimensions: list[Mapping[str, Any]], key: Any) -> str:
    """The name of the competency with `key` among the document's (empty when unknown)."""
    found = next((d for d in dimensions if d.get("key") == key), None)
    return label(found) if found is not None else ""


def anchor_text(anchor: Mapping[str, Any] | None) -> str:
    """The level description in the viewer's language (else as it was scored)."""
    if not anchor:
        return ""
    return _in_language(anchor.get("texts"), str(anchor.get("text") or ""))


def _percent(share: float) -> int:
    return round(share * 100)


def delivery_line(facts: Mapping[str, Any] | None) -> str:
    """E.g. `146 words a minute (typical 120-160) · pauses 18 % of the time · 2 fillers`."""
    if not facts:
        return ""
    parts = []
    rate = facts.get("rate_per_min")
    low, high = facts.get("typical_rate") or (0, 0)
    if rate is not None and facts.get("unit") == "characters":
        parts.append(
            _(
                "%(rate)d characters a minute (typical %(low)d–%(high)d)",
                rate=round(rate),
                low=low,
                high=high,
            )
        )
    elif rate is not None:
        parts.append(
            _(
                "%(rate)d words a minute (typical %(low)d–%(high)d)",
                rate=round(rate),
                low=low,
                high=high,
            )
        )
    if facts.get("pause_share") is not None:
        parts.append(_("pauses %(share)d %% of the time", share=_percent(facts["pause_share"])))
    if facts.get("fillers") is not None:
        parts.append(ngettext("%(num)d filler", "%(num)d fillers", facts["fillers"]))
    if facts.get("hesitations"):
        parts.append(ngettext("%(num)d hesitation", "%(num)d hesitations", facts["hesitations"]))
    if facts.get("long_pauses"):
        parts.append(ngettext("%(num)d long pause", "%(num)d long pauses", facts["long_pauses"]))
    return " · ".join(parts)


def visual_line(facts: Mapping[str, Any] | None) -> str:
    """E.g. `face in view 97 % of the time; looking at the camera 71 %`."""
    if not facts:
        return ""
    parts = [_("face in view %(share)d %% of the time", share=_percent(facts["face"]))]
    if facts.get("camera") is not None:
        parts.append(_("looking at the camera %(share)d %%", share=_percent(facts["camera"])))
    if facts.get("longest_look_away_s"):
        seconds = f"{facts['longest_look_away_s']:.1f}"
        parts.append(_("longest look away %(seconds)s s", seconds=seconds))
    if facts.get("others_in_frame"):
        parts.append(
            ngettext(
                "someone else in view %(num)d time",
                "someone else in view %(num)d times",
                facts["others_in_frame"],
            )
        )
    return _("; ").join(parts)


def step_label(name: str) -> str:
    """What an analysis step did, in words."""
    labels: dict[str, Callable[[], str]] = {
        "probe": lambda: _("checked the recording"),
        "policy_gate": lambda: _("checked the region's rules and the consents"),
        "transcribe": lambda: _("transcribed the speech"),
        "delivery": lambda: _("measured pace and pauses"),
        "score": lambda: _("scored the answers"),
        "visual_cues": lambda: _("observed the video"),
        "affect": lambda: _("analysed facial expressions"),
    }
    return labels.get(name, lambda: _("a further step"))()


def _condition(fact: str) -> str:
    """A condition of the region's rules (a policy fact), in words."""
    texts: dict[str, Callable[[], str]] = {
        "setting.affect_enabled": lambda: _("affect analysis switched on for the region"),
        "setting.visual_cues_enabled": lambda: _("visual observations switched on for the region"),
        "consent.visual_cues": lambda: _("the candidate's consent to visual observations"),
        "consent.visual_cues.before_interview": lambda: _(
            "the candidate's consent to visual observations, given before the interview"
        ),
        "consent.ai_evaluation.before_interview": lambda: _(
            "the candidate's consent to AI evaluation, given before the interview"
        ),
        "consent.biometric": lambda: _("a separate consent to biometric processing"),
        "waiver.facial_recognition.before_interview": lambda: _(
            "a signed facial-recognition waiver, given before the interview"
        ),
        "notice.given": lambda: _("a published notice given to the candidate"),
        "notice.waiting_period_over": lambda: _(
            "a notice sent at least 10 business days before the assessment"
        ),
        "bias_audit.current": lambda: _("a published bias audit at most one year old"),
    }
    return texts.get(fact, lambda: _("a condition of the region's rules"))()


def reason(state: Mapping[str, Any] | None) -> str:
    """Why a step produced nothing (a step's state from `report_steps`), in words."""
    if not state or not state.get("reason"):
        return ""
    code = state["reason"]
    if code == "policy":
        policy = state.get("policy") or {}
        if policy.get("forbidden"):
            return _("the region's rules forbid it")
        missing = [_condition(fact) for fact in policy.get("missing") or ()]
        if missing:
            return _("the region's rules require %(conditions)s", conditions=_("; ").join(missing))
        return _("the region's rules or the candidate's consent do not allow it")
    texts: dict[str, Callable[[], str]] = {
        "no_video": lambda: _("the recording has no video"),
        "no_audio": lambda: _("the recording has no sound"),
        "no_speech": lambda: _("no speech was recognised"),
        "no_transcript": lambda: _("there is no transcript"),
        "no_model": lambda: _("the job has no competency model"),
        "language": lambda: _("answers are scored in English and Chinese only"),
        "no_pack": lambda: _("a model it needs is not installed"),
        "gone": lambda: _("the interview or its job was removed"),
        "needs_faces": lambda: _("it needs the visual observations, which were not made"),
        "unreadable": lambda: _("the video could not be read"),
        "failed": lambda: _("it failed"),
        "not_run": lambda: _("the analysis does not include this step"),
        "nothing_scored": lambda: _("no answer could be scored"),
        "no_analysis": lambda: _("no recording has been analysed yet"),
        "stored_apart": lambda: _("kept apart from the report; never used for a score"),
    }
    return texts.get(code, lambda: _("it gave no result"))()


def not_scored(state: Mapping[str, Any] | None) -> str:
    """The header's sentence for an interview without scores: why, in words."""
    why = reason(state)
    return _("Not scored: %(reason)s.", reason=why) if why else _("Not scored.")


def flag_sentence(flag: Mapping[str, Any], dimensions: list[Mapping[str, Any]]) -> str:
    """An answer's flag (or an area to probe) as a sentence in the viewer's language."""
    code = str(flag.get("code") or "")
    competency = label_of(dimensions, flag.get("dimension"))
    if code == "not_covered" and competency:
        return _("%(competency)s: not yet covered by any answer.", competency=competency)
    texts: dict[str, Callable[[], str]] = {
        "no_result": lambda: _(
            "No result stated: the answer does not say what came of the actions."
        ),
        "result_not_quantified": lambda: _("The result is not quantified."),
        "vague_role": lambda: _(
            "Vague on own role: mostly 'we', little of what the candidate did personally."
        ),
        "no_action": lambda: _("No concrete actions described."),
        "hypothetical": lambda: _(
            "Hypothetical or general answer rather than a specific past example."
        ),
        "off_topic": lambda: _(
            "The answer does not address the competency the question was asked for."
        ),
        "not_covered": lambda: _("Competency not yet covered by any answer."),
        "language_mismatch": lambda: _(
            "Answered in another language than the interview's: not scored."
        ),
        "empty": lambda: _("Nothing was said in this answer."),
    }
    if code in texts:
        return texts[code]()
    return str(flag.get("message") or flag.get("text") or "")


def top_strengths(doc: Mapping[str, Any], count: int = 2) -> list[Mapping[str, Any]]:
    """The strengths whose competencies score highest now (a person's override counts)."""
    scores = {d.get("key"): d.get("score") for d in doc.get("dimensions") or ()}

    def rank(finding: Mapping[str, Any]) -> float:
        score = scores.get(finding.get("dimension"))
        return -float(score) if isinstance(score, int | float) else 0.0

    return sorted(doc.get("strengths") or (), key=rank)[:count]


def strength_sentence(finding: Mapping[str, Any], dimensions: list[Mapping[str, Any]]) -> str:
    """A strength: the competency in the viewer's language and the words that showed it."""
    competency = label_of(dimensions, finding.get("dimension"))
    evidence = finding.get("evidence") or []
    if competency and evidence:
        return _("%(competency)s: “%(quote)s”", competency=competency, quote=evidence[0]["quote"])
    return str(finding.get("text") or "")


def language_name(code: Any) -> str:
    """A language code (`en`, `zh-CN`) by its name in the viewer's language."""
    base = str(code or "").replace("_", "-").split("-")[0].lower()
    names: dict[str, Callable[[], str]] = {
        "en": lambda: _("English"),
        "zh": lambda: _("Chinese"),
    }
    return names[base]() if base in names else str(code or "")


def decision_name(kind: Any) -> str:
    """A decision or recommendation (`advance`, `recommend_hire`) in words."""
    names: dict[str, Callable[[], str]] = {
        "advance": lambda: _("Advance"),
        "reject": lambda: _("Reject"),
        "hire": lambda: _("Hire"),
        "recommend_hire": lambda: _("Recommend hiring"),
        "recommend_reject": lambda: _("Recommend rejecting"),
        "recommend_hold": lambda: _("Recommend holding"),
    }
    return names[kind]() if kind in names else str(kind or "").replace("_", " ")


def cue_name(cue: Any) -> str:
    """What made a sentence evidence (the scorer's cue), in words; empty for an unknown one."""
    names: dict[str, Callable[[], str]] = {
        "result_quantified": lambda: _("quantified result"),
        "result": lambda: _("result"),
        "action_own": lambda: _("own action"),
        "action_team": lambda: _("team action"),
        "task": lambda: _("task"),
        "situation": lambda: _("situation"),
        "keyword": lambda: _("competency keyword"),
        "relevant": lambda: _("most relevant passage"),
        "vague": lambda: _("vague statement"),
        "off_topic": lambda: _("off the question's topic"),
    }
    return names[cue]() if cue in names else ""


def model_name(doc: Mapping[str, Any]) -> str:
    """The competency model the scores came from: name and version, else as the report names
    it, else that it was not recorded."""
    models = doc.get("models") or {}
    model = models.get("competency_model") or {}
    if model.get("name") and model.get("version") is not None:
        return _("%(name)s, version %(version)s", name=model["name"], version=model["version"])
    if models.get("competency_model_label"):
        return str(models["competency_model_label"])
    return _("a competency model that was not recorded")


def score_text(dimension: Mapping[str, Any]) -> str:
    """A competency's score as the chart writes it: `8`, `7 (AI 6)` after an override, or
    `not assessed`."""
    score = dimension.get("score")
    if score is None:
        return _("not assessed")
    if dimension.get("override"):
        ai = dimension.get("ai_score")
        machine = _("AI")
        return f"{score:g} ({machine} {'-' if ai is None else f'{ai:g}'})"
    return f"{score:g}"


def language_note(doc: Mapping[str, Any]) -> str:
    """That the answers are in another language than the interview's (empty when they are
    not), and, when scored anyway, that the scores may not be meaningful."""
    check = doc.get("language_check") or {}
    if not check.get("mismatch"):
        return ""
    spoken, interview = check.get("spoken"), check.get("interview")
    if spoken and interview and language_name(spoken) != language_name(interview):
        note = _(
            "The answers were spoken in %(spoken)s; the interview is in %(interview)s.",
            spoken=language_name(spoken),
            interview=language_name(interview),
        )
    else:
        note = _("Some answers are in another language than the interview's.")
    if doc.get("scored"):
        note = " ".join((note, _("Scores may not be meaningful.")))
    return note


# Codecs as people know them (the probe reports FFmpeg's names).
CODECS = {
    "pcm_s16le": "PCM 16-bit",
    "pcm_s24le": "PCM 24-bit",
    "pcm_f32le": "PCM 32-bit float",
    "h264": "H.264",
    "hevc": "H.265",
    "aac": "AAC",
    "mp3": "MP3",
    "opus": "Opus",
    "vorbis": "Vorbis",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "flac": "FLAC",
}


def codec_name(codec: Any) -> str:
    """A codec by its common name (an unknown one as the probe named it, without underscores)."""
    if not codec:
        return "-"
    return CODECS.get(str(codec), str(codec).replace("_", " "))


# The scorer writes its rationale in the interview's language, from a closed set of sentence
# shapes (appliance/scoring/scorer.py `_rationale`, aggregate.py): each is read back into its
# facts here and said again in the viewer's language. A sentence of another shape is shown as
# it was written.
_STAR_EN = {"situation": "situation", "task": "task", "action": "action", "result": "result"}
_STAR_ZH = {"情境": "situation", "任务": "task", "行动": "action", "结果": "result"}
_LANGUAGES_ZH = {"英语": "en", "中文": "zh"}
_LANGUAGES_EN = {"English": "en", "Chinese": "zh"}
_PER_ANSWER_EN = re.compile(
    r"Answer (?P<n>\d+): STAR parts (?P<parts>[a-z, ]+); result (?P<q>quantified|not quantified); "
    r"ownership (?P<own>\d+)%; specificity (?P<spec>\d+)%; relevance (?P<rel>\d+)%\."
)
_PER_ANSWER_ZH = re.compile(
    r"回答(?P<n>\d+)：STAR要素 (?P<parts>[^；]+)；(?P<q>结果有量化|结果未量化)；"
    r"个人主导 (?P<own>\d+)%；具体性 (?P<spec>\d+)%；相关度 (?P<rel>\d+)%。"
)
_OTHER_LANGUAGE_EN = re.compile(
    r"Answer (?P<n>\d+) was given in (?P<given>\w+), not (?P<wanted>\w+): scored in the "
    r"language it was given in, with lower confidence\."
)
_OTHER_LANGUAGE_ZH = re.compile(
    r"回答(?P<n>\d+)是用(?P<given>\S+?)而不是(?P<wanted>\S+?)作答的：按原语言评分，置信度降低。"
)
_COMBINED = re.compile(
    r"Combined from (?P<n>\d+) answer\(s\) across the interview\.|由(?P<zn>\d+)个回答综合得出。"
)
_NOT_COVERED = (
    "No answer addressed this competency.",
    "No answer in this interview addressed this competency.",
    "没有回答涉及该能力。",
)


def _star_parts(text: str) -> str:
    found = [_STAR_EN.get(p.strip()) or _STAR_ZH.get(p.strip()) for p in re.split(r"[,、]", text)]
    names = {
        "situation": _("situation"),
        "task": _("task"),
        "action": _("action"),
        "result": _("result"),
    }
    parts = [names[p] for p in found if p]
    return ("、" if viewer_language() == "zh" else ", ").join(parts) if parts else _("none")


def _per_answer(match: re.Match[str]) -> str:
    quantified = match["q"] in ("quantified", "结果有量化")
    return _(
        "Answer %(number)s: STAR parts %(parts)s; the result is %(quantified)s; "
        "own part %(ownership)s %%; specificity %(specificity)s %%; relevance %(relevance)s %%.",
        number=match["n"],
        parts=_star_parts(match["parts"]),
        quantified=_("quantified") if quantified else _("not quantified"),
        ownership=match["own"],
        specificity=match["spec"],
        relevance=match["rel"],
    )


def _other_language(match: re.Match[str]) -> str:
    given = _LANGUAGES_EN.get(match["given"]) or _LANGUAGES_ZH.get(match["given"])
    wanted = _LANGUAGES_EN.get(match["wanted"]) or _LANGUAGES_ZH.get(match["wanted"])
    return _(
        "Answer %(number)s was given in %(given)s, not %(wanted)s: scored in the language it "
        "was given in, with lower confidence.",
        number=match["n"],
        given=language_name(given) if given else match["given"],
        wanted=language_name(wanted) if wanted else match["wanted"],
    )


def rationale(text: Any) -> str:
    """The scorer's rationale for a score, in the viewer's language where its shape is known."""
    sentence = str(text or "").strip()
    if not sentence:
        return ""
    if sentence in _NOT_COVERED:
        return _("No answer addressed this competency.")
    combined = _COMBINED.fullmatch(sentence)
    if combined:
        return _(
            "Combined from %(number)s answers across the interview.",
            number=combined["n"] or combined["zn"],
        )
    pieces: list[str] = []
    rest = sentence
    patterns = (
        (_PER_ANSWER_EN, _per_answer),
        (_PER_ANSWER_ZH, _per_answer),
        (_OTHER_LANGUAGE_EN, _other_language),
        (_OTHER_LANGUAGE_ZH, _other_language),
    )
    while rest:
        for pattern, say in patterns:
            found = pattern.match(rest)
            if found:
                pieces.append(say(found))
                rest = rest[found.end() :].lstrip()
                break
        else:
            return sentence  # a shape this reader does not know: shown as written
    return " ".join(pieces)


GLOBALS: tuple[Callable[..., Any], ...] = (
    rationale,
    codec_name,
    label,
    label_of,
    anchor_text,
    delivery_line,
    visual_line,
    step_label,
    reason,
    not_scored,
    flag_sentence,
    strength_sentence,
    top_strengths,
)


def register(blueprint: Blueprint) -> None:
    """Make the sentences available to every template (under their function names)."""
    for function in GLOBALS:
        blueprint.add_app_template_global(function, function.__name__)


__all__ = [
    "anchor_text",
    "codec_name",
    "cue_name",
    "decision_name",
    "delivery_line",
    "flag_sentence",
    "label",
    "label_of",
    "language_name",
    "language_note",
    "model_name",
    "not_scored",
    "rationale",
    "reason",
    "register",
    "score_text",
    "step_label",
    "strength_sentence",
    "top_strengths",
    "viewer_language",
    "visual_line",
]
