"""Resume match: real PDF/DOCX/TXT files (English and Chinese) through the encrypted store,
skills and experience matched to the job's competency model, personalised questions."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from appliance.accounts.auth import principal_of
from appliance.privacy.erasure import erase_candidate
from appliance.resumes.service import (
    add_personal_question,
    edit_personal_question,
    resume_file,
    resume_overview,
    upload_resume,
)
from appliance.resumes.text import MAX_RESUME_BYTES, ResumeError, resume_text
from appliance.security.permissions import PermissionDeniedError, Principal
from appliance.store import Store
from appliance.store.competency import DimensionSpec, Keyword, ModelSpec, Question
from tests.support.resumes import CANARY, EN_LINES

from .conftest import Appliance, make_user

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
TODAY = date(2026, 11, 1)

ZH_LINES = [
    "张三 个人简历",
    "工作经历",
    "2018年3月 - 至今  北京星海科技有限公司  产品经理",
    "负责需求分析与用户调研，带领团队完成短视频营销项目，推动跨部门协作。",  # noqa: RUF001
    "2015.07 - 2018.02  上海云帆集团  数据分析师",
    "使用SQL和Python进行数据分析，搭建销售报表。",  # noqa: RUF001
]


def en_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for line in EN_LINES:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def zh_pdf() -> bytes:
    if not CJK_FONT.is_file():
        pytest.skip("fonts-wqy-microhei is not installed")
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("wqy", "", str(CJK_FONT))
    pdf.set_font("wqy", size=11)
    for line in ZH_LINES:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def a_docx(lines: list[str]) -> bytes:
    document = docx.Document()
    for line in lines[:3]:
        document.add_paragraph(line)
    table = document.add_table(rows=1, cols=1)
    table.rows[0].cells[0].text = lines[3]
    for line in lines[4:]:
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def job_model(store: Store) -> int:
    """A product/engineering model with bilingual keywords; returns its id."""
    dims = (
        DimensionSpec(
            "requirement_analysis",
            "Requirement analysis",
            0.4,
            questions=(Question("en", "Describe how you analysed requirements."),),
            keywords=(Keyword("en", "user research"), Keyword("zh", "需求分析")),
        ),
        DimensionSpec(
            "collaboration",
            "Cross-team collaboration",
            0.35,
            keywords=(Keyword("en", "cross-functional"), Keyword("zh", "跨部门")),
        ),
        DimensionSpec(
            "negotiation",
            "Negotiation with suppliers",
            0.25,
            keywords=(Keyword("en", "supplier contract"), Keyword("zh", "供应商谈判")),
        ),
    )
    with store.transaction():
        return int(store.competency.save(ModelSpec("PM model", dims)).id or 0)


def setup_candidate(store: Store, *, language: str = "en", region: str = "EU") -> tuple[int, int]:
    model_id = job_model(store)
    with store.transaction():
        requisition = store.requisitions.create(
            "Product manager", "Product", "Berlin", region, competency_model_id=model_id
        )
    candidate = store.candidates.create(f"{CANARY} Example", email="cv@example.invalid")
    store.interviews.create(candidate.id, requisition.id, language=language)
    return candidate.id, requisition.id


def hr(store: Store, name: str = "cv.hr") -> Principal:
    return principal_of(store.users.get(make_user(store, name, "hr_admin", regions=["EU"])))


def test_english_pdf_is_read_matched_sealed_and_questions_drafted(
    appliance: Appliance, store: Store
) -> None:
    candidate_id, requisition_id = setup_candidate(store)
    person = hr(store)
    data = en_pdf()
    resume = upload_resume(
        store, person, candidate_id=candidate_id, filename="cv.pdf", data=data, today=TODAY
    )
    profile = resume.extracted
    assert resume.content_type == "application/pdf" and profile["language"] == "en"
    assert {"Python", "Go", "SQL", "Team leadership", "Mentoring"} <= {
        s["name"] for s in profile["skills"]
    }
    assert profile["employers"] == ["Acme Technologies Inc.", "Globex Corp"]
    assert "Senior Software Engineer" in profile["roles"]
    assert profile["years"] == pytest.approx(11.6, abs=0.2)  # Mar 2015 until Nov 2026
    overview = resume_overview(store, person, candidate_id)
    summary = overview.jobs[0].summary
    assert summary is not None
    covered = {d["key"]: d["covered"] for d in summary["dimensions"]}
    assert covered == {"requirement_analysis": True, "collaboration": True, "negotiation": False}
    assert summary["gaps"] == ["negotiation"] and summary["coverage"] == 0.75
    questions = overview.jobs[0].questions
    assert [q.dimension_key for q in questions] == [
        "requirement_analysis",
        "collaboration",
        "negotiation",
    ]
    # The line quoted names no employer: the most recent one is named.
    assert questions[0].text.startswith(
        'Your resume mentions user research at Acme Technologies Inc.: "Worked cross-functional'
    )
    assert 'user research". Tell me about one specific time' in questions[0].text
    assert questions[2].text.startswith("Your resume says little about negotiation")
    assert all(q.source == "resume" and q.requisition_id == requisition_id for q in questions)
    # The file comes back byte for byte; nothing of it is in clear in the database.
    assert resume_file(store, person, resume.id)[1] == data
    for table, column in (
        ("resumes", "file"),
        ("resumes", "extracted"),
        ("resumes", "display_name"),
        ("personal_questions", "text"),
    ):
        for (value,) in store.conn.execute(f"SELECT {column} FROM {table}"):
            assert CANARY not in value and "user research" not in value
    uploaded = store.audit.entries(action="resume.uploaded")
    assert uploaded and CANARY not in json.dumps(uploaded[0].details)
    assert store.audit.entries(action="candidate.read")


def test_chinese_docx_and_pdf_give_chinese_questions(store: Store) -> None:
    candidate_id, _req = setup_candidate(store, language="zh")
    person = hr(store)
    for name, data in (("简历.docx", a_docx(ZH_LINES)), ("简历.pdf", zh_pdf())):
        resume = upload_resume(
            store, person, candidate_id=candidate_id, filename=name, data=data, today=TODAY
        )
        profile = resume.extracted
        assert profile["language"] == "zh", name
        assert profile["employers"] == ["上海云帆集团", "北京星海科技有限公司"], name
        assert profile["roles"] == ["产品经理", "数据分析师"], name
        assert {"SQL", "Data analysis", "Marketing"} <= {s["name"] for s in profile["skills"]}
    questions = resume_overview(store, person, candidate_id).jobs[0].questions
    # The second upload replaced the first one's untouched drafts.
    assert len(questions) == 3
    assert questions[0].language == "zh" and "需求分析" in questions[0].text
    assert "北京星海科技有限公司" in questions[0].text
    assert questions[2].text.startswith("您的简历中较少体现")


def test_plain_text_in_gb18030_is_read(store: Store) -> None:
    candidate_id, _req = setup_candidate(store)
    text = "\n".join(ZH_LINES).encode("gb18030")
    resume = upload_resume(
        store, hr(store), candidate_id=candidate_id, filename="cv.txt", data=text, today=TODAY
    )
    assert resume.content_type == "text/plain" and resume.extracted["language"] == "zh"


def test_hr_edits_survive_a_new_upload(store: Store) -> None:
    candidate_id, requisition_id = setup_candidate(store)
    person = hr(store)
    upload_resume(
        store, person, candidate_id=candidate_id, filename="a.pdf", data=en_pdf(), today=TODAY
    )
    first = resume_overview(store, person, candidate_id).jobs[0].questions
    edited = edit_personal_question(
        store, person, first[0].id, text="What did users say?", dimension_key="requirement_analysis"
    )
    own = add_personal_question(
        store,
        person,
        candidate_id=candidate_id,
        requisition_id=requisition_id,
        text="Why this job?",
        dimension_key="",
        language="en",
    )
    upload_resume(
        store,
        person,
        candidate_id=candidate_id,
        filename="b.docx",
        data=a_docx(EN_LINES),
        today=TODAY,
    )
    after = resume_overview(store, person, candidate_id).jobs[0].questions
    texts = [q.text for q in after]
    assert edited.text in texts and own.text in texts
    assert len(after) == 2 + 3  # the two people wrote, three fresh drafts
    with pytest.raises(ResumeError, match="no dimension"):
        edit_personal_question(store, person, own.id, text="x", dimension_key="nope")


def _count(store: Store) -> int:
    return int(store.conn.execute("SELECT count(*) FROM resumes").fetchone()[0])


def _broken_docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document>not closed")
    return out.getvalue()


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(en_pdf())).pages:
        writer.add_page(page)
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _blank_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 50, 50)  # a drawing, no text: what a scanned page looks like to us
    return bytes(pdf.output())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 200, "PDF is damaged"),
        (en_pdf()[:400], "PDF is damaged"),
        (_broken_docx(), "Word document is damaged"),
        (b"PK\x03\x04" + b"\x00" * 100, "damaged"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not a PDF"),
        (b"A" * (MAX_RESUME_BYTES + 1), "larger than 4 MB"),
        (_encrypted_pdf(), "password-protected"),
        (_blank_pdf(), "no text found"),
    ],
    ids=[
        "empty",
        "junk-pdf",
        "truncated-pdf",
        "broken-docx",
        "bad-zip",
        "png",
        "huge",
        "encrypted",
        "no-text",
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    store: Store, data: bytes, message: str
) -> None:
    candidate_id, _req = setup_candidate(store)
    with pytest.raises(ResumeError, match=message):
        upload_resume(store, hr(store), candidate_id=candidate_id, filename="x.pdf", data=data)
    assert _count(store) == 0
    assert store.conn.execute("SELECT count(*) FROM personal_questions").fetchone()[0] == 0


def test_a_zip_bomb_docx_stops_before_parsing() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", "<a/>")
        archive.writestr("word/media/huge.bin", b"\x00" * (41 * 1024 * 1024))
    assert len(out.getvalue()) < 200_000
    with pytest.raises(ResumeError, match="too much data"):
        resume_text(out.getvalue())


def test_a_hostile_file_name_is_shown_harmlessly(store: Store) -> None:
    candidate_id, _req = setup_candidate(store)
    resume = upload_resume(
        store,
        hr(store),
        candidate_id=candidate_id,
        filename="../../etc/\x00passwd<script>.pdf",
        data=en_pdf(),
    )
    assert resume.display_name == "passwd<script>.pdf"


def test_roles_without_the_permission_or_scope_are_refused(store: Store) -> None:
    candidate_id, _req = setup_candidate(store)
    lead = principal_of(
        store.users.get(
            make_user(store, "cv.lead", "business_lead", departments=["Product"], regions=["EU"])
        )
    )
    with pytest.raises(PermissionDeniedError):
        upload_resume(store, lead, candidate_id=candidate_id, filename="a.pdf", data=en_pdf())
    far_hr = principal_of(store.users.get(make_user(store, "cv.far", "hr_admin", regions=["CN"])))
    from appliance.platform.errors import NotFoundError

    with pytest.raises(NotFoundError):
        upload_resume(store, far_hr, candidate_id=candidate_id, filename="a.pdf", data=en_pdf())
    assert _count(store) == 0


def test_erasure_removes_resumes_and_questions(appliance: Appliance, store: Store) -> None:
    candidate_id, _req = setup_candidate(store)
    person = hr(store)
    upload_resume(store, person, candidate_id=candidate_id, filename="a.pdf", data=en_pdf())
    erase_candidate(store, appliance.spool(), person, candidate_id, "candidate asked")
    assert _count(store) == 0
    assert store.conn.execute("SELECT count(*) FROM personal_questions").fetchone()[0] == 0


# --- web --------------------------------------------------------------------------------------


def test_web_upload_shows_the_match_and_refuses_bad_files(web) -> None:  # type: ignore[no-untyped-def]
    from .conftest import csrf_token_from, login

    app, store = web
    candidate_id, _req = setup_candidate(store)
    make_user(store, "cv.web", "hr_admin", regions=["EU"])
    client = app.test_client()
    assert login(client, "cv.web").status_code == 302
    page = client.get(f"/candidates/{candidate_id}/resume")
    assert page.status_code == 200 and 'id="no-resume"' in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    bad = client.post(
        f"/candidates/{candidate_id}/resume",
        data={
            "csrf_token": token,
            "resume": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(range(256))), "photo.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert "not a PDF, a Word document (DOCX) or plain text" in bad.get_data(as_text=True)
    # Built once: a DOCX carries its zip entries' save time, so two builds a second apart differ.
    uploaded = a_docx(EN_LINES)
    good = client.post(
        f"/candidates/{candidate_id}/resume",
        data={"csrf_token": token, "resume": (io.BytesIO(uploaded), "cv.docx")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 303
    html = client.get(f"/candidates/{candidate_id}/resume").get_data(as_text=True)
    assert "Globex Corp" in html and "75 %" in html and "Your resume mentions" in html
    resume_id = store.resumes.latest(candidate_id).id
    download = client.get(f"/resumes/{resume_id}/file")
    assert download.status_code == 200 and download.data == uploaded
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="resume-{resume_id}.docx"'
    )
