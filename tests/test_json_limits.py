"""Deeply nested and oversized JSON is refused with 422 before it is parsed, everywhere: the API,
the room, the dictionary and data imports, and the importers themselves (issue 18)."""

from __future__ import annotations

import base64
import io
import json
import time
from typing import Any

import pytest
from flask import Flask

from appliance.accounts.auth import issue_api_token
from appliance.competency.dictionary import DictionaryError, parse_dictionary
from appliance.imports.parsing import ImportSource, parse_source
from appliance.platform.jsonlimits import MAX_DEPTH, JsonLimitError, check_json, json_depth
from appliance.store import Store
from tests.conftest import csrf_token_from, login, make_user
from tests.support.room_fixtures import room_setup

Web = tuple[Flask, Store]
LEVELS = 100_000
NESTED = "[" * LEVELS + "]" * LEVELS
NESTED_OBJECT = '{"a":' * LEVELS + "1" + "}" * LEVELS
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


def _nested_in(key: str, depth: int) -> str:
    """A JSON object whose `key` holds lists nested `depth` deep."""
    return "{" + json.dumps(key) + ":" + "[" * depth + "]" * depth + "}"


# --- the guard ---------------------------------------------------------------------------------


def test_depth_is_measured_without_parsing_and_strings_do_not_count() -> None:
    assert json_depth("1") == 0 and json_depth("[]") == 1 and json_depth('{"a": [[1]]}') == 3
    assert json_depth(NESTED) == LEVELS and json_depth(NESTED_OBJECT) == LEVELS
    # Brackets inside strings, escaped quotes and backslashes do not nest anything.
    assert json_depth(json.dumps({"text": "[[[[{{{{" * 50, "q": 'a\\"[[[', "b": "\\"})) == 1
    assert json_depth('"' + '\\"' * 100_000) == 0  # an unterminated string: linear, no depth
    check_json(_nested_in("x", MAX_DEPTH - 1))  # 32 levels in all: accepted
    with pytest.raises(JsonLimitError, match=TOO_DEEP):
        check_json(_nested_in("x", MAX_DEPTH))
    with pytest.raises(JsonLimitError, match="larger than 1 KiB"):
        check_json(b"[" + b"1," * 600 + b"1]", max_bytes=1024)
    with pytest.raises(JsonLimitError, match=TOO_DEEP):
        check_json(NESTED.encode("utf-16"))  # bytes in any JSON encoding are measured too


# --- the importers, directly -------------------------------------------------------------------


def test_the_data_importer_reports_deep_json_as_a_problem() -> None:
    parsed = parse_source(ImportSource("deep.json", NESTED_OBJECT.encode()))
    assert parsed.document is None
    assert [str(p) for p in parsed.problems] == [f"$: the file is {TOO_DEEP}"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", NESTED),
        ("deep.yaml", NESTED),  # YAML's flow style: the same brackets
        ("deep.yaml", "competencies:\n" + "".join("  " * n + "- \n" for n in range(1, 400))),
    ],
)
def test_the_dictionary_importer_reports_deep_files_as_a_problem(name: str, text: str) -> None:
    with pytest.raises(DictionaryError) as refused:
        parse_dictionary(text.encode(), name)
    assert [p.message for p in refused.value.problems] in (
        [f"the file is {TOO_DEEP}"],
        [TOO_DEEP],
    )


def _yaml_with_alias_field(lines: list[str], alias: str) -> bytes:
    header = "schema: competency-dictionary/1\n" + "\n".join(lines)
    return (header + f"\ncompetencies:\n  - id: a\n    name: *{alias}\n    weight: 1\n").encode()


def test_the_dictionary_importer_refuses_yaml_aliases_before_they_expand() -> None:
    # Each anchor one level deeper: 5 000 levels in 5 000 short lines, no bracket nested twice.
    chain = ["x0: &x0 {k: 1}"] + [f"x{i}: &x{i} {{k: *x{i - 1}}}" for i in range(1, 5000)]
    # Nine times nine ... nine times: a billion values from a file of less than a kilobyte.
    laughs = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
        f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)
    ]
    for text in (_yaml_with_alias_field(chain, "x4999"), _yaml_with_alias_field(laughs, "l9")):
        started = time.perf_counter()
        with pytest.raises(DictionaryError) as refused:
            parse_dictionary(text, "aliases.yaml")
        (problem,) = refused.value.problems  # the first alias, where the anchors begin
        assert problem.message == "aliases (*name) are not allowed"
        assert problem.where.startswith("line 3, column ")
        assert time.perf_counter() - started < 5


# --- the web -----------------------------------------------------------------------------------


@pytest.fixture
def hr_token(web: Web) -> dict[str, str]:
    """The bearer header of an HR administrator who may do everything below."""
    _app, store = web
    user_id = make_user(store, "hr.json", "hr_admin", departments=["*"], regions=["*"])
    return {"Authorization": f"Bearer {issue_api_token(store, user_id, user_id, 'json').secret}"}


def _refused(reply: Any, code: str = "json_limit") -> str:
    assert reply.status_code == 422, reply.get_data(as_text=True)[:300]
    error = reply.get_json()["error"]
    assert error["code"] == code
    return str(error["message"])


def test_the_dictionary_api_refuses_a_deep_file_and_a_deep_body(
    web: Web, hr_token: dict[str, str]
) -> None:
    app, _store = web
    client = app.test_client()
    for name in ("deep.json", "deep.yaml"):
        reply = client.post(
            "/api/v1/competency-dictionaries",
            headers=hr_token,
            json={"filename": name, "content_base64": base64.b64encode(NESTED.encode()).decode()},
        )
        assert TOO_DEEP in _refused(reply, "invalid_dictionary")
    body = '{"filename": "d.json", "content_base64": ' + NESTED + "}"
    reply = client.post(
        "/api/v1/competency-dictionaries",
        headers=hr_token,
        data=body,
        content_type="application/json",
    )
    assert _refused(reply) == f"the JSON body is {TOO_DEEP}"


def test_api_bodies_are_limited_in_depth_and_size(web: Web, hr_token: dict[str, str]) -> None:
    app, _store = web
    client = app.test_client()
    deep = client.post(
        "/api/v1/requisitions",
        headers=hr_token,
        data=_nested_in("title", LEVELS),
        content_type="application/json",
    )
    assert TOO_DEEP in _refused(deep)
    large = '{"title": "' + "x" * (4 << 20) + '"}'
    big = client.post(
        "/api/v1/requisitions", headers=hr_token, data=large, content_type="application/json"
    )
    assert "larger than 4 MiB" in _refused(big)
    # Under the limits the API answers as before.
    fine = client.post(
        "/api/v1/requisitions",
        headers=hr_token,
        json={"title": "Engineer", "department": "R&D", "location": "Berlin", "region": "EU"},
    )
    assert fine.status_code == 201


def test_the_data_import_page_lists_deep_json_as_a_problem(web: Web) -> None:
    app, store = web
    make_user(store, "import.admin", "hr_admin", departments=["*"], regions=["*"])
    client = app.test_client()
    login(client, "import.admin")
    token = csrf_token_from(client.get("/imports").get_data(as_text=True))
    reply = client.post(
        "/imports",
        data={"csrf_token": token, "file": (io.BytesIO(NESTED_OBJECT.encode()), "deep.json")},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 422
    assert f"the file is {TOO_DEEP}" in reply.get_data(as_text=True)


def test_a_room_request_with_a_deep_body_gets_a_json_422(web: Web) -> None:
    app, store = web
    setup = room_setup(store, region="US-IL")
    client = app.test_client()
    page = client.get(f"/room/{setup.token}").get_data(as_text=True)
    client.post(
        f"/room/{setup.token}/consent", data={"ai": "decline", "csrf_token": csrf_token_from(page)}
    )
    csrf = csrf_token_from(client.get(f"/room/{setup.token}/interview").get_data(as_text=True))
    headers = {"X-CSRFToken": csrf}
    state = client.post(f"/room/{setup.token}/begin", json={}, headers=headers).get_json()
    question = state["question"]["id"]
    reply = client.post(
        f"/room/{setup.token}/questions/{question}/takes",
        data=_nested_in("key", LEVELS),
        content_type="application/json",
        headers=headers,
    )
    assert TOO_DEEP in _refused(reply)
    made = client.post(
        f"/room/{setup.token}/questions/{question}/takes",
        json={"key": "json-limit-key-1234", "content_type": "video/webm"},
        headers=headers,
    )
    assert made.status_code == 201


def test_a_live_assist_or_upload_start_with_a_deep_body_is_refused(
    web: Web, hr_token: dict[str, str]
) -> None:
    app, store = web
    setup = room_setup(store)
    client = app.test_client()
    login(client, "hr.room")
    csrf = csrf_token_from(client.get("/account").get_data(as_text=True))
    for path in (
        f"/interviews/{setup.interview_id}/uploads",
        f"/interviews/{setup.interview_id}/live/sessions",
    ):
        reply = client.post(
            path,
            data=NESTED,
            content_type="application/json",
            headers={"X-CSRFToken": csrf},
        )
        assert TOO_DEEP in _refused(reply), path


def test_the_scheduling_forms_have_no_json_fields(web: Web) -> None:
    app, store = web
    room_setup(store)
    client = app.test_client()
    login(client, "hr.room")
    form = client.get("/scheduling/requests/new").get_data(as_text=True)
    assert "JSON" not in form and 'name="pref-0-start"' in form
    # The availability form has no JSON fields any more (a week editor): nothing to refuse.
