"""What the room asks a candidate before the interview, per region, and how the answers are kept.

The notice comes from the region's published, versioned notices (appliance.compliance.notices);
the room's own consent texts are versioned here (ROOM_TEXTS_VERSION) and every text is stored
exactly as shown through appliance.compliance.consents, stamped with the time it was given.
The candidate may decline AI analysis: they are still interviewed and people review them.
"""

# The Chinese texts use Chinese punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from appliance.compliance.common import regions_for_interview
from appliance.compliance.consents import (
    AI_EVALUATION,
    BIOMETRIC,
    FACIAL_RECOGNITION_WAIVER,
    VISUAL_CUES,
    record_consent,
)
from appliance.compliance.notices import current_notice, notice_text, rounds_for_interview
from appliance.compliance.policy import PROFILES
from appliance.compliance.policy import region_setting_facts as _settings
from appliance.platform.clock import now_stamp, utcnow
from appliance.platform.errors import ApplianceError
from appliance.store import Store
from appliance.store.compliance import Notice
from appliance.store.room import RoomSession

ROOM_TEXTS_VERSION = "room-consent-2026.1"
LANGUAGES = ("en", "zh")

# The room's own texts (the notice itself is HR's, per region). Stored verbatim when given.
_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        AI_EVALUATION: (
            "I have read the notice above, including how the automated evaluation works and "
            "which characteristics it uses. I consent to the AI-assisted evaluation of my "
            "recorded answers. People review every result and make every decision."
        ),
        VISUAL_CUES: (
            "I consent to the analysis of visual cues in my video (whether a face is visible, "
            "head pose, gaze towards the camera). No emotions are inferred and these cues are "
            "never used for a score."
        ),
        BIOMETRIC: (
            "Separate consent to biometric processing: I consent to the processing of my facial "
            "features (face detection and face landmarks) in my video recordings for this "
            "interview only. I may refuse without any effect on being interviewed."
        ),
        FACIAL_RECOGNITION_WAIVER: (
            "Waiver (Maryland Labor and Employment Art. 3-717): I consent to the use of facial "
            "recognition services during this interview to create a facial template. I sign "
            "this waiver with my name below."
        ),
    },
    "zh": {
        AI_EVALUATION: (
            "我已阅读上述告知，包括自动化评估如何运作以及所使用的特征。我同意以人工智能辅助方式"
            "评估我录制的回答。每项结果都由人员审核，所有决定均由人员做出。"
        ),
        VISUAL_CUES: (
            "我同意对我的视频进行视觉线索分析（是否可见人脸、头部姿态、是否注视摄像头）。"
            "不会推断情绪，这些线索绝不用于评分。"
        ),
        BIOMETRIC: (
            "生物识别处理的单独同意：我同意仅为本次面试处理我视频中的面部特征（人脸检测与面部"
            "关键点）。我可以拒绝，拒绝不影响参加面试。"
        ),
        FACIAL_RECOGNITION_WAIVER: (
            "弃权书（马里兰州劳动与就业法第3-717条）：我同意在本次面试中使用人脸识别服务生成"
            "面部模板。我在下方签署我的姓名。"
        ),
    },
}


class RoomConsentError(ApplianceError):
    """The consent form is incomplete (e.g. a waiver without a name)."""


def room_language(language: str | None) -> str:
    """`en` or `zh` for a locale or language code."""
    return "zh" if (language or "").lower().startswith("zh") else "en"


def consent_text(kind: str, language: str) -> str:
    """The room's text for a consent kind, with its version line (exactly as shown)."""
    lang = room_language(language)
    return f"[{ROOM_TEXTS_VERSION} {lang}]\n{_TEXTS[lang][kind]}"


@dataclass(frozen=True)
class ConsentForm:
    """What the consent page shows for one interview."""

    regions: tuple[str, ...]
    notices: tuple[Notice, ...]
    ai_offered: bool  # a published notice exists to consent on
    ai_requires_consent_before: bool  # Illinois
    visual_cues_offered: bool
    biometric_offered: bool  # China: a consent of its own
    waiver_offered: bool  # Maryland
    texts: dict[str, str]
    notice_texts: tuple[str, ...]


def consent_form(store: Store, interview_id: int, language: str) -> ConsentForm:
    """The notices and consents this interview's regions call for."""
    lang = room_language(language)
    regions = tuple(regions_for_interview(store, interview_id))
    notices: list[Notice] = []
    for region in (*regions, "default"):
        notice = current_notice(store, region, "zh_CN" if lang == "zh" else "en")
        if notice is None and lang == "zh":
            notice = current_notice(store, region, "zh")
        if notice is not None and notice.id not in {n.id for n in notices}:
            notices.append(notice)
        if notices and region == "default":
            break
    settings = _settings(store, list(regions))
    visual_enabled = any(
        settings.get(f"setting.visual_cues_enabled@{region}", False) for region in regions
    )
    return ConsentForm(
        regions=regions,
        notices=tuple(notices),
        ai_offered=bool(notices),
        ai_requires_consent_before="US-IL" in regions,
        visual_cues_offered=visual_enabled and any(r not in ("CN", "US-MD") for r in regions),
        biometric_offered="CN" in regions,
        waiver_offered="US-MD" in regions,
        texts={kind: consent_text(kind, lang) for kind in _TEXTS[lang]},
        # The job's coding round, where it has one, is named in the notice the candidate reads.
        notice_texts=tuple(
            notice_text(n, rounds_for_interview(store, interview_id)) for n in notices
        ),
    )


@dataclass(frozen=True)
class ConsentAnswers:
    """What the candidate chose on the consent page."""

    ai_evaluation: bool
    visual_cues: bool = False
    biometric: bool = False
    waiver_signed_name: str = ""
    waiver_read: bool = False


def _record(
    store: Store,
    room: RoomSession,
    kind: str,
    text: str,
    language: str,
    *,
    notice_id: int | None = None,
    signed_name: str | None = None,
    read_confirmed: bool | None = None,
    interview_date: str | None = None,
) -> int:
    """Store one consent the candidate gave in the room (no principal: given now)."""
    return record_consent(
        store,
        None,
        interview_id=room.interview_id,
        kind=kind,
        text_shown=text,
        language=language,
        notice_id=notice_id,
        signed_name=signed_name,
        read_confirmed=read_confirmed,
        interview_date=interview_date,
    ).id


def _record_given(
    store: Store, room: RoomSession, form: ConsentForm, answers: ConsentAnswers, language: str
) -> list[int]:
    """Store the consents given after accepting AI analysis, in the order shown; their ids."""
    lang = room_language(language)
    name = answers.waiver_signed_name.strip()
    # The notice(s) shown, then the consent that names the first one (IL-1: before start).
    ids = [
        _record(
            store,
            room,
            AI_EVALUATION,
            "\n\n".join((*form.notice_texts, form.texts[AI_EVALUATION])),
            lang,
            notice_id=form.notices[0].id,
        )
    ]
    if answers.visual_cues and form.visual_cues_offered:
        ids.append(_record(store, room, VISUAL_CUES, form.texts[VISUAL_CUES], lang))
    if answers.biometric and form.biometric_offered:
        ids.append(_record(store, room, BIOMETRIC, form.texts[BIOMETRIC], lang))
    if name and form.waiver_offered:
        zone = PROFILES["US-MD"].timezone
        ids.append(
            _record(
                store,
                room,
                FACIAL_RECOGNITION_WAIVER,
                form.texts[FACIAL_RECOGNITION_WAIVER],
                lang,
                signed_name=name,
                read_confirmed=answers.waiver_read,
                interview_date=utcnow().astimezone(ZoneInfo(zone)).date().isoformat(),
            )
        )
    return ids


def _save_choice(
    store: Store, room: RoomSession, form: ConsentForm, accepted: bool, ids: list[int]
) -> None:
    """Move the room past the consent step with the AI choice, and audit the choice."""
    with store.audited(
        "candidate",
        "room.consent_choice",
        interview=room.interview_id,
        ai="accepted" if accepted else "declined",
        consents=ids,
        texts_version=ROOM_TEXTS_VERSION,
        notices=[n.id for n in form.notices],
    ) as entry:
        store.room.update_session(
            room.id,
            ai_choice="accepted" if accepted else "declined",
            ai_choice_at=now_stamp(),
            stage="device_check",
        )
        candidate = store.candidates.get(store.interviews.get(room.interview_id).candidate_id)
        entry.subject = candidate.pseudonym


def record_room_consents(
    store: Store, room: RoomSession, answers: ConsentAnswers, language: str
) -> list[int]:
    """Store every consent given (exact text, version, time) and the AI choice; returns ids.

    Only at the consent stage: once the questions began, consents change through HR or a
    withdrawal, never by posting the room's form again."""
    if room.stage != "consent":
        raise RoomConsentError("the consent step of this interview is over")
    form = consent_form(store, room.interview_id, language)
    name = answers.waiver_signed_name.strip()
    if form.waiver_offered and name and not answers.waiver_read:
        raise RoomConsentError("confirm that you have read the waiver before signing it")
    # Declining AI analysis declines every consent that depends on it.
    accepted = answers.ai_evaluation and form.ai_offered
    ids = _record_given(store, room, form, answers, language) if accepted else []
    _save_choice(store, room, form, accepted, ids)
    return ids
