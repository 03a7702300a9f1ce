"""axe-core accessibility checks of the main pages in a real browser (Debian chromium via
Playwright) against `python -m appliance serve`: no critical violation on any of them, in English
and in Chinese, for an HR admin, an auditor and a candidate in the interview room.

axe comes from the axe-playwright-python wheel (a test dependency): its bundled axe.min.js is
evaluated in each page, so nothing is fetched while the tests run. Every finding, with the
checks axe could not decide itself ("review:"), is printed as a table of page, impact, rule and
element count (`pytest -s` shows it) and written to tests/artifacts/accessibility-*.txt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from appliance.privacy.erasure import open_request, place_hold
from appliance.store import Store
from tests.conftest import REPO, USER_PASSWORD, make_appliance, make_user
from tests.support.analysed_reports import analysed_report
from tests.support.browser import chromium, require_chromium
from tests.support.hiring_world import Applicant, build
from tests.support.room_fixtures import room_setup
from tests.support.scheduling_world import candidate_request, make_world
from tests.support.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "tests" / "artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
IMPACTS = ("critical", "serious", "moderate", "minor")
# Every node of the undecided checks too: they go into the table for a person to look at.
AXE_OPTIONS = {"resultTypes": ["violations", "incomplete"]}

require_chromium(module=True)

from playwright.sync_api import Browser, Page, expect  # noqa: E402 - after the skip above

from tests.support.accessibility import axe_results  # noqa: E402


@dataclass
class Findings:
    """What axe found on the pages one test checked."""

    # (page, impact, rule) -> elements; an impact of "review:serious" is an undecided check
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)
    critical: list[str] = field(default_factory=list)
    pages: int = 0

    def check(self, page: Page, name: str) -> None:
        """Run axe on the page as it is now and record what it finds under `name`."""
        page.wait_for_load_state("load")
        results = axe_results(page, AXE_OPTIONS)
        # axe really looked at this page: a script that never ran would find nothing wrong.
        assert results["url"] == page.url and results["passes"], (name, results["url"])
        self.pages += 1
        for kind in ("violations", "incomplete"):
            for rule in results[kind]:
                impact = rule["impact"] or "minor"
                if kind == "incomplete":
                    impact = f"review:{impact}"
                self.counts[(name, impact, rule["id"])] += len(rule["nodes"])
                first = rule["nodes"][0] if rule["nodes"] else {}
                why = [c["message"] for k in ("any", "all", "none") for c in first.get(k, [])]
                targets = "; ".join(" ".join(node["target"]) for node in rule["nodes"][:5])
                line = f"{name} | {impact} | {rule['id']} | {targets} | {' / '.join(why)}"
                self.lines.append(line)
                if impact == "critical":
                    self.critical.append(line)

    def report(self, title: str) -> None:
        """Print and save the table; fail on any critical violation."""
        rows = sorted(self.counts.items(), key=lambda row: (row[0][0], _rank(row[0][1])))
        table = [f"{title}: {self.pages} pages checked", f"{'page':18} {'impact':16} rule: count"]
        table += [f"{page:18} {impact:16} {rule}: {n}" for (page, impact, rule), n in rows]
        totals: Counter[str] = Counter()
        for (_, impact, _), n in self.counts.items():
            totals[impact] += n
        table.append(
            "elements by impact: "
            + (", ".join(f"{i} {totals[i]}" for i in sorted(totals, key=_rank)) or "none")
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        text = "\n".join([*table, "", *self.lines]) + "\n"
        (ARTIFACTS / f"accessibility-{title}.txt").write_text(text, encoding="utf-8")
        print("\n" + "\n".join(table))
        assert self.critical == [], "\n".join(self.critical)


def _rank(impact: str) -> int:
    """Sort order: critical first, the undecided checks after every decided one."""
    base = IMPACTS.index(impact.removeprefix("review:"))
    return base + (len(IMPACTS) if impact.startswith("review:") else 0)


@dataclass
class Site:
    """A served appliance with an HR admin in English, one in Chinese, an auditor, a room link."""

    base: str
    browser: Browser
    candidate_id: int
    requisition_id: int
    room_token: str
    report_interview_id: int
    request_id: int

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def page(self, **context: Any) -> Page:
        opened = self.browser.new_context(**(context or {"viewport": DESKTOP})).new_page()
        opened.set_default_timeout(30_000)
        return opened


def _history() -> list[Applicant]:
    """Twelve scored applicants, half of them hired with a probation result and a rating."""
    people = []
    for index in range(12):
        hired = index % 2 == 0
        people.append(
            Applicant(
                (float(3 + index % 7), float(2 + index % 5)),
                "hire" if hired else "reject",
                start_date="2025-01-06" if hired else None,
                probation="passed" if hired and index % 4 else ("failed" if hired else "pending"),
                ratings=(("2025-12-15", 3.5),) if hired else (),
            )
        )
    return people


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("accessibility")
    appliance = make_appliance(root, web={"cookie_secure": True})
    store: Store = appliance.open_store()
    # Every page below shows real rows: a job with a competency model and a published notice,
    # a candidate with an interview and a room link, an analysed interview (the report), a
    # hiring history with outcomes (the analytics charts), an open scheduling request with
    # interviewers' hours, and a data-subject request and a legal hold (the privacy tables).
    setup = room_setup(store, name="Ada Access", username="hr.admin")
    report_interview_id, _, _ = analysed_report(appliance, store, root, name="Rex Report")
    build(store, setup.hr, _history(), region="EU")
    request, _ = candidate_request(make_world(store, appliance.config, interviewers=2))
    open_request(store, setup.hr, candidate_id=setup.candidate_id, kind="access", note="email")
    place_hold(store, setup.hr, candidate_id=setup.candidate_id, reason="a lawsuit")
    make_user(store, "audit.eu", "auditor", regions=["EU"])
    zh_id = make_user(store, "li.hr", "hr_admin", departments=["*"], regions=["*"])
    with store.transaction():
        store.users.set_preferences(zh_id, language="zh_CN", timezone="Asia/Shanghai")
    try:
        with serving(appliance, root) as server, chromium() as browser:
            yield Site(
                f"http://127.0.0.1:{server.port}",
                browser,
                setup.candidate_id,
                setup.requisition_id,
                setup.token,
                report_interview_id,
                request.id,
            )
    finally:
        store.close()


def _hr_pages(site: Site) -> dict[str, str]:
    """The pages an HR admin works in, by a short name: the main ones and the main forms."""
    return {
        "dashboard": "/",
        "candidates": "/candidates",
        "candidate": f"/candidates/{site.candidate_id}",
        "new candidate": "/candidates/new",
        "jobs": "/jobs",
        "job": f"/jobs/{site.requisition_id}",
        "new job": "/jobs/new",
        "report": f"/interviews/{site.report_interview_id}/report",
        "scheduling": "/scheduling",
        "request": f"/scheduling/requests/{site.request_id}",
        "new request": "/scheduling/requests/new",
        "availability": "/scheduling/availability",
        "bias audit": "/compliance/bias",
        "notices": "/compliance/notices",
        "privacy": "/privacy",
        "privacy candidate": f"/privacy/candidates/{site.candidate_id}",
        "system status": "/system/status",
        "users": "/admin/users",
        "account": "/account",
        "analytics": "/analytics",
        "outcomes": "/outcomes",
    }


def _log_in(site: Site, page: Page, username: str, findings: Findings) -> None:
    page.goto(site.url("/login"))
    findings.check(page, "login")
    page.fill("#username", username)
    page.fill("#password", USER_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    expect(page.locator("#username")).to_have_count(0)


def _hr_walk(site: Site, username: str, findings: Findings) -> None:
    page = site.page()
    _log_in(site, page, username, findings)
    for name, path in _hr_pages(site).items():
        response = page.goto(site.url(path))
        assert response is not None and response.status == 200, (path, response)
        findings.check(page, name)
    # axe checks only what is shown, and the menu's lists are hidden until opened: each group
    # open in turn on a desktop, then the opened menu on a phone.
    page.goto(site.url("/"))
    groups = page.locator("#nav details[data-menu-group] > summary")
    for index in range(groups.count()):
        groups.nth(index).click()
        expect(page.locator("#nav details[open] a").first).to_be_visible()
        findings.check(page, f"menu group {index + 1}")
    page.context.close()

    phone = site.page(**PHONE)
    _log_in(site, phone, username, Findings())  # the login page was checked above
    phone.locator(".menu-toggle").tap()
    phone.locator("#nav summary").first.tap()
    expect(phone.locator("#nav details[open] a").first).to_be_visible()
    findings.check(phone, "phone menu")
    phone.context.close()


def test_hr_pages_have_no_critical_violations(site: Site) -> None:
    findings = Findings()
    _hr_walk(site, "hr.admin", findings)
    findings.report("hr-en")


def test_hr_pages_in_chinese_have_no_critical_violations(site: Site) -> None:
    findings = Findings()
    _hr_walk(site, "li.hr", findings)
    findings.report("hr-zh")


def test_auditor_home_and_the_candidate_room(site: Site) -> None:
    findings = Findings()
    page = site.page()
    _log_in(site, page, "audit.eu", findings)
    page.wait_for_url(site.url("/exports"))
    findings.check(page, "auditor home")
    page.context.close()

    room = site.page()
    room.goto(site.url(f"/room/{site.room_token}"))
    expect(room.locator("#who-h")).to_be_visible()
    findings.check(room, "room consent")
    room.locator("input[name=ai][value=accept]").check()
    room.locator("#consent-continue").click()
    expect(room.locator("#self-id-h")).to_be_visible()  # the optional questions (EU)
    findings.check(room, "room about you")
    room.context.close()
    findings.report("auditor-room")
