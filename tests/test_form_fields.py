"""Form fields of the hiring pages: a one-line field stays one line (it ends up in e-mail
headers, calendar lines and file names); descriptions may break lines, nothing else."""

from __future__ import annotations

import pytest

from appliance.hiring.common import clean_text


@pytest.mark.parametrize("value", ["Asha\r\nBcc: x@evil.example", "Asha\nRao", "A\tB", "A\x00B"])
def test_a_one_line_field_refuses_control_characters(value: str) -> None:
    problems: list[str] = []
    clean_text(value, "the name", problems)
    assert problems == ["the name must be one line without control characters"]


def test_a_description_keeps_its_lines_but_not_other_control_characters() -> None:
    problems: list[str] = []
    assert clean_text("First line\nsecond\tline", "the description", problems, multiline=True)
    assert problems == []
    clean_text("bell\x07", "the description", problems, multiline=True)
    assert problems == ["the description may not contain control characters"]


@pytest.mark.parametrize("value", ["Asha Rao", "张三", "  Zoë O'Brien  "])
def test_ordinary_names_pass_stripped(value: str) -> None:
    problems: list[str] = []
    assert clean_text(value, "the name", problems) == value.strip()
    assert problems == []
