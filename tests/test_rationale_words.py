# ruff: noqa: RUF001
"""The scorer's rationale is written in the interview's language; a reviewer reads it in their
own: each known sentence shape is read back into its facts and said again (real scorer output,
the real catalogs), and a sentence of another shape is shown as written."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from appliance.scoring.aggregate import _combine
from appliance.scoring.scorer import _rationale
from webui.report_words import rationale

EN_ANSWER = (
    "Answer 2: STAR parts situation, action, result; result quantified; ownership 80%; "
    "specificity 65%; relevance 91%."
)
ZH_ANSWER = "回答1：STAR要素 情境、行动；结果未量化；个人主导 50%；具体性 40%；相关度 88%。"
EN_OTHER = (
    "Answer 3 was given in Chinese, not English: scored in the language it was given in, "
    "with lower confidence."
)


@pytest.fixture
def context(web):  # type: ignore[no-untyped-def]
    app, _store = web
    with app.test_request_context():
        yield


def _cjk(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def test_english_rationale_reads_in_chinese(context) -> None:  # type: ignore[no-untyped-def]
    with force_locale("zh_CN"):
        said = rationale(f"{EN_OTHER} {EN_ANSWER}")
        assert not re.search(r"[A-Za-z]{3,}", said.replace("STAR", "")), said
        assert "回答3" in said and "80" in said and "91" in said and "情境" in said
        assert rationale("Combined from 3 answer(s) across the interview.") == "由3个回答综合得出。"
        assert _cjk(rationale("No answer in this interview addressed this competency."))


def test_chinese_rationale_reads_in_english(context) -> None:  # type: ignore[no-untyped-def]
    with force_locale("en"):
        said = rationale(ZH_ANSWER)
        assert not _cjk(said), said
        assert said.startswith("Answer 1: STAR parts situation, action; the result is not")
        assert "own part 50 %" in said and "relevance 88 %" in said
        assert rationale("由2个回答综合得出。") == "Combined from 2 answers across the interview."


def test_an_unknown_sentence_is_shown_as_written(context) -> None:  # type: ignore[no-untyped-def]
    with force_locale("zh_CN"):
        odd = "A reviewer's own words about the score."
        assert rationale(odd) == odd
        assert rationale(f"{EN_ANSWER} and then something else") == (
            f"{EN_ANSWER} and then something else"
        )
        assert rationale(None) == ""


def test_the_shapes_are_the_scorers_own(context) -> None:  # type: ignore[no-untyped-def]
    """The sentences the scorer writes today are all recognised (so a change there shows)."""
    from types import SimpleNamespace

    answers = [
        {
            "language": lang,
            "star": {"situation": [1], "task": [], "action": [1], "result": [1]},
            "quantified_result": True,
            "ownership": 0.7,
            "specificity": 0.6,
        }
        for lang in ("en", "zh")
    ]
    for language in ("en", "zh"):
        used = [SimpleNamespace(answer=i, relevance=0.9) for i in range(2)]
        written = _rationale(used, answers, language)  # type: ignore[arg-type]
        entry: dict[str, object] = {}
        _combine(entry, [{"score": 7, "confidence": 0.8, "evidence": []}], {}, language)
        for sentence in (written, str(entry["rationale"])):
            with force_locale("zh_CN" if language == "en" else "en"):
                again = rationale(sentence)
            assert again != sentence, sentence
            assert _cjk(again) == (language == "en"), again
