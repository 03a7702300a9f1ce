"""A published bias-audit summary as a PDF (NY-3: the summary an employer posts), built in
memory with fpdf2 in the CJK font the report PDFs use, so the labels print in either language."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from appliance.compliance.bias_publication import tables_of
from appliance.store.bias_audits import PublishedAudit
from webui.report_pdf import FONT, cjk_font

COLUMNS = (40.0, 20.0, 22.0, 20.0, 24.0, 54.0)


def _number(value: Any, places: int = 3) -> str:
    return "-" if value is None else f"{float(value):.{places}f}"


def bias_summary_pdf(audit: PublishedAudit, labels: dict[str, str], base_label: str) -> bytes:
    """The summary: what was audited, when, from which data, and every table."""
    from fpdf import FPDF

    summary = audit.summary
    pdf = FPDF(format="A4")
    pdf.set_title(_("Bias audit summary"))
    pdf.set_creator("interview appliance")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font(FONT, "", str(cjk_font()))
    pdf.add_page()
    pdf.set_font(FONT, size=16)
    pdf.multi_cell(0, 9, _("Bias audit summary"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    period = summary.get("period") or {}
    facts = [
        (_("Region"), audit.region),
        (_("Date of the audit"), audit.audit_date),
        (_("Published"), audit.published_at[:10]),
        (_("Data source"), audit.data_source),
        (_("Period"), f"{period.get('start') or '-'} - {period.get('end') or '-'}"),
        (_("Individuals assessed"), str(summary.get("individuals", 0))),
    ]
    for dimension, count in (summary.get("unknown") or {}).items():
        facts.append(
            (_("Unknown %(dimension)s", dimension=labels.get(dimension, dimension)), str(count))
        )
    if summary.get("exclude_small_categories"):
        facts.append(
            (
                _("Left out of the ratios"),
                _("categories under 2 percent of %(base)s", base=base_label),
            )
        )
    for name, value in facts:
        pdf.multi_cell(0, 6, f"{name}: {value}", new_x="LMARGIN", new_y="NEXT")
    headers = (
        _("Category"),
        _("Individuals"),
        _("Counted"),
        _("Rate"),
        _("Impact ratio"),
        _("Four-fifths check"),
    )
    for table in tables_of(summary):
        pdf.ln(4)
        pdf.set_font(FONT, size=12)
        title = labels.get(table["outcome"], table["outcome"])
        dimension = labels.get(str(table.get("dimension")), str(table.get("dimension")))
        pdf.multi_cell(0, 7, f"{title}: {dimension}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, size=9)
        if table.get("median") is not None:
            pdf.multi_cell(
                0,
                5,
                _("Median of all scores: %(median)s", median=_number(table["median"], 2)),
                new_x="LMARGIN",
                new_y="NEXT",
            )
        for width, header in zip(COLUMNS, headers, strict=True):
            pdf.cell(width, 6, header, border=1)
        pdf.ln()
        for group in table.get("groups") or []:
            if group.get("excluded"):
                ratio = _("left out of the ratios")
            elif group.get("impact_ratio") is None:
                ratio = _("undefined")
            else:
                ratio = _number(group.get("impact_ratio"))
            cells = (
                str(group.get("category", "")),
                str(group.get("count", "")),
                str(group.get("positives", "")),
                _number(group.get("rate")),
                ratio,
                _("below 0.80: flagged") if group.get("flagged") else _("not flagged"),
            )
            for width, cell in zip(COLUMNS, cells, strict=True):
                pdf.cell(width, 6, cell[:40], border=1)
            pdf.ln()
    return bytes(pdf.output())


__all__ = ["bias_summary_pdf"]
