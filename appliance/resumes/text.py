"""Reading the text of a resume file (PDF, DOCX or plain text) safely, in memory.

The type is decided by the file's bytes, never by its name. Limits keep a hostile file from
costing much: the upload size, the number of PDF pages, the unpacked size of a DOCX, the length
of the text kept. Nothing is written to disk.
"""

from __future__ import annotations

import io
import logging
import zipfile

from appliance.platform.errors import RefusedError

logger = logging.getLogger(__name__)

MAX_RESUME_BYTES = 4 * 1024 * 1024  # under the web request cap (an upload piece + 1 MiB)
MAX_PDF_PAGES = 40
MAX_DOCX_UNPACKED = 40 * 1024 * 1024  # a zip bomb stops here, before python-docx parses it
MAX_TEXT_CHARS = 200_000

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEXT = "text/plain"
KINDS = {PDF: "PDF", DOCX: "DOCX", TEXT: "TXT"}


class ResumeError(RefusedError):
    """A resume file cannot be taken: wrong type, too big, damaged, or without text (422)."""

    exit_code = 41


def sniff(data: bytes) -> str:
    """The content type of a resume from its bytes; ResumeError for anything else."""
    if not data:
        raise ResumeError("the file is empty")
    if len(data) > MAX_RESUME_BYTES:
        raise ResumeError(
            f"the file is larger than {MAX_RESUME_BYTES // (1024 * 1024)} MB; "
            "upload a smaller PDF, DOCX or TXT"
        )
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return DOCX
        except zipfile.BadZipFile:
            raise ResumeError("the file looks like a DOCX but is damaged") from None
        raise ResumeError("the file is a ZIP archive but not a Word document (DOCX)")
    _decode_text(data)  # raises for binary files
    return TEXT


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates: tuple[str, ...] = ("utf-16",)
    else:
        # A Chinese resume saved by older Windows tools is often GB18030 (a superset of GBK).
        candidates = ("utf-8-sig", "gb18030")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text or _control_share(text) > 0.01:
            break
        return text
    raise ResumeError("the file is not a PDF, a Word document (DOCX) or plain text")


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return controls / len(text)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ResumeError("the PDF is password-protected; upload an unprotected copy")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise ResumeError(f"the PDF has more than {MAX_PDF_PAGES} pages")
        parts = []
        for page in reader.pages:
            parts.append(page.extract_text() or "")
            if sum(len(p) for p in parts) > MAX_TEXT_CHARS:
                break
        return "\n".join(parts)
    except ResumeError:
        raise
    except (
        PdfReadError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,
        OSError,
        ZeroDivisionError,
    ) as exc:
        # pypdf raises a wide range of errors on damaged files; the type alone is logged.
        logger.info("unreadable PDF resume (%s)", type(exc).__name__)
        raise ResumeError("the PDF is damaged and cannot be read") from None


def _docx_text(data: bytes) -> str:
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_DOCX_UNPACKED:
                raise ResumeError("the Word document unpacks to too much data")
        document = docx.Document(io.BytesIO(data))
    except ResumeError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, AttributeError) as exc:
        logger.info("unreadable DOCX resume (%s)", type(exc).__name__)
        raise ResumeError("the Word document is damaged and cannot be read") from None
    except Exception as exc:  # lxml's XMLSyntaxError and docx's own errors derive from here
        logger.info("unreadable DOCX resume (%s)", type(exc).__name__)
        raise ResumeError("the Word document is damaged and cannot be read") from None
    lines = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def resume_text(data: bytes) -> tuple[str, str]:
    """(content type, text) of a resume file; ResumeError when it cannot be read."""
    content_type = sniff(data)
    if content_type == PDF:
        text = _pdf_text(data)
    elif content_type == DOCX:
        text = _docx_text(data)
    else:
        text = _decode_text(data)
    text = text.replace("\r\n", "\n").replace("\x00", "")[:MAX_TEXT_CHARS]
    if len(text.strip()) < 20:
        raise ResumeError(
            f"no text found in the {KINDS[content_type]} file (a scanned image?); "
            "upload a resume with selectable text"
        )
    return content_type, text
