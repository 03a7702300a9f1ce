"""The report document (and the candidate's explanation) as a PDF, built in memory with fpdf2.

Chinese needs a CJK font: a Debian font package (fonts-wqy-microhei) is looked up by path at
run time; without one the export is refused with a clear error rather than printing boxes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from appliance.platform.errors import ApplianceError
from webui.report_words import delivery_line, label, visual_line

# Searched in order; the first that exists is used (TTC collections hold several faces).
CJK_FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
FONT = "cjk"
# fpdf2 warns about glyphs a font lacks by quoting them: candidate text must not reach the logs.
logging.getLogger("fpdf").setLevel(logging.ERROR)


class ReportFontMissingError(ApplianceError):
    """No font able to print Chinese is installed, so no PDF can be made."""

    exit_code = 45


def cjk_font(paths: Iterable[Path] | None = None) -> Path:
    """The first installed CJK font file; ReportFontMissingError when there is none."""
    for path in CJK_FONT_PATHS if paths is None else paths:
        if path.is_file():
            return path
    raise ReportFontMissingError(
        "no Chinese-capable font is installed for PDF exports: install the Debian package "
        "fonts-wqy-microhei (expected at /usr/share/fonts/truetype/wqy/wqy-microhei.ttc)"
    )


def _score(value: Any) -> str:
    return "-" if value is None else f"{float(value):g}"


def _time(value: Any) -> str:
    if value is None:
        return ""
    seconds = int(float(value))
    return f"{seconds // 60}:{seconds % 60:02d}"


class _Writer:
    """A thin layer over FPDF: headings, paragraphs and bullet lists in the CJK font."""

    def __init__(self, title: str, font: Path) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(format="A4")
        self.pdf.set_title(title)
        self.pdf.set_creator("interview appliance")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.add_font(FONT, "", str(font))
        self.pdf.add_page()
        self.pdf.set_font(FONT, size=10)

    def heading(self, text: str, size: int = 13) -> None:
        self.pdf.ln(2)
        self.pdf.set_font(FONT, size=size)
        self.pdf.multi_cell(0, size * 0.6, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(FONT, size=10)

    def text(self, text: str, *, size: int = 10, indent: float = 0) -> None:
        self.pdf.set_font(FONT, size=size)
        self.pdf.set_x(self.pdf.l_margin + indent)
        self.pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")

    def bullets(self, items: Iterable[str], *, indent: float = 4) -> None:
        for item in items:
            self.text(f"• {item}", indent=indent)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _evidence_lines(evidence: list[dict[str, Any]]) -> list[str]:
    return [
        f"“{e['quote']}” ({_time(e.get('start'))}–{_time(e.get('end'))})"  # noqa: RUF001
        for e in evidence
    ]


def _dimension(w: _Writer, d: dict[str, Any]) -> None:
    """One competency: its score, any override, the level anchor, rationale and evidence."""
    w.heading(
        f"{label(d)} · {_('weight')} {d['weight'] * 100:.0f} % · {_('score')} {_score(d['score'])}",
        11,
    )
    if d["override"]:
        o = d["override"]
        w.text(
            f"{_('Overridden')}: {_score(o['from'])} → {_score(o['to'])} · {o['by']} · "
            f"{o['reason']}",
            indent=4,
        )
    if d["anchor"] and d["anchor"]["text"]:
        w.text(f"{_('Level anchor')} {d['anchor']['level']}: {d['anchor']['text']}", indent=4)
    if d["rationale"]:
        w.text(d["rationale"], indent=4)
    w.bullets(_evidence_lines(d["evidence"]), indent=8)


def _scores_section(w: _Writer, doc: dict[str, Any]) -> None:
    """The overall score and every competency."""
    w.heading(_("Scores per competency"))
    if not doc["dimensions"]:
        w.text(_("Not scored yet: this analysis produced no competency scores."))
    w.text(
        f"{_('Overall weighted score')}: {_score(doc['overall'])}"
        f" ({_('AI')}: {_score(doc['overall_ai'])})"
    )
    for d in doc["dimensions"]:
        _dimension(w, d)


def _findings_section(w: _Writer, doc: dict[str, Any]) -> None:
    """Strengths and areas to probe, each with its evidence (headed only when there are any)."""
    for title, items in (
        (_("Strengths"), doc["strengths"]),
        (_("Areas to probe"), doc["to_probe"]),
    ):
        if items:
            w.heading(title)
            for item in items:
                w.text(f"• {item['text']}", indent=4)
                w.bullets(_evidence_lines(item["evidence"]), indent=10)


def _observations_section(w: _Writer, doc: dict[str, Any]) -> None:
    """Delivery metrics and visual observations, where the document has any."""
    if doc["delivery"]:
        w.heading(_("Delivery metrics"))
        for entry in doc["delivery"]:
            w.bullets([delivery_line(entry.get("summary"))])
    if doc["visual_cues"]:
        w.heading(_("Visual observations (not judgements)"))
        w.text(
            _(
                "Shown only where the region's policy and the candidate's consent allowed them; "
                "never an input to a score."
            ),
            size=9,
        )
        for entry in doc["visual_cues"]:
            w.bullets([visual_line(entry.get("summary"))])


def _history_section(w: _Writer, doc: dict[str, Any]) -> None:
    """Every override (or that there was none), then the decisions taken."""
    w.heading(_("Override history"))
    if doc["overrides"]:
        w.bullets(
            f"{o['dimension']}: {_score(o['from'])} → {_score(o['to'])} · {o['by']} · {o['at']} · "
            f"{o['reason']}"
            for o in doc["overrides"]
        )
    else:
        w.text(_("No score has been overridden."))
    if doc["decisions"]:
        w.heading(_("Decisions"))
        w.bullets(f"{d['kind']} · {d['by']} · {d['at']} · {d['reason']}" for d in doc["decisions"])


def report_pdf(doc: dict[str, Any], *, font_paths: Iterable[Path] | None = None) -> bytes:
    """The full report for reviewers: scores, evidence, anchors, findings, metrics, overrides."""
    font = cjk_font(font_paths)
    w = _Writer(_("Interview report"), font)
    w.heading(_("Interview report"), 16)
    w.text(
        f"{doc['candidate']['name']} · {doc['job']['title']} · "
        f"{_('round')} {doc['interview']['round']}"
    )
    w.text(
        _("The AI drafts; people decide. Scores support a decision and never replace it."), size=9
    )
    models = doc["models"]
    w.heading(_("Models"))
    w.bullets(
        [
            f"{_('Competency model')}: {models.get('competency_model_label') or '-'}",
            f"{_('Scorer')}: {models.get('scorer') or '-'}",
            f"{_('Speech')}: {', '.join(models.get('speech') or []) or '-'}",
        ]
    )
    _scores_section(w, doc)
    _findings_section(w, doc)
    _observations_section(w, doc)
    _history_section(w, doc)
    return w.output()


def explanation_pdf(expl: dict[str, Any], *, font_paths: Iterable[Path] | None = None) -> bytes:
    """The candidate's explanation: competencies, weights, evidence, who decided."""
    font = cjk_font(font_paths)
    w = _Writer(_("Explanation of your interview assessment"), font)
    w.heading(_("Explanation of your interview assessment"), 15)
    w.text(f"{expl['candidate']['name']} · {expl['job']['title']}")
    w.heading(_("How the assessment works"))
    w.text(
        _(
            "Your recorded answers were transcribed on premises. For each competency of the "
            "job, the system looked for the situation, task, action and result in your answers "
            "and compared them with written level descriptions; it quotes the words that drove "
            "each score. The scores assisted the people who decided; a person can change any "
            "score, giving a reason, and every decision was taken by a person."
        )
    )
    w.heading(_("Competencies, weights and evidence"))
    for c in expl["competencies"]:
        w.heading(
            f"{c['name']} · {_('weight')} {c['weight'] * 100:.0f} % · "
            f"{_('score')} {_score(c['final_score'])}",
            11,
        )
        if c["level_description"]:
            w.text(c["level_description"], indent=4)
        w.bullets(_evidence_lines(c["evidence"]), indent=8)
        if c["changed_by_a_person"]:
            o = c["changed_by_a_person"]
            w.text(
                f"{_('Changed by')} {o['by']}: {_score(o['from'])} → {_score(o['to'])} · "
                f"{o['reason']}",
                indent=4,
            )
    w.text(f"{_('Overall weighted score')}: {_score(expl['overall'])}")
    w.heading(_("Who decided"))
    if expl["decisions"]:
        w.bullets(f"{d['kind']} · {d['by']} · {d['at']}" for d in expl["decisions"])
    else:
        w.text(_("No decision has been taken yet."))
    return w.output()
