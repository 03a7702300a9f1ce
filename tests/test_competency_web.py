"""Competency dictionaries and starter models end to end: the import page and the model editor
in a real browser (served appliance, Debian chromium), and the competency-model API, all over
the real encrypted store."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.accounts.auth import issue_api_token
from appliance.store import Store
from tests.conftest import Appliance, make_appliance, make_user
from tests.support.browser import chromium, require_chromium
from tests.support.serving import serving

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _job(store: Store, region: str = "EU") -> int:
    with store.transaction():
        return store.requisitions.create("Support agent", "Service", "Berlin", region).id


@pytest.fixture
def api(web: tuple[Any, Store]) -> Iterator[tuple[Any, Store, dict[str, str], dict[str, str]]]:
    """A test client with bearer tokens of an HR admin (EU) and a business lead (read only)."""
    app, store = web
    hr = make_user(store, "hr.eu", "hr_admin", departments=["*"], regions=["EU"])
    lead = make_user(store, "lead.eu", "business_lead", departments=["*"], regions=["EU"])
    hr_token = issue_api_token(store, hr, hr, "hr").secret
    lead_token = issue_api_token(store, lead, lead, "lead").secret
    yield (
        app.test_client(),
        store,
        {"Authorization": f"Bearer {hr_token}"},
        {"Authorization": f"Bearer {lead_token}"},
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_api_validates_a_dictionary_then_saves_the_edited_draft_as_a_version(api: Any) -> None:
    client, store, hr, lead = api
    job = _job(store)
    bad = b"id,name,weight\nservice,Service,1\nservice,Again,x\n"
    reply = client.post(
        "/api/v1/competency-dictionaries",
        headers=hr,
        json={"filename": "d.csv", "content_base64": _b64(bad)},
    )
    assert reply.status_code == 422
    problems = reply.get_json()["error"]["problems"]
    assert {"where": "line 3, column weight", "message": "weight 'x' is not a number"} in problems
    assert store.competency.latest("Support agent") is None

    junk = os.urandom(10 * 1024 * 1024)
    reply = client.post(
        "/api/v1/competency-dictionaries",
        headers=hr,
        json={"filename": "d.xlsx", "content_base64": _b64(junk)},
    )
    assert reply.status_code in (413, 422)

    good = (EXAMPLES / "competency-dictionary.yaml").read_bytes()
    reply = client.post(
        "/api/v1/competency-dictionaries",
        headers=hr,
        json={
            "filename": "d.yaml",
            "content_base64": _b64(good),
            "role": "support agent",
            "role_zh": "客服",
        },
    )
    assert reply.status_code == 200, reply.get_json()
    draft = reply.get_json()["model"]
    assert draft["id"] is None and draft["origin"] == "import"
    first = draft["competencies"][0]
    assert first["questions"]["en"][0].startswith("Tell me about a time as a support agent")
    assert first["anchors"]["9"]["zh"]
    first["questions"]["en"] = ["Tell me about a customer you won back. What did you do?"]
    # A read-only role may look but not save.
    refused = client.put(f"/api/v1/requisitions/{job}/competency-model", headers=lead, json=draft)
    assert refused.status_code == 403
    saved = client.put(f"/api/v1/requisitions/{job}/competency-model", headers=hr, json=draft)
    assert saved.status_code == 201, saved.get_json()
    model = saved.get_json()["model"]
    assert (model["name"], model["version"], model["origin"]) == (
        "Customer service agent",
        1,
        "import",
    )
    stored = store.competency.spec(model["id"])
    assert stored.dimensions[0].questions_in("en") == [
        "Tell me about a customer you won back. What did you do?"
    ]
    assert stored.dimensions[0].keywords_in("zh") == ["客户", "反馈", "投诉", "满意度"]
    assert store.requisitions.get(job).competency_model_id == model["id"]
    shown = client.get(f"/api/v1/requisitions/{job}/competency-model", headers=lead)
    assert shown.status_code == 200 and shown.get_json()["model"]["version"] == 1
    [event] = store.audit.entries(action="competency_model.saved")
    assert event.details["origin"] == "import" and event.details["version"] == 1


def test_api_lists_starter_models_and_rejects_bad_models(api: Any) -> None:
    client, store, hr, lead = api
    starters = client.get("/api/v1/competency-starters", headers=lead).get_json()["starters"]
    assert [s["key"] for s in starters] == [
        "executive_leadership",
        "product_manager",
        "production_supervisor",
        "sales_representative",
        "software_engineer",
    ]
    job = _job(store)
    reply = client.put(
        f"/api/v1/requisitions/{job}/competency-model",
        headers=hr,
        json={"competencies": [{"id": "a", "name": "A", "weight": -1}]},
    )
    assert reply.status_code == 422
    assert store.requisitions.get(job).competency_model_id is None
    other_region = _job(store, "US-IL")
    reply = client.put(
        f"/api/v1/requisitions/{other_region}/competency-model",
        headers=hr,
        json=starters[0]["model"],
    )
    assert reply.status_code == 404


# --- in a real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Appliance, Store, str]]:
    require_chromium()

    root = tmp_path_factory.mktemp("competency-browser")
    appliance = make_appliance(root)
    store = appliance.open_store()
    make_user(store, "hr.eu", "hr_admin", departments=["*"], regions=["EU"])
    try:
        with serving(appliance, root) as server:
            yield appliance, store, f"http://127.0.0.1:{server.port}"
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.browser
def test_hr_imports_a_dictionary_edits_questions_and_installs_a_starter_in_the_browser(
    served: tuple[Appliance, Store, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from tests.conftest import USER_PASSWORD

    _appliance, store, base = served
    job = _job(store)
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"id,name,weight\nteam,Team,1\nteam,Team,2\n")
    with chromium() as browser:
        page = browser.new_context().new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{base}/login")
        page.fill("#username", "hr.eu")
        page.fill("#password", USER_PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(f"{base}/")

        page.goto(f"{base}/jobs/{job}/model/import")
        page.set_input_files("#dictionary", str(broken))
        page.click("form[enctype] button[type=submit]")
        expect(page.locator("ul.problems")).to_contain_text(
            "line 3: duplicate id 'team' (first at line 2)"
        )
        assert store.requisitions.get(job).competency_model_id is None

        page.set_input_files("#dictionary", str(EXAMPLES / "competency-dictionary.xlsx"))
        page.fill("#role", "support agent")
        page.fill("#role_zh", "客服专员")
        page.click("form[enctype] button[type=submit]")
        expect(page.locator("p.notice")).to_be_visible()
        first_en = page.locator("#dim-0-questions-en")
        assert "Tell me about a time as a support agent" in first_en.input_value()
        assert "客服专员" in page.locator("#dim-0-questions-zh").input_value()
        assert page.locator("#dim-0-anchor-9-en").input_value().startswith("Changed a process")
        # Each competency is a collapsed section with its name; open the first to edit it.
        expect(page.locator("#dimension-0 > summary")).to_contain_text("weight")
        expect(first_en).to_be_hidden()
        page.click("#dimension-0 > summary")
        first_en.fill("Tell me about a customer whose mind you changed.")
        page.click("form.model-editor button[type=submit]")
        page.wait_for_url(f"{base}/jobs/{job}")
        expect(page.locator("body")).to_contain_text("from an imported dictionary")
        expect(page.locator("body")).to_contain_text("Changed a process from customer")
        model_id = store.requisitions.get(job).competency_model_id
        assert model_id is not None
        spec = store.competency.spec(model_id)
        assert spec.origin == "import" and spec.version == 1
        assert spec.dimensions[0].questions_in("en") == [
            "Tell me about a customer whose mind you changed."
        ]

        page.goto(f"{base}/jobs/{job}/model")
        page.select_option("#starter", "sales_representative")
        page.click("#starter-form button[type=submit]")
        assert page.locator("#dim-0-key").input_value() == "prospecting"
        # The picker keeps the starter chosen (it used to jump back to the first one).
        assert page.locator("#starter").input_value() == "sales_representative"
        page.click("form.model-editor button[type=submit]")
        page.wait_for_url(f"{base}/jobs/{job}")
        expect(page.locator("body")).to_contain_text("from a built-in starter model")
        newer = store.competency.spec(store.requisitions.get(job).competency_model_id or 0)
        # The job keeps its model's name; the starter's content is its version 2.
        assert (newer.name, newer.version, newer.origin) == (spec.name, 2, "starter")
        assert [d.key for d in newer.dimensions][:2] == ["prospecting", "negotiation_closing"]
        assert store.competency.spec(model_id) == spec  # version 1 is unchanged


GAPPY = (
    "id,name,name_zh,weight,description,keywords_en,anchor_3_en,anchor_6_en,anchor_9_en\n"
    "service,Service,服务,2,Helps customers,customer;complaint,Vague.,Some.,Measured.\n"
    "calm,Calm under pressure,抗压,1,Stays calm when it gets busy,,,,\n"
    "care,Care,关怀,1,Looks after people,patient;family,,,\n"
).encode()


def test_import_says_what_a_competency_without_anchors_or_keywords_loses(api: Any) -> None:
    from tests.conftest import csrf_token_from, login

    client, store, hr, _lead = api
    reply = client.post(
        "/api/v1/competency-dictionaries",
        headers=hr,
        json={"filename": "d.csv", "content_base64": _b64(GAPPY)},
    )
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["scoring_gaps"] == [
        {"competency": "calm", "missing": ["anchors", "keywords"]},
        {"competency": "care", "missing": ["anchors"]},
    ]
    job = _job(store)
    viewer = make_user(store, "hr.gaps", "hr_admin", departments=["*"], regions=["EU"])
    browser = client.application.test_client()
    assert login(browser, "hr.gaps").status_code == 302
    for language, expected in (
        ("en", "Calm under pressure has no level anchors and no keywords"),
        ("zh_CN", "“抗压”没有等级锚点，也没有关键词"),  # noqa: RUF001
    ):
        with store.transaction():
            store.users.set_preferences(viewer, language=language, timezone="UTC")
        page = browser.get(f"/jobs/{job}/model/import")
        token = csrf_token_from(page.get_data(as_text=True))
        shown = browser.post(
            f"/jobs/{job}/model/import",
            data={"csrf_token": token, "dictionary": (io.BytesIO(GAPPY), "d.csv")},
            content_type="multipart/form-data",
        )
        html = shown.get_data(as_text=True)
        assert shown.status_code == 200 and 'id="scoring-gaps"' in html
        block = html.split('id="scoring-gaps"', 1)[1].split("</div>", 1)[0]
        assert expected in block, language
        assert block.count("<li>") == 2 and "Service" not in block and "服务" not in block
    # Nothing is stored until the draft is saved.
    assert store.requisitions.get(job).competency_model_id is None


def test_a_new_job_can_start_from_a_built_in_model(web: tuple[Any, Store]) -> None:
    from tests.conftest import csrf_token_from, login

    app, store = web
    make_user(store, "hr.newjob", "hr_admin", departments=["*"], regions=["*"])
    client = app.test_client()
    assert login(client, "hr.newjob").status_code == 302
    form = client.get("/jobs/new").get_data(as_text=True)
    assert 'value="starter:software_engineer"' in form
    fields = {
        "csrf_token": csrf_token_from(form),
        "title": "Backend engineer",
        "department": "Engineering",
        "location": "Berlin",
        "region": "EU",
        "status": "open",
    }
    bogus = client.post("/jobs/new", data={**fields, "competency_model_id": "starter:astronaut"})
    assert bogus.status_code == 422 and "Choose a built-in model" in bogus.get_data(as_text=True)
    created = client.post(
        "/jobs/new", data={**fields, "competency_model_id": "starter:software_engineer"}
    )
    assert created.status_code == 303
    assert created.headers["Location"].endswith("/model/starter/software_engineer")
    editor = client.get(created.headers["Location"]).get_data(as_text=True)
    assert 'value="software_engineer" selected' in editor  # the picker keeps the choice
    assert 'id="model-sections"' in editor and editor.count('class="card dimension-section"') >= 4
    assert "technical_problem_solving" in editor
    job = max(r.id for r in store.requisitions.all())
    assert store.requisitions.get(job).competency_model_id is None  # saved only when HR saves
