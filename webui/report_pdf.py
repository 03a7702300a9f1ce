"""The report document (and the candidate's explanation) as a PDF, built in memory with fpdf2.

Chinese needs a CJK font: a Debian font package (fonts-wqy-microhei) is looked up by path at
run time; without one the export is refused with a clear error rather than printing boxes.
"""

# Time ranges are written with the en dash on purpose, as the pages print them.
# ruff: noqa: RUF001

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import has_request_context
from flask_babel import gettext as _

from appliance.platform.clock import from_stamp
from appliance.platform.errors import ApplianceError
from webui.report_words import (
    anchor_text,
    cue_name,
    decision_name,
    delivery_line,
    flag_sentence,
    label,
    label_of,
    language_name,
    language_note,
    model_name,
    not_scored,
    rationale,
    score_text,
    strength_sentence,
    top_strengths,
    viewer_language,
    visual_line,
)

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
    """Seconds into the recording as the pages write them: `1:15`, `1:02:03`."""
    if value is None:
        return ""
    hours, rest = divmod(round(float(value)), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _span_time(start: Any, end: Any) -> str:
    if start is None:
        return ""
    return f"{_time(start)}–{_time(end)}" if end is not None else _time(start)


def _when(stamp: Any) -> str:
    """A stored UTC time in the viewer's time zone, as the pages show it (UTC outside a
    request)."""
    if not isinstance(stamp, str) or not stamp:
        return ""
    if not has_request_context():
        return from_stamp(stamp).strftime("%Y-%m-%d %H:%M UTC")
    from webui.app import localtime  # the app imports this module's view: import when used

    return localtime(stamp)


def _joined(*parts: str) -> str:
    return " · ".join(part for part in parts if part)


def _fact(name: str, value: Any, between: str = ": ") -> str:
    """`Weight: 50 %`: a translated name and its value (msgids stay out of f-strings, where
    pybabel's extractor cannot see them)."""
    return f"{name}{between}{value}"


# Colours of the web page (webui/static/appliance.css), as RGB.
INK = (27, 31, 36)
MUTED = (87, 96, 106)
LINE = (208, 215, 222)
PANEL = (246, 248, 250)
ACCENT = (11, 92, 173)
GOOD = (26, 127, 55)


class _Writer:
    """A thin layer over FPDF: headings, paragraphs, bullet lists and the score chart, in the
    CJK font."""

    def __init__(self, title: str, font: Path) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(format="A4")
        self.pdf.set_title(title)
        self.pdf.set_creator("interview appliance")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.add_font(FONT, "", str(font))
        self.pdf.add_page()
        self.pdf.set_font(FONT, size=10)

    def room(self, height: float) -> None:
        """Start a new page unless `height` millimetres still fit on this one."""
        if self.pdf.get_y() + height > self.pdf.page_break_trigger:
            self.pdf.add_page()

    def heading(self, text: str, size: int = 13) -> None:
        self.room(size * 0.6 + 12)  # never a heading alone at the foot of a page
        self.pdf.ln(2)
        self.pdf.set_font(FONT, size=size)
        self.pdf.multi_cell(0, size * 0.6, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(FONT, size=10)

    def text(
        self,
        text: str,
        *,
        size: float = 10,
        indent: float = 0,
        colour: tuple[int, int, int] = INK,
        align: str = "L",
    ) -> None:
        self.pdf.set_font(FONT, size=size)
        self.pdf.set_text_color(*colour)
        self.pdf.set_x(self.pdf.l_margin + indent)
        self.pdf.multi_cell(0, size / 2, text, align=align, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_text_color(*INK)

    def bullets(self, items: Iterable[str], *, indent: float = 4) -> None:
        for item in items:
            self.text(f"• {item}", indent=indent)

    def tag_width(self, *tags: str) -> float:
        """The width of a frame that holds the widest of `tags`."""
        self.pdf.set_font(FONT, size=8)
        return max(self.pdf.get_string_width(tag) for tag in tags) + 3

    def tagged(
        self,
        tag: str,
        text: str,
        colour: tuple[int, int, int],
        *,
        width: float,
        indent: float = 4,
    ) -> None:
        """A line opening with a small framed tag (e.g. `Strength`), the text wrapping beside."""
        pdf = self.pdf
        pdf.set_font(FONT, size=8)
        self.room(6)
        pdf.set_x(pdf.l_margin + indent)
        pdf.set_draw_color(*colour)
        pdf.set_text_color(*colour)
        pdf.cell(width, 4.6, tag, border=1, align="C")
        pdf.set_text_color(*INK)
        pdf.set_font(FONT, size=10)
        pdf.set_x(pdf.get_x() + 2)
        pdf.multi_cell(0, 5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(0, 0, 0)

    def timed(self, time: str, text: str, *, indent: float = 4) -> None:
        """A transcript line: its time, then its words wrapping beside the time."""
        pdf = self.pdf
        self.room(5)
        pdf.set_font(FONT, size=8)
        pdf.set_text_color(*MUTED)
        pdf.set_x(pdf.l_margin + indent)
        pdf.cell(12, 4.8, time)
        pdf.set_text_color(*INK)
        pdf.set_font(FONT, size=10)
        pdf.multi_cell(0, 4.8, text, align="L", new_x="LMARGIN", new_y="NEXT")

    def chart(self, rows: list[tuple[str, float | None, str]], caption: str) -> None:
        """A horizontal bar per competency (name, score out of 10 or None, score as text),
        drawn with vector shapes on a 0-10 scale; the numbers are text too."""
        pdf = self.pdf
        name_w, value_w, row_h = 55.0, 28.0, 7.0
        left = pdf.l_margin
        bar_x = left + name_w + 2
        bar_w = pdf.epw - name_w - value_w - 4
        self.room(len(rows) * row_h + 14)
        self.text(caption, size=8, colour=MUTED)
        top = pdf.get_y() + 1
        bottom = top + len(rows) * row_h
        pdf.set_line_width(0.1)
        pdf.set_draw_color(*LINE)
        for tick in range(0, 11, 2):  # the scale: light lines every 2 points
            x = bar_x + bar_w * tick / 10
            pdf.line(x, top, x, bottom)
        pdf.set_font(FONT, size=7)
        pdf.set_text_color(*MUTED)
        for tick in range(0, 11, 2):
            x = bar_x + bar_w * tick / 10
            pdf.text(x - pdf.get_string_width(str(tick)) / 2, bottom + 3, str(tick))
        for i, (name, score, value) in enumerate(rows):
            y = top + i * row_h
            pdf.set_font(FONT, size=9)
            pdf.set_text_color(*INK)
            while pdf.get_string_width(name) > name_w and len(name) > 1:
                name = name[:-2] + "…"
            pdf.set_xy(left, y + 1)
            pdf.cell(name_w, 5, name)
            pdf.set_fill_color(*PANEL)
            pdf.set_draw_color(*LINE)
            pdf.rect(bar_x, y + 1.75, bar_w, 3.5, style="DF", round_corners=True, corner_radius=1)
            if score is not None and score > 0:
                pdf.set_fill_color(*ACCENT)
                width = bar_w * min(float(score), 10.0) / 10
                pdf.rect(
                    bar_x, y + 1.75, width, 3.5, style="F", round_corners=True, corner_radius=1
                )
            pdf.set_text_color(*(INK if score is not None else MUTED))
            pdf.set_xy(bar_x + bar_w + 2, y + 1)
            pdf.cell(value_w, 5, value)
        pdf.set_text_color(*INK)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_xy(left, bottom + 5)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _evidence_lines(evidence: list[dict[str, Any]]) -> list[str]:
    return [
        _joined(
            f"“{e['quote']}” {_span_time(e.get('start'), e.get('end'))}".strip(),
            cue_name(e.get("cue")),
        )
        for e in evidence
    ]


def _summary(w: _Writer, doc: dict[str, Any]) -> None:
    """At a glance, as the page's card: what scored it (or why nothing did), the overall score,
    the chart, the language note, the top strengths and areas to probe, the latest decision."""
    pdf = w.pdf
    page, top = pdf.page_no(), pdf.get_y() + 1
    w.heading(_("At a glance"))
    dimensions = doc.get("dimensions") or []
    if dimensions:
        w.text(_("Scored with %(model)s", model=model_name(doc)), size=9, colour=MUTED)
        if doc.get("scored"):
            overall = doc.get("overall")
            line = "  ".join((_("Overall score"), _score(overall), _("out of 10")))
            ai = doc.get("overall_ai")
            if ai is not None and overall != ai:
                line += "  (" + _fact(_("AI"), _score(ai), " ") + ")"
            pdf.ln(1)
            w.text(line, size=14, align="L")
        pdf.ln(1)
        w.chart(
            [(label(d), d.get("score"), score_text(d)) for d in dimensions],
            _("Scores per competency, out of 10"),
        )
    else:
        w.text(not_scored(doc.get("not_scored")), size=11)
    note = language_note(doc)
    if note:
        w.text(note, colour=ACCENT)
    strengths = top_strengths(doc)
    probes = (doc.get("to_probe") or [])[:2]
    if strengths or probes:
        pdf.ln(1)
    strength, probe = _("Strength"), _("To probe")
    width = w.tag_width(strength, probe)
    for s in strengths:
        w.tagged(strength, strength_sentence(s, dimensions), GOOD, width=width)
    for p in probes:
        w.tagged(probe, flag_sentence(p, dimensions), MUTED, width=width)
    decisions = doc.get("decisions") or []
    if decisions:
        latest = decisions[-1]
        w.text(
            _fact(
                _("Latest decision"),
                _joined(
                    decision_name(latest.get("kind")),
                    latest.get("by") or "",
                    _when(latest.get("at")),
                ),
            ),
            align="L",
        )
    else:
        w.text(_("No decision has been taken yet."), colour=MUTED)
    w.text(
        _("The AI drafts; people decide. Scores support a decision and never replace it."),
        size=8,
        colour=MUTED,
    )
    if pdf.page_no() == page:  # the card's frame, where it fits on one page
        pdf.set_draw_color(*LINE)
        pdf.rect(
            pdf.l_margin - 3,
            top,
            pdf.epw + 6,
            pdf.get_y() - top + 2,
            round_corners=True,
            corner_radius=2,
        )
        pdf.set_draw_color(0, 0, 0)
    pdf.ln(4)


def _dimension(w: _Writer, d: dict[str, Any]) -> None:
    """One competency: its score, any override, the level anchor, rationale and evidence."""
    score = _score(d["score"]) if d["score"] is not None else _("not assessed")
    facts = [
        _fact(_("Weight"), f"{d['weight'] * 100:.0f} %", " "),
        _fact(_("Score"), score, " "),
    ]
    if d.get("override"):
        ai = _fact(_("AI"), _score(d.get("ai_score")))
        facts.append(_fact(_("overridden"), f"({ai})", " "))
    if d.get("confidence") is not None:
        facts.append(_fact(_("Confidence"), f"{d['confidence'] * 100:.0f} %", " "))
    w.heading(label(d), 11)
    w.text(_joined(*facts), indent=4, align="L")
    anchor = anchor_text(d.get("anchor"))
    if anchor:
        w.text(_fact(_fact(_("Level anchor"), d["anchor"]["level"], " "), anchor), indent=4)
    if d.get("rationale"):
        w.text(rationale(d["rationale"]), indent=4)
    if d.get("override"):
        o = d["override"]
        change = f"{_score(o['from'])} → {_score(o['to'])} · {o['reason']}"
        w.text(_fact(_("Changed by %(name)s", name=o["by"]), change), indent=4)
    w.bullets(_evidence_lines(d["evidence"]), indent=8)


def _scores_section(w: _Writer, doc: dict[str, Any]) -> None:
    """Every competency with its evidence (where anything was scored)."""
    if doc.get("scored") and doc["dimensions"]:
        w.heading(_("Competencies"))
        for d in doc["dimensions"]:
            _dimension(w, d)


def _findings_section(w: _Writer, doc: dict[str, Any]) -> None:
    """Every strength and area to probe with its evidence, and the suggested follow-ups."""
    dimensions = doc.get("dimensions") or []
    if not (doc.get("strengths") or doc.get("to_probe")):
        return
    w.heading(_("Strengths and areas to probe"))
    for title, items, sentence in (
        (_("Strengths"), doc.get("strengths") or [], strength_sentence),
        (_("Areas to probe"), doc.get("to_probe") or [], flag_sentence),
    ):
        if items:
            w.heading(title, 11)
            for item in items:
                w.text(f"• {sentence(item, dimensions)}", indent=4, align="L")
                w.bullets(_evidence_lines(item["evidence"]), indent=10)
    if doc.get("followups"):
        w.heading(_("Suggested follow-up questions"), 11)
        w.bullets(
            _joined(label_of(dimensions, f.get("dimension")), f["question"])
            for f in doc["followups"]
        )


def _per_answer(
    doc: dict[str, Any], field: str, entries: list[dict[str, Any]], line: Any
) -> list[str]:
    """One line per answer that has `field`, then the whole recording's where it adds to them."""
    answers = doc.get("answers") or []
    found = [
        _fact(_("Answer %(number)s", number=i), line(a[field]))
        for i, a in enumerate(answers, 1)
        if a.get(field)
    ]
    answered = sum(1 for a in answers if a.get(field))
    for entry in entries:
        if entry.get("summary") and (answered != 1 or len(entries) > 1):
            found.append(_fact(_("Whole recording"), line(entry["summary"])))
    return [f for f in found if not f.endswith(": ")]


def _observations_section(w: _Writer, doc: dict[str, Any]) -> None:
    """How they spoke and the visual observations, one line per answer, where there are any."""
    if doc.get("delivery"):
        w.heading(_("How they spoke"))
        w.bullets(_per_answer(doc, "delivery", doc["delivery"], delivery_line))
        w.text(
            _(
                "Measured from the timed words of the transcript. A pause is a silence between "
                "words of a quarter of a second or more; fillers are sounds such as “um” or “uh” "
                "(the speech engine leaves some out). Delivery never changes a score."
            ),
            size=8,
            colour=MUTED,
        )
    if doc.get("visual_cues_withheld"):
        w.text(
            _(
                "Visual observations are withheld: the region's policy or the candidate's "
                "consent no longer allows them."
            ),
            colour=MUTED,
        )
    if doc.get("visual_cues"):
        w.heading(_("Visual observations (not judgements)"))
        w.text(
            _(
                "Shown only where the region's policy and the candidate's consent allowed them; "
                "never an input to a score."
            ),
            size=9,
        )
        w.bullets(_per_answer(doc, "visual", doc["visual_cues"], visual_line))


def _lines(w: _Writer, lines: list[dict[str, Any]]) -> None:
    for line in lines:
        w.timed(_time(line.get("start")), str(line.get("text") or ""), indent=6)


def _answer(w: _Writer, doc: dict[str, Any], number: int, a: dict[str, Any]) -> None:
    """One answer: its question, times and competency, its flags, its transcript with times
    and the machine translation where the reader reads another language."""
    dimensions = doc.get("dimensions") or []
    question = a.get("question_text") or _("(no question matched)")
    w.heading(f"{number}. {question}", 11)
    competency = label_of(dimensions, a.get("dimension_key")) if a.get("dimension_key") else ""
    facts = _joined(
        _span_time(a.get("start"), a.get("end")),
        _fact(_("Competency"), competency) if competency else "",
    )
    if facts:
        w.text(facts, size=9, indent=4, colour=MUTED)
    w.bullets(flag_sentence(f, dimensions) for f in a.get("flags") or [])
    language = language_name(a.get("language")) if a.get("language") else ""
    w.text(_fact(_("Transcript"), f"({language})", " ") if language else _("Transcript"), indent=4)
    if a.get("transcript"):
        _lines(w, a["transcript"])
    else:
        w.text(_("No words were recognised in this answer."), indent=6, colour=MUTED)
    t = a.get("translation") or {}
    if (
        t.get("lines")
        and a.get("language") != viewer_language()
        and t.get("language") != a.get("language")
    ):
        translated = f"({language_name(t.get('language'))})"
        w.text(_fact(_("Machine translation"), translated, " "), indent=4)
        w.text(
            _(
                "Translated automatically: it may miss or change meaning. What the candidate "
                "said is the transcript beside it."
            ),
            size=8,
            indent=6,
            colour=MUTED,
        )
        _lines(w, t["lines"])


def _answers_section(w: _Writer, doc: dict[str, Any]) -> None:
    """Every answer with its transcript; a recording without answers says it has no words."""
    answers = doc.get("answers") or []
    answered = {a.get("recording_id") for a in answers}
    unanswered = [
        r
        for r in doc.get("reports") or []
        if r.get("player") and r.get("recording_id") not in answered
    ]
    if not (answers or unanswered):
        return
    w.heading(_("Answers"))
    for number, a in enumerate(answers, 1):
        _answer(w, doc, number, a)
    for _report in unanswered:
        w.heading(_("The whole recording"), 11)
        w.text(_("There is no transcript of this recording."), indent=4, colour=MUTED)


def _models_section(w: _Writer, doc: dict[str, Any]) -> None:
    """The models that made the report."""
    models = doc.get("models") or {}
    w.heading(_("Models"))
    named = models.get("competency_model") or models.get("competency_model_label")
    rows = [
        _fact(_("Competency model"), model_name(doc) if named else "-"),
        _fact(_("Scorer"), models.get("scorer") or "-"),
        _fact(_("Speech"), ", ".join(models.get("speech") or []) or "-"),
    ]
    if models.get("vision"):
        rows.append(_fact(_("Vision"), ", ".join(models["vision"])))
    w.bullets(rows)


def _history_section(w: _Writer, doc: dict[str, Any]) -> None:
    """Every override (or that there was none), then the decisions taken."""
    dimensions = doc.get("dimensions") or []
    w.heading(_("Override history"))
    if doc.get("overrides"):
        w.bullets(
            _joined(
                f"{label_of(dimensions, o['dimension']) or o['dimension']}: "
                f"{_score(o['from'])} → {_score(o['to'])}",
                o.get("by") or "",
                _when(o.get("at")),
                o.get("reason") or "",
            )
            for o in doc["overrides"]
        )
    else:
        w.text(_("No score has been overridden."))
    w.heading(_("Decisions"))
    if doc.get("decisions"):
        w.bullets(
            _joined(
                decision_name(d.get("kind")),
                d.get("by") or "",
                _when(d.get("at")),
                d.get("reason") or "",
            )
            for d in doc["decisions"]
        )
    else:
        w.text(_("No decision has been taken yet."))


def _people_section(w: _Writer, doc: dict[str, Any]) -> None:
    """The interviewers' and experts' evaluations: overall rating, notes, and their rating of
    each competency beside the AI's (3 points or more apart said in words)."""
    cards = doc.get("scorecards") or []
    if not cards:
        return
    dimensions = doc.get("dimensions") or []
    ai = {d["key"]: d.get("ai_score") for d in dimensions}
    w.heading(_("Evaluations by people"))
    for card in cards:
        kind = (
            _("Technical evaluation")
            if card.get("kind") == "technical"
            else _("Interviewer evaluation")
        )
        w.text(_joined(kind, card.get("by") or "", _when(card.get("at")), f"{card['rating']}/10"))
        rows = []
        for key, rating in (card.get("ratings") or {}).items():
            machine = ai.get(key)
            apart = machine is not None and abs(float(rating) - float(machine)) >= 3
            rows.append(
                _joined(
                    f"{label_of(dimensions, key) or key.replace('_', ' ')}: {rating}",
                    f"{_('AI')} {_score(machine)}",
                    _("3 points or more from the AI") if apart else "",
                )
            )
        w.bullets(rows)
        if card.get("summary"):
            w.text(card["summary"], indent=4)


def report_pdf(
    doc: dict[str, Any], *, font_paths: Iterable[Path] | None = None, transcript: bool = False
) -> bytes:
    """The report for reviewers: the summary at a glance, scores with evidence and anchors,
    findings, observations, models, overrides and decisions; with `transcript`, every answer's
    words with their times."""
    font = cjk_font(font_paths)
    w = _Writer(_("Interview report"), font)
    w.heading(_("Interview report"), 16)
    w.text(
        _joined(
            doc["candidate"]["name"],
            doc["job"]["title"],
            _fact(_("round"), doc["interview"]["round"], " "),
        )
    )
    _summary(w, doc)
    _scores_section(w, doc)
    _people_section(w, doc)
    _findings_section(w, doc)
    if transcript:
        _answers_section(w, doc)
    _observations_section(w, doc)
    _models_section(w, doc)
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
            _joined(
                c["name"],
                _fact(_("Weight"), f"{c['weight'] * 100:.0f} %", " "),
                _fact(_("Score"), _score(c["final_score"]), " "),
            ),
            11,
        )
        if c["level_description"]:
            w.text(c["level_description"], indent=4)
        w.bullets(_evidence_lines(c["evidence"]), indent=8)
        if c["changed_by_a_person"]:
            o = c["changed_by_a_person"]
            change = f"{_score(o['from'])} → {_score(o['to'])} · {o['reason']}"
            w.text(_fact(_("Changed by %(name)s", name=o["by"]), change), indent=4)
    w.text(_fact(_("Overall weighted score"), _score(expl["overall"])))
    w.heading(_("Who decided"))
    if expl["decisions"]:
        w.bullets(
            _joined(decision_name(d.get("kind")), d.get("by") or "", _when(d.get("at")))
            for d in expl["decisions"]
        )
    else:
        w.text(_("No decision has been taken yet."))
    return w.output()
