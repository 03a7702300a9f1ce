# ruff: noqa: RUF001 - full-width punctuation, digits and letters are what these tests feed
"""Error rates compare what was said, not how it was written (issue 15, item 3)."""

from __future__ import annotations

import pytest

from inference.speech.error_rates import comparable_text, error_rate


@pytest.mark.parametrize(
    ("reference", "heard"),
    [
        ("We took three hundred and forty orders.", "we took 340 orders"),
        ("It went from one thousand and one to twelve.", "It went from 1,001 to 12."),
        ("Twenty-one percent, Mr. Smith!", "21% mister smith"),
        ("one zero zero one", "1001"),
        ("The colour of the team's work", "the color of the team's work"),
    ],
)
def test_english_numbers_and_spellings_count_as_spoken(reference: str, heard: str) -> None:
    found = error_rate(reference, heard, "en")
    assert (found.kind, found.value) == ("wer", 0.0), comparable_text(heard, "en")


@pytest.mark.parametrize(
    ("reference", "heard"),
    [
        ("销售额增长了百分之三十，用了三个月。", "銷售額增長了30%，用了3個月"),
        ("二零二四年第二季度，一共十个人。", "2024年第2季度 一共10个人"),
        ("ＡＢＣ１２３", "abc123"),
    ],
)
def test_mandarin_script_numerals_and_width_count_as_spoken(reference: str, heard: str) -> None:
    found = error_rate(reference, heard, "zh-CN")
    assert (found.kind, found.value) == ("cer", 0.0), comparable_text(heard, "zh")


def test_real_errors_are_still_counted() -> None:
    found = error_rate("we sold three hundred orders", "we sold 300 borders", "en")
    assert found.kind == "wer" and found.reference_units == 4
    assert (found.substitutions, found.deletions, found.insertions) == (1, 0, 0)
    assert found.value == pytest.approx(0.25)
    dropped = error_rate("他负责这个项目。", "他负责项目", "zh")
    assert dropped.deletions == 2 and dropped.value == pytest.approx(2 / 7)
    assert error_rate("Guten Tag, Welt", "guten tag welt", "de").value == 0.0


def test_an_empty_reference_is_refused() -> None:
    with pytest.raises(ValueError, match="no words"):
        error_rate(" ,. ", "anything", "en")
