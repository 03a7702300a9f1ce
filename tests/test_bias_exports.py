"""Bias tables in auditors' export bundles, and the NY-2 2 % exclusion with its denominator.

The bundle is built by the real builder on a real encrypted store, decrypted with pyrage and
checked by the standalone verifier (in process, and once as the auditor runs it); its figures
are compared with ones worked out by hand for a small population.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from fractions import Fraction
from math import comb
from pathlib import Path
from typing import Any

import pyrage
import pytest

from appliance.accounts.auth import principal_of
from appliance.audit.verify import verify_bundle
from appliance.compliance import bias
from appliance.exports.build import build_export
from appliance.exports.bundle_files import exports_dir
from appliance.exports.kinds import EXPORT_KINDS
from appliance.exports.recipients import register_recipient
from appliance.exports.requesting import JOB_KIND, request_export
from appliance.platform.clock import utcnow
from appliance.security.permissions import Principal
from appliance.store import Store
from appliance.store.compliance import compliance_of
from appliance.store.exports import ExportRepository

from .conftest import REPO, Appliance, csrf_token_from, login, make_user

TODAY = utcnow().date().isoformat()
WHITE, ASIAN, BLACK = "White", "Asian", "Black or African American"

# (sex, race/ethnicity, assessed, selected) of the NYC job; the selected score 8, the others 4.
POPULATION = [
    ("Male", WHITE, 6, 3),
    ("Female", WHITE, 4, 2),
    ("Male", ASIAN, 4, 2),
    ("Female", ASIAN, 6, 2),
    ("Male", BLACK, 4, 1),
    ("Female", BLACK, 4, 2),
    ("Female", None, 2, 1),
    (None, None, 1, 0),
]


# --- by hand -----------------------------------------------------------------------------------


def fisher_by_hand(a: int, b: int, c: int, d: int) -> Fraction:
    """Two-sided Fisher exact test in exact fractions (every table no likelier than [[a, b],
    [c, d]] with the same margins), independent of the float version under test."""
    row1, row2, col1 = a + b, c + d, a + c

    def p(x: int) -> Fraction:
        return Fraction(comb(row1, x) * comb(row2, col1 - x), comb(row1 + row2, col1))

    observed = p(a)
    return sum(
        (p(x) for x in range(max(0, col1 - row2), min(row1, col1) + 1) if p(x) <= observed),
        Fraction(0),
    )


# --- the 2 % exclusion, both denominators ------------------------------------------------------


# 30 White (15 selected), 19 Asian (9), 1 Black (1) and 2 of unknown race: the Black category
# is 1/52 = 1.9 % of everyone, but exactly 2 % (1/50) of those whose race is known.
SMALL = {WHITE: (15, 30), ASIAN: (9, 19), BLACK: (1, 1)}


def test_the_2_percent_is_of_everyone_by_default_and_of_the_known_on_request() -> None:
    everyone = bias.impact_table(SMALL, unknown=2)
    assert bias.DEFAULT_EXCLUSION_BASE == bias.BASE_ALL == everyone.exclusion_base
    assert everyone.exclusion_denominator == 52 and everyone.total == 52
    assert everyone.group(BLACK).excludable and not everyone.group(ASIAN).excludable
    assert everyone.group(BLACK).share == Fraction(1, 52)

    known = bias.impact_table(SMALL, unknown=2, exclusion_base=bias.BASE_KNOWN)
    assert known.exclusion_denominator == 50 and known.total == 52
    # Exactly 2 % is not "less than 2 %".
    assert not known.group(BLACK).excludable
    assert known.group(BLACK).share == Fraction(1, 52)  # the share of the sample is unchanged


def test_excluding_follows_the_denominator_and_keeps_the_counts() -> None:
    everyone = bias.impact_table(SMALL, unknown=2, exclude_small=True)
    black = everyone.group(BLACK)
    assert black.excluded and black.impact_ratio is None and not black.flagged
    assert (black.count, black.positives, black.rate) == (1, 1, Fraction(1))  # still reported
    assert everyone.excluded == [black]
    # The best of the rest is the reference: White 1/2, Asian 9/19 against it.
    assert everyone.group(WHITE).impact_ratio == 1
    assert everyone.group(ASIAN).impact_ratio == Fraction(18, 19)
    assert not everyone.flagged

    known = bias.impact_table(SMALL, unknown=2, exclude_small=True, exclusion_base=bias.BASE_KNOWN)
    assert known.excluded == []
    assert known.group(BLACK).impact_ratio == 1  # 1 of 1 is the highest rate
    assert known.group(WHITE).impact_ratio == Fraction(1, 2) and known.group(WHITE).flagged
    assert known.group(ASIAN).impact_ratio == Fraction(9, 19)


def test_a_category_under_2_percent_of_both_is_excluded_under_both() -> None:
    counts = {WHITE: (30, 60), ASIAN: (20, 40), BLACK: (0, 1)}  # 1/101 and 1/103
    for base in bias.EXCLUSION_BASES:
        table = bias.impact_table(counts, unknown=2, exclude_small=True, exclusion_base=base)
        assert table.group(BLACK).excluded, base
        assert table.group(ASIAN).impact_ratio == 1 == table.group(WHITE).impact_ratio


def test_ties_for_the_best_rate_both_get_1_and_0_80_is_not_flagged() -> None:
    table = bias.impact_table({"A": (5, 10), "B": (10, 20), "C": (4, 10), "D": (3, 8)})
    a, b, c, d = (table.group(name) for name in "ABCD")
    assert a.impact_ratio == b.impact_ratio == 1 and not a.flagged and not b.flagged
    # The larger of the tied categories is the reference of Fisher's test.
    assert b.fisher_p is None and a.fisher_p == pytest.approx(1.0)
    assert c.impact_ratio == Fraction(4, 5) and not c.flagged  # exactly 0.80
    assert d.impact_ratio == Fraction(3, 4) and d.flagged
    assert d.fisher_p == pytest.approx(float(fisher_by_hand(3, 5, 10, 10)), rel=1e-9)


def test_the_intersection_counts_its_own_known_people() -> None:
    people = (
        [bias.Person("Male", WHITE, True)] * 49
        + [bias.Person("Female", ASIAN, True)]
        + [bias.Person("Female", None, False)] * 3  # sex known, race and intersection unknown
    )
    sex, race, both = bias.selection_tables(people, exclusion_base=bias.BASE_KNOWN)
    assert (sex.exclusion_denominator, race.exclusion_denominator) == (53, 50)
    assert both.exclusion_denominator == 50 and both.unknown == 3
    # 1 of 50 known is exactly 2 %: kept; of all 53 it is under: excludable.
    assert not both.group(f"{ASIAN} · Female").excludable
    everyone = bias.selection_tables(people)[2]
    assert everyone.group(f"{ASIAN} · Female").excludable


def test_an_unknown_denominator_is_refused() -> None:
    with pytest.raises(bias.BiasAuditError, match="share of one of"):
        bias.impact_table(SMALL, exclusion_base="applicants")


def test_the_summary_records_its_denominator_and_what_it_left_out() -> None:
    people = [
        bias.Person("Male" if i % 2 else "Female", race, i < positives, 5.0 + (i % 3))
        for race, (positives, count) in SMALL.items()
        for i in range(count)
    ] + [bias.Person("Male", None, False, 6.0)] * 2
    summary = bias.compute_summary(people, region="US-NYC", exclude_small=True)
    data = summary.as_dict()
    assert data["exclusion_base"] == "all" and data["exclude_small_categories"] is True
    assert data["excludable_share"] == 0.02
    left_out = [row for row in data["excluded_categories"] if row["outcome"] == "selection"]
    assert left_out == [
        {
            "outcome": "selection",
            "dimension": dimension,
            "category": category,
            "count": 1,
            "rate": 1.0,
        }
        for dimension, category in (
            ("race_ethnicity", BLACK),
            ("intersection", f"{BLACK} · Female"),
        )
    ]
    race = next(t for t in data["selection"] if t["dimension"] == "race_ethnicity")
    assert race["exclusion_base"] == "all" and race["exclusion_denominator"] == 52
    known = bias.compute_summary(
        people, region="US-NYC", exclude_small=True, exclusion_base=bias.BASE_KNOWN
    ).as_dict()
    assert known["exclusion_base"] == "known"
    assert all(row["category"] != BLACK for row in known["excluded_categories"])
    # Summaries published before the choice existed say nothing: they used everyone.
    assert bias.exclusion_base_of({"individuals": 3}) == bias.LEGACY_EXCLUSION_BASE == "all"
    assert bias.exclusion_base_of(known) == "known"
    assert bias.exclusion_base_of({"exclusion_base": "nonsense"}) == "all"


# --- the bundle --------------------------------------------------------------------------------


@dataclass
class Population:
    """The NYC job's assessed people, and what must never reach a bias file."""

    names: list[str]
    pseudonyms: list[str]
    china_resident: str  # pseudonym of the NYC candidate who lives in China


def _assess(
    store: Store,
    requisition_id: int,
    decided_by: int,
    name: str,
    sex: str | None,
    race: str | None,
    selected: bool,
    *,
    residence: str = "default",
) -> str:
    candidate = store.candidates.create(name, residence_region=residence)
    with store.transaction():
        interview = store.interviews.create(candidate.id, requisition_id)
        job = store.jobs.enqueue("analyse", max_open=1000, max_attempts=1)
        score = 8.0 if selected else 4.0
        store.reports.create(
            interview.id, job.id, {"scores": {"ownership": {"score": score, "evidence": []}}}
        )
        kind = "advance" if selected else "reject"
        store.decisions.add(candidate.id, requisition_id, kind, "reviewed", decided_by)
        compliance_of(store).demographics.put(candidate.id, sex, race)
    return candidate.pseudonym


def _people(store: Store) -> Population:
    admin = make_user(store, "hr.admin", "hr_admin", departments=["*"], regions=["*"])
    with store.transaction():
        ny = store.requisitions.create("Analyst", "Finance", "New York", "US-NYC")
        eu = store.requisitions.create("Analyst", "Finance", "Berlin", "EU")
    names: list[str] = []
    pseudonyms: list[str] = []
    for sex, race, assessed, selected in POPULATION:
        for i in range(assessed):
            names.append(f"Zelda Q{len(names):03d}x")
            pseudonyms.append(_assess(store, ny.id, admin, names[-1], sex, race, i < selected))
    # Not in the NYC tables: a Berlin candidate, and (for a recipient outside China, CN-3) a
    # NYC candidate who lives in China.
    names.append("Otto Elsewhere")
    pseudonyms.append(_assess(store, eu.id, admin, names[-1], "Male", WHITE, True))
    names.append("Li Resident")
    resident = _assess(store, ny.id, admin, names[-1], "Male", WHITE, True, residence="CN")
    pseudonyms.append(resident)
    while (claim := store.jobs.claim("fixture")) is not None:
        with store.transaction():
            store.jobs.succeed(claim, {})
    return Population(names, pseudonyms, resident)


@pytest.fixture
def population(store: Store) -> Population:
    return _people(store)


@pytest.fixture
def auditor(store: Store) -> Principal:
    user_id = make_user(store, "ny.auditor", "auditor", departments=["*"], regions=["US-NYC"])
    return principal_of(store.users.get(user_id))


def _bundle(
    appliance: Appliance, store: Store, auditor: Principal, country: str, target: Path
) -> Path:
    """Ask for a bias_tables bundle, build it as the worker would, decrypt it to `target`."""
    identity = pyrage.x25519.Identity.generate()
    register_recipient(store, auditor, str(identity.to_public()), country)
    export = request_export(store, auditor, "bias_tables", "US-NYC", TODAY, TODAY)
    claim = store.jobs.claim("test-worker")
    assert claim is not None and claim.job.kind == JOB_KIND
    result = build_export(store, appliance.config, claim.job.payload, lambda _f, _s: None)
    with store.transaction():
        store.jobs.succeed(claim, result)
    built = ExportRepository.of(store).get(export.id)
    assert built.state == "succeeded" and built.bundle_name
    encrypted = exports_dir(appliance.config) / built.bundle_name
    target.write_bytes(pyrage.decrypt(encrypted.read_bytes(), [identity]))
    return target


def _members(tar_path: Path) -> dict[str, bytes]:
    with tarfile.open(tar_path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def _table(rows: list[dict[str, str]], outcome: str, dimension: str) -> dict[str, dict[str, str]]:
    return {
        row["category"]: row
        for row in rows
        if row["outcome"] == outcome and row["dimension"] == dimension
    }


def test_bias_tables_bundle_holds_the_hand_computed_figures_and_verifies(
    appliance: Appliance,
    store: Store,
    population: Population,
    auditor: Principal,
    tmp_path: Path,
) -> None:
    tar_path = _bundle(appliance, store, auditor, "US", tmp_path / "bias.tar")
    files = _members(tar_path)
    assert {"data/bias_tables-0001.csv", "data/bias_summary-0001.csv"} <= set(files)
    manifest = json.loads(files["manifest.json"])
    assert manifest["kind"] == "bias_tables" and manifest["region"] == "US-NYC"
    assert manifest["counts"]["withheld"] == {"china_region_individuals": 1}  # CN-3
    facts = manifest["bias_audit"]
    assert facts["individuals"] == 31 and facts["audit_date"] == TODAY
    assert facts["unknown"] == {"sex": 1, "race_ethnicity": 3, "intersection": 3}
    assert facts["exclusion_base"] == "all" and facts["exclude_small_categories"] is False
    assert facts["period_start"] == manifest["period"]["start"]

    rows = _rows(files["data/bias_tables-0001.csv"])
    race = _table(rows, "selection", "race_ethnicity")
    assert set(race) == {WHITE, ASIAN, BLACK}
    white, asian, black = race[WHITE], race[ASIAN], race[BLACK]
    # 5 of 10, 4 of 10, 3 of 8: ratios 1, exactly 0.80 (not flagged) and 0.75 (flagged).
    assert (white["count"], white["positives"], white["exact_rate"]) == ("10", "5", "1/2")
    assert (asian["count"], asian["positives"], asian["exact_rate"]) == ("10", "4", "2/5")
    assert (black["count"], black["positives"], black["exact_rate"]) == ("8", "3", "3/8")
    assert [r["exact_impact_ratio"] for r in (white, asian, black)] == ["1", "4/5", "3/4"]
    assert [r["impact_ratio"] for r in (white, asian, black)] == ["1.0", "0.8", "0.75"]
    assert [r["flagged"] for r in (white, asian, black)] == ["false", "false", "true"]
    assert white["fisher_p"] == ""
    assert float(black["fisher_p"]) == pytest.approx(float(fisher_by_hand(3, 5, 5, 5)), abs=1e-6)
    assert float(asian["fisher_p"]) == pytest.approx(float(fisher_by_hand(4, 6, 5, 5)), abs=1e-6)
    assert float(black["share"]) == pytest.approx(8 / 31, abs=1e-4)
    assert {r["excludable"] for r in race.values()} == {"false"}
    assert {r["excluded"] for r in race.values()} == {"false"}
    assert {r["unknown"] for r in race.values()} == {"3"}
    assert {r["exclusion_base"] for r in race.values()} == {"all"}
    assert {r["exclusion_denominator"] for r in race.values()} == {"31"}
    assert {r["data_source"] for r in rows} == {bias.DEFAULT_SOURCE}
    assert {r["audit_date"] for r in rows} == {TODAY}
    # Sex: men 6 of 14, women 7 of 16; the men's ratio is (3/7) / (7/16) = 48/49.
    sex = _table(rows, "selection", "sex")
    assert (sex["Male"]["count"], sex["Male"]["positives"]) == ("14", "6")
    assert (sex["Female"]["count"], sex["Female"]["positives"]) == ("16", "7")
    assert sex["Male"]["exact_impact_ratio"] == "48/49" and sex["Female"]["impact_ratio"] == "1.0"
    both = _table(rows, "selection", "intersection")
    assert both[f"{BLACK} · Male"]["exact_rate"] == "1/4"
    assert len(both) == 6
    # Scores: 8 for the selected, 4 for the others: the median is 4 and the scoring rates are
    # the selection rates.
    scoring = _table(rows, "scoring", "race_ethnicity")
    assert {r["median"] for r in scoring.values()} == {"4.0"}
    assert [scoring[c]["exact_impact_ratio"] for c in (WHITE, ASIAN, BLACK)] == [
        "1",
        "4/5",
        "3/4",
    ]

    summary = _rows(files["data/bias_summary-0001.csv"])
    assert len(summary) == 6
    race_summary = next(
        r for r in summary if (r["outcome"], r["dimension"]) == ("selection", "race_ethnicity")
    )
    assert (race_summary["total"], race_summary["unknown"], race_summary["median"]) == (
        "31",
        "3",
        "",
    )
    assert (race_summary["categories"], race_summary["flagged"]) == ("3", "1")
    assert race_summary["period_end"] == manifest["period"]["end"]

    # Aggregates only: no name, no pseudonym anywhere in the bundle.
    everything = b"".join(files.values())
    for text in [*population.names, *population.pseudonyms, "cand-"]:
        assert text.encode() not in everything, text

    pem = appliance.config.paths.device_public_key
    verdict = verify_bundle(tar_path, pem)
    assert verdict.ok, verdict.problems
    assert any(note.startswith("bias tables: 22 rows in 6 tables") for note in verdict.notes)
    # As the auditor runs it, on its own.
    ran = subprocess.run(
        [sys.executable, "-m", "appliance.audit.verify", str(tar_path), "--public-key", str(pem)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert ran.returncode == 0 and "bias tables:" in ran.stdout, ran.stdout + ran.stderr

    # One flipped byte in the bias table: refused.
    tampered = tmp_path / "tampered.tar"
    shutil.copy(tar_path, tampered)
    with tarfile.open(tampered) as tar:
        offset = tar.getmember("data/bias_tables-0001.csv").offset_data
    data = bytearray(tampered.read_bytes())
    data[offset + 200] ^= 0x01
    tampered.write_bytes(bytes(data))
    refused = verify_bundle(tampered, pem)
    assert not refused.ok
    assert any("bias_tables-0001.csv: SHA-256 differs" in p for p in refused.problems)


def test_the_china_resident_counts_when_the_recipient_is_in_china(
    appliance: Appliance,
    store: Store,
    population: Population,
    auditor: Principal,
    tmp_path: Path,
) -> None:
    files = _members(_bundle(appliance, store, auditor, "CN", tmp_path / "cn.tar"))
    manifest = json.loads(files["manifest.json"])
    assert manifest["counts"]["withheld"] == {"china_region_individuals": 0}
    assert manifest["bias_audit"]["individuals"] == 32
    white = _table(_rows(files["data/bias_tables-0001.csv"]), "selection", "race_ethnicity")[WHITE]
    assert (white["count"], white["positives"]) == ("11", "6")
    assert population.china_resident.encode() not in b"".join(files.values())


def _rewrite(folder: Path, path: str, edit: Any) -> None:
    """Change one CSV of an extracted bundle and "fix" its digest in the manifest."""
    part = folder / path
    rows = list(csv.reader(io.StringIO(part.read_text(encoding="utf-8"))))
    edit(rows)
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    part.write_text(out.getvalue(), encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text())
    for item in manifest["files"]:
        if item["path"] == path:
            item["sha256"] = hashlib.sha256(part.read_bytes()).hexdigest()
            item["bytes"] = part.stat().st_size
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ("ratio_above_1", "outside [0, 1]"),
        ("best_not_1", "the best group's impact ratio is 0.9000, not 1"),
        ("column_dropped", "columns missing: flagged"),
        ("more_positives", "6 positives of 5"),
    ],
)
def test_the_verifier_checks_the_shape_of_the_bias_tables(
    appliance: Appliance,
    store: Store,
    population: Population,
    auditor: Principal,
    tmp_path: Path,
    edit: str,
    problem: str,
) -> None:
    tar_path = _bundle(appliance, store, auditor, "US", tmp_path / "bias.tar")
    folder = tmp_path / "extracted"
    with tarfile.open(tar_path) as tar:
        tar.extractall(folder, filter="data")
    pem = appliance.config.paths.device_public_key
    assert verify_bundle(folder, pem).ok

    def change(rows: list[list[str]]) -> None:
        header = rows[0]
        col = header.index
        white = next(
            r
            for r in rows[1:]
            if r[col("category")] == WHITE
            and r[col("outcome")] == "selection"
            and r[col("dimension")] == "race_ethnicity"
        )
        asian = next(
            r
            for r in rows[1:]
            if r[col("category")] == ASIAN
            and r[col("outcome")] == "selection"
            and r[col("dimension")] == "race_ethnicity"
        )
        if edit == "ratio_above_1":
            asian[col("impact_ratio")], asian[col("exact_impact_ratio")] = "1.25", "5/4"
        elif edit == "best_not_1":
            white[col("impact_ratio")], white[col("exact_impact_ratio")] = "0.9", "9/10"
        elif edit == "column_dropped":
            where = col("flagged")
            for row in rows:
                del row[where]
        else:
            white[col("positives")], white[col("count")] = "6", "5"

    _rewrite(folder, "data/bias_tables-0001.csv", change)
    verdict = verify_bundle(folder, pem)
    assert not verdict.ok
    assert any(problem in p for p in verdict.problems), verdict.problems
    assert any("signature" in p for p in verdict.problems)  # the manifest was changed too


# --- the pages ---------------------------------------------------------------------------------


def test_the_exports_page_offers_the_bias_tables_kind(web: Any, store: Store) -> None:
    app, _store = web
    assert "bias_tables" in EXPORT_KINDS and not EXPORT_KINDS["bias_tables"].media
    user_id = make_user(store, "page.auditor", "auditor", departments=["*"], regions=["US-NYC"])
    auditor = principal_of(store.users.get(user_id))
    register_recipient(store, auditor, str(pyrage.x25519.Identity.generate().to_public()), "US")
    client = app.test_client()
    assert login(client, "page.auditor").status_code == 302
    html = client.get("/exports").get_data(as_text=True)
    assert '<option value="bias_tables">' in html
    assert EXPORT_KINDS["bias_tables"].description in html
    assert "no person" in EXPORT_KINDS["bias_tables"].description


def test_the_bias_page_chooses_the_denominator_and_publishes_it(web: Any, store: Store) -> None:
    app, _store = web
    admin = make_user(store, "hr.page", "hr_admin", departments=["*"], regions=["*"])
    with store.transaction():
        ny = store.requisitions.create("Analyst", "Finance", "New York", "US-NYC")
    for race, (selected, count) in SMALL.items():
        for i in range(count):
            _assess(store, ny.id, admin, f"P {race} {i}", "Female", race, i < selected)
    for i in range(2):
        _assess(store, ny.id, admin, f"P unknown {i}", "Female", None, False)
    # A summary published before the denominator was recorded.
    with store.transaction():
        compliance_of(store).bias_audits.add(
            "US-NYC",
            "2020-01-01",
            "old import",
            {"individuals": 7, "exclude_small_categories": True},
            admin,
        )
    make_user(store, "ivy.auditor", "auditor", departments=["*"], regions=["US-NYC"])
    client = app.test_client()
    assert login(client, "ivy.auditor").status_code == 302

    page = client.get("/compliance/bias?region=US-NYC&exclude_small=on")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<select id="exclusion_base" name="exclusion_base">' in html
    assert '<option value="all" selected>' in html
    # Everyone: the Black category (1 of 52) is left out, its count still shown.
    assert "Left out of the ratios: Black or African American, each under 2 percent of" in html
    assert "(52 people)" in html
    assert "left out of the ratios</td>" in html
    # The old summary still reads, as computed over everyone.
    assert "categories under 2 percent of everyone assessed" in html

    page = client.get("/compliance/bias?region=US-NYC&exclude_small=on&exclusion_base=known")
    html = page.get_data(as_text=True)
    assert '<option value="known" selected>' in html
    assert "Left out of the ratios: " not in html  # 1 of 50 is not under 2 %
    assert 'name="exclusion_base" value="known"' in html

    refused = client.get("/compliance/bias?region=US-NYC&exclusion_base=applicants")
    assert refused.status_code == 422

    token = csrf_token_from(html)
    published = client.post(
        "/compliance/bias/publish",
        data={
            "csrf_token": token,
            "region": "US-NYC",
            "data_source": "Appliance",
            "exclude_small": "on",
            "exclusion_base": "known",
        },
    )
    assert published.status_code == 302
    newest = compliance_of(store).bias_audits.for_region("US-NYC")[0]
    assert newest.summary["exclusion_base"] == "known"
    assert newest.summary["exclude_small_categories"] is True
    assert newest.summary["excluded_categories"] == []
    entry = store.audit.entries(action="bias_audit.published")[-1]
    assert entry.details["exclusion_base"] == "known"
