"""Competency models in the encrypted store (anchors, keywords, versions), the built-in starter
models, dictionary parsing with line-precise errors, and question generation."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from openpyxl import Workbook

from appliance.competency import (
    DictionaryError,
    dictionary_to_spec,
    parse_dictionary,
    starter_keys,
    starter_spec,
)
from appliance.competency.dictionary import MAX_BYTES
from appliance.store import Store
from appliance.store.competency import Anchor, DimensionSpec, Keyword, ModelSpec, Question
from tests.conftest import Appliance

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HEADER = "id,name,weight,keywords_en,keywords_zh"


def _problems(data: bytes, filename: str) -> list[str]:
    with pytest.raises(DictionaryError) as caught:
        parse_dictionary(data, filename)
    return [str(p) for p in caught.value.problems]


def test_spec_with_anchors_and_keywords_round_trips_and_every_save_is_a_version(
    store: Store,
) -> None:
    dim = DimensionSpec(
        "problem_solving",
        "Problem solving",
        1.0,
        "Finds causes.",
        "问题解决",
        (Question("en", "Tell me about a bug."), Question("zh", "请讲一个缺陷。")),
        (Anchor(3, "en", "Vague."), Anchor(9, "en", "Measured."), Anchor(9, "zh", "量化。")),
        (Keyword("en", "root cause"), Keyword("zh", "根因"), Keyword("en", "root cause")),
    )
    with store.transaction():
        first = store.competency.save(ModelSpec("Engineer", (dim,), "d", origin="starter"))
    assert (first.version, first.origin) == (1, "starter")
    assert first.dimensions[0].anchor(9, "zh") == "量化。"
    assert first.dimensions[0].anchor(6, "en") == ""
    assert first.dimensions[0].keywords_in("en") == ["root cause"]  # duplicates dropped
    assert first.dimensions[0].name_zh == "问题解决"
    changed = DimensionSpec(
        dim.key,
        dim.name,
        1.0,
        dim.description,
        dim.name_zh,
        dim.questions,
        (Anchor(3, "en", "Still vague."),),
        (),
    )
    with store.transaction():
        second = store.competency.save(ModelSpec("Engineer", (changed,)))
    assert second.version == 2 and second.label == "Engineer v2"
    assert first.id is not None
    again = store.competency.spec(first.id)
    assert again == first  # a saved version never changes
    assert [v.version for v in store.competency.versions("Engineer")] == [2, 1]
    # The questions read back as they were saved.
    assert store.competency.spec(first.id).dimensions[0].questions == dim.questions


def test_starter_models_are_complete_in_both_languages() -> None:
    assert starter_keys() == [
        "executive_leadership",
        "product_manager",
        "production_supervisor",
        "sales_representative",
        "software_engineer",
    ]
    for key in starter_keys():
        spec = starter_spec(key)
        assert len(spec.dimensions) >= 4
        assert abs(sum(d.weight for d in spec.dimensions) - 1.0) < 1e-6
        for dim in spec.dimensions:
            assert dim.name_zh, (key, dim.key)
            for level in (3, 6, 9):
                assert dim.anchor(level, "en") and dim.anchor(level, "zh")
            assert len(dim.keywords_in("en")) >= 8 and len(dim.keywords_in("zh")) >= 8
            assert dim.questions_in("en") and dim.questions_in("zh")


@pytest.mark.parametrize("suffix", ["csv", "xlsx", "json", "yaml"])
def test_example_dictionaries_import_in_every_format(suffix: str) -> None:
    path = EXAMPLES / f"competency-dictionary.{suffix}"
    parsed = parse_dictionary(path.read_bytes(), path.name)
    spec = dictionary_to_spec(parsed, role="customer service agent", role_zh="客服专员")
    assert len(spec.dimensions) >= 2
    assert abs(sum(d.weight for d in spec.dimensions) - 1.0) < 1e-6
    for dim in spec.dimensions:
        assert dim.questions_in("en") and dim.questions_in("zh")
    first = spec.dimensions[0]
    assert first.anchor(3, "en") and first.keywords_in("zh")


def test_generated_questions_are_behavioural_role_specific_and_bilingual() -> None:
    data = (HEADER + "\nnegotiation,Negotiation,1,price;objection,价格;异议\n").encode()
    spec = dictionary_to_spec(
        parse_dictionary(data, "d.csv"), role="sales representative", role_zh="销售代表"
    )
    english = spec.dimensions[0].questions_in("en")
    chinese = spec.dimensions[0].questions_in("zh")
    assert len(english) == 3 and len(chinese) == 3
    assert english[0].startswith("Tell me about a time as a sales representative")
    assert "price" in english[1] and "objection" in english[2]
    assert "销售代表" in chinese[0] and "价格" in chinese[1]
    again = dictionary_to_spec(
        parse_dictionary(data, "d.csv"), role="sales representative", role_zh="销售代表"
    )
    assert again == spec  # deterministic


def test_missing_and_unknown_columns_are_named_on_line_one() -> None:
    problems = _problems(b"id,name,wieght\nx,X,1\n", "d.csv")
    assert "line 1, column 3 ('wieght'): unknown column 'wieght'" in problems[0]
    assert problems[1] == "line 1: missing required column(s): weight"


def test_row_errors_carry_their_line_and_column() -> None:
    data = (
        HEADER + "\n"
        "teamwork,Teamwork,1,,\n"
        "\n"
        "teamwork,Teamwork again,2,,\n"
        "Bad Key,Bad,high,,\n"
        '"quoted","multi\nline name",0,,\n'
    ).encode()
    problems = _problems(data, "d.csv")
    assert "line 5, column id: id 'Bad Key' must start with a-z" in problems[0]
    assert "line 5, column weight: weight 'high' is not a number" in problems
    assert "line 6, column weight: weight must be a number above 0" in problems
    assert "line 4: duplicate id 'teamwork' (first at line 2)" in problems


def test_xlsx_errors_name_sheet_row_and_column() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "dictionary"
    sheet.append(["id", "name", "weight"])
    sheet.append(["a", "A", 1])
    sheet.append(["a", "", -2])
    buffer = io.BytesIO()
    book.save(buffer)
    problems = _problems(buffer.getvalue(), "d.xlsx")
    assert "sheet 'dictionary', row 3, column B (name): name is required" in problems
    assert "sheet 'dictionary', row 3, column C (weight): weight must be a number above 0" in (
        problems
    )


def test_yaml_and_json_errors_point_at_lines() -> None:
    yaml_text = (
        b"name: M\ncompetencies:\n  - id: a\n    name: A\n    weight: 1\n"
        b"  - id: a\n    name: B\n    weight: x\n    anchors:\n      5: {en: no}\n"
    )
    problems = _problems(yaml_text, "d.yaml")
    assert "line 10: anchor levels are 3, 6 and 9" in problems
    assert "line 8, field weight: weight 'x' is not a number" in problems
    assert _problems(b'{"name": "M",\n "competencies": [\n  {"id": "a",}\n]}', "d.json") == [
        "line 3, column 14: invalid JSON: Expecting property name enclosed in double quotes"
    ]
    assert _problems(b"name: [unclosed\ncompetencies: []\n", "d.yaml")[0].startswith("line 2")


def test_bad_encoding_names_the_line_of_the_first_bad_byte() -> None:
    data = (HEADER + "\nteamwork,Teamwork,1,,\n").encode() + "ok,客户,1,,\n".encode("gbk")
    problems = _problems(data, "d.csv")
    assert problems == [
        "line 3, character 4: the file is not valid UTF-8 text (save it as UTF-8, for example "
        "'CSV UTF-8' in a spreadsheet program)"
    ]


def test_ten_megabytes_of_junk_are_refused_before_parsing() -> None:
    junk = os.urandom(10 * 1024 * 1024)
    assert _problems(junk, "d.csv") == ["the file is 10.0 MB; a dictionary may be at most 2 MB"]
    small_junk = os.urandom(MAX_BYTES // 4)
    assert len(_problems(small_junk, "d.xlsx")) == 1
    assert _problems(small_junk, "d.yaml")[0].startswith("line ")


def test_demo_data_installs_every_starter_model(appliance: Appliance) -> None:
    from appliance.cli.demo import load_demo_data

    opened = appliance.open_store()
    try:
        load_demo_data(opened, appliance.config)
        for key in starter_keys():
            installed = opened.competency.latest(starter_spec(key).name)
            assert installed is not None and installed.origin == "starter"
            assert installed.dimensions == starter_spec(key).dimensions
        engineer = opened.competency.latest("Software engineer")
        assert engineer is not None
        assert engineer.dimensions[0].anchor(9, "zh")
    finally:
        opened.close()
