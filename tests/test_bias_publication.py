"""NY-3: a published bias-audit summary can be opened, and downloaded as CSV and PDF, by those
who may view bias audits in its region, with the figures exactly as published."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from flask import Flask
from pypdf import PdfReader

from appliance.accounts.auth import principal_of
from appliance.compliance import bias
from appliance.store import Store
from webui.report_pdf import CJK_FONT_PATHS

from .conftest import login, make_user

Web = tuple[Flask, Store]


def _publish(store: Store) -> int:
    hr = principal_of(
        store.users.get(make_user(store, "hr.pub", "hr_admin", departments=["*"], regions=["*"]))
    )
    people = (
        [bias.Person("Male", "White", True, 7.0)] * 5
        + [bias.Person("Male", "White", False, 4.0)] * 5
        + [bias.Person("Female", "Asian", True, 8.0)] * 4
        + [bias.Person("Female", "Asian", False, 3.0)] * 6
        + [bias.Person(None, None, False, 5.0)] * 2
    )
    summary = bias.compute_summary(
        people, region="US-NYC", audit_date=date(2026, 11, 30), data_source="test history"
    )
    return bias.publish_audit(store, hr, summary).id


def test_published_summary_page_csv_and_pdf(web: Web) -> None:
    app, store = web
    audit_id = _publish(store)
    make_user(store, "audit.nyc", "auditor", regions=["US-NYC"])
    client = app.test_client()
    assert login(client, "audit.nyc").status_code == 302
    listing = client.get("/compliance/bias?region=US-NYC").get_data(as_text=True)
    assert f'href="/compliance/bias/published/{audit_id}"' in listing
    page = client.get(f"/compliance/bias/published/{audit_id}").get_data(as_text=True)
    assert "test history" in page and "2026-11-30" in page and "0.800" in page
    assert "None" not in page
    reply = client.get(f"/compliance/bias/published/{audit_id}.csv")
    assert reply.status_code == 200 and reply.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(reply.get_data(as_text=True))))
    female = next(
        r
        for r in rows
        if r["outcome"] == "selection" and r["dimension"] == "sex" and r["category"] == "Female"
    )
    assert (female["count"], female["selected_or_scored_above_median"]) == ("10", "4")
    assert (female["rate"], female["impact_ratio"], female["flagged_below_0_80"]) == (
        "0.4",
        "0.8",
        "no",
    )
    assert female["unknown_in_dimension"] == "2" and female["individuals"] == "22"
    if not any(path.is_file() for path in CJK_FONT_PATHS):
        pytest.skip("no CJK font for the PDF")
    pdf = client.get(f"/compliance/bias/published/{audit_id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "test history" in text and "Female" in text and "0.800" in text


def test_a_published_summary_stays_in_its_region(web: Web) -> None:
    app, store = web
    audit_id = _publish(store)
    make_user(store, "audit.eu", "auditor", regions=["EU"])
    client = app.test_client()
    login(client, "audit.eu")
    for suffix in ("", ".csv", ".pdf"):
        assert client.get(f"/compliance/bias/published/{audit_id}{suffix}").status_code == 403
    assert client.get("/compliance/bias/published/999999").status_code == 404


def test_impact_ratio_properties_on_random_tables() -> None:
    """Ratios lie in [0, 1], the best group's is exactly 1, a ratio under 0.80 and only such
    is flagged, and a highest rate of 0 leaves every ratio undefined: on 2 000 random tables."""
    import random
    from fractions import Fraction

    rng = random.Random(20261207)
    for _ in range(2000):
        groups = rng.randint(1, 6)
        counts = {}
        for index in range(groups):
            total = rng.randint(0, 60)
            counts[f"g{index}"] = (rng.randint(0, total) if rng.random() > 0.1 else 0, total)
        table = bias.impact_table(counts, unknown=rng.randint(0, 5))
        defined = [row for row in table.groups if row.impact_ratio is not None]
        for row in defined:
            assert Fraction(0) <= row.impact_ratio <= Fraction(1)
            assert row.flagged == (row.impact_ratio < Fraction(4, 5))
        rates = [row.rate for row in table.groups if row.rate is not None]
        if rates and max(rates) > 0:
            assert not table.undefined and any(row.impact_ratio == 1 for row in defined)
        else:
            assert table.undefined and not defined and not any(row.flagged for row in table.groups)
