"""What a resume says about experience: skills, years, roles and employers (English, Chinese).

Deterministic rules over the text: the shipped skills vocabulary, date ranges of positions
("2016 - 2019", "Mar 2018 - Present", "2018年3月至今"), explicit statements ("8 years of",
"5年工作经验"), and position lines read for job titles and company names.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from appliance.resumes.skills import SKILLS

MAX_LINE = 300  # the quote kept per finding
_CJK = re.compile(r"[\u3400-\u9fff]")
_MONTHS = {
    m: i
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for m in names
}
_YEAR = r"(?:19[6-9]\d|20[0-4]\d)"
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))


def _point_pattern(p: str) -> str:
    """A month and year ("Mar 2018", "2018.03", "2018年3月", "2018") with named groups."""
    return (
        rf"(?:(?<![A-Za-z])(?P<{p}m1>{_MONTH_NAMES})\.?\s+(?P<{p}y1>{_YEAR})"
        rf"|(?P<{p}y2>{_YEAR})\s*(?:[./-]\s*(?P<{p}m2>\d{{1,2}})(?!\d))?"
        rf"\s*(?:年\s*(?:(?P<{p}m3>\d{{1,2}})\s*月)?)?)"
    )


_NOW = r"(?P<now>present|now|current|today|至今|现在|今)"
_RANGE = re.compile(
    _point_pattern("a")
    + r"\s*(?:-|\u2013|\u2014|~|\uff5e|to|until|至|到)\s*(?:"
    + _point_pattern("b")
    + "|"
    + _NOW
    + ")",
    re.IGNORECASE,
)
_STATED_YEARS = re.compile(
    r"(?P<n>\d{1,2})\s*\+?\s*(?:years?|yrs?)\b(?:\s+of)?(?:\s+\w+){0,3}\s+experience"
    r"|(?P<zh>\d{1,2})\s*\+?\s*年(?:以上)?(?:的)?(?:\S{0,6})?经验",
    re.IGNORECASE,
)
_COMPANY = re.compile(
    r"\b(?:inc|ltd|llc|gmbh|corp|corporation|company|co|group|technologies|technology|bank|"
    r"university|labs?|systems|solutions|plc|ag|sa)\b\.?|公司|集团|银行|科技|有限|大学|研究院|工厂",
    re.IGNORECASE,
)
_ROLE = re.compile(
    r"\b(?:engineer|developer|manager|director|lead|head|analyst|designer|consultant|intern|"
    r"supervisor|representative|specialist|architect|scientist|officer|administrator|"
    r"coordinator|executive|president|vp|associate|technician|programmer|owner)\b"
    r"|工程师|经理|主管|总监|专员|设计师|分析师|实习生|顾问|架构师|负责人|组长|总裁|主任|代表",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(
    r"\s+(?:at|@)\s+|\s*[,\uff0c|\uff5c\u00b7\u2022/]\s*|\s+[-\u2013\u2014]\s+|\t|\s{2,}"
    r"|(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])"
)
_TRIM = " ()\uff08\uff09:\uff1a-\u2013\u2014"


@dataclass(frozen=True)
class Position:
    """A job held: title, employer and the years it covers (end None: still there)."""

    role: str
    employer: str
    start: float
    end: float | None
    line: str


def language_of(text: str) -> str:
    """`zh` when a good share of the letters are Chinese, else `en`."""
    letters = sum(1 for ch in text if ch.isalpha())
    if not letters:
        return "en"
    return "zh" if len(_CJK.findall(text)) / letters > 0.2 else "en"


def _lines(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text)
    # Runs of spaces stay: they often separate a title from a company on a position line.
    return [line.strip() for line in folded.splitlines() if line.strip()]


def _alias_pattern(alias: str, case: bool) -> tuple[re.Pattern[str], bool]:
    """The pattern of one alias, and whether it is searched in the lower-cased text."""
    if _CJK.search(alias):
        return re.compile(re.escape(alias)), False
    # Word edges that also work next to symbols ("c++", "a/b test", "node.js"). Case-blind
    # aliases are searched lower-cased in lower-cased text: much faster than re.IGNORECASE.
    word = alias if case else alias.lower()
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9+#])"), not case


_SKILL_PATTERNS = [
    (skill, [_alias_pattern(alias, skill.case) for alias in skill.aliases]) for skill in SKILLS
]


def _starts(lines: list[str]) -> list[int]:
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    return starts


def find_skills(lines: list[str]) -> list[dict[str, Any]]:
    """Vocabulary skills the resume names, each with the first line that names it."""
    # One search per alias over the whole text, then the line it fell in: far cheaper than
    # every alias against every line. Lines are lowered one by one, so line starts stay exact.
    lowered = [line.lower() for line in lines]
    texts = {
        False: ("\n".join(lines), _starts(lines)),
        True: ("\n".join(lowered), _starts(lowered)),
    }
    found = []
    for skill, patterns in _SKILL_PATTERNS:
        hits = []
        for pattern, lower in patterns:
            text, starts = texts[lower]
            match = pattern.search(text)
            if match is not None:
                index = bisect.bisect_right(starts, match.start()) - 1
                offset = match.start() - starts[index]
                hits.append((index, offset, match.end() - match.start(), lower))
        if not hits:
            continue
        index, offset, length, lower = min(hits)
        # `term` is the skill as the resume writes it (the questions quote it that way).
        term = (
            lines[index][offset : offset + length]
            if len(lowered[index]) == len(lines[index])
            else texts[lower][0][texts[lower][1][index] + offset :][:length]
        )
        found.append(
            {
                "name": skill.name,
                "term": term,
                "themes": list(skill.themes),
                "quote": lines[index][:MAX_LINE],
            }
        )
    return found


def _point(match: re.Match[str], prefix: str) -> float | None:
    year = match.group(f"{prefix}y1") or match.group(f"{prefix}y2")
    if year is None:
        return None
    month_text = match.group(f"{prefix}m1")
    month = 1
    if month_text:
        month = _MONTHS.get(month_text.lower(), 0)
        if month == 0:
            return None
    elif match.group(f"{prefix}m2") or match.group(f"{prefix}m3"):
        month = int(match.group(f"{prefix}m2") or match.group(f"{prefix}m3"))
        if not 1 <= month <= 12:
            return None
    return int(year) + (month - 1) / 12


def _parts(line: str, span: tuple[int, int]) -> list[str]:
    rest = (line[: span[0]] + "  " + line[span[1] :]).strip(_TRIM)
    return [part.strip(_TRIM) for part in _SEPARATORS.split(rest) if part.strip(_TRIM)]


def find_positions(lines: list[str], today: date) -> list[Position]:
    """Positions read from lines holding a date range, with title and employer when named."""
    now = today.year + (today.month - 1) / 12
    positions = []
    for index, line in enumerate(lines):
        match = _RANGE.search(line)
        if match is None:
            continue
        start = _point(match, "a")
        end = None if match.group("now") else _point(match, "b")
        if start is None or (end is None and not match.group("now")):
            continue
        if start > now or (end is not None and end < start):
            continue
        parts = _parts(line, match.span())
        if not parts and index + 1 < len(lines):  # the date alone on its line: title follows
            parts = _parts(lines[index + 1], (0, 0))
        role = next((p for p in parts if _ROLE.search(p)), "")
        employer = next((p for p in parts if _COMPANY.search(p) and p != role), "")
        if not employer:
            employer = next((p for p in parts if p != role and len(p) > 1), "")
        positions.append(
            Position(
                role[:120],
                employer[:120],
                round(start, 3),
                None if end is None else round(end, 3),
                line[:MAX_LINE],
            )
        )
    return positions


def years_of_experience(positions: list[Position], stated: int | None, today: date) -> float:
    """Years worked: the union of position ranges, or the stated figure if larger."""
    now = today.year + (today.month - 1) / 12
    ranges = sorted((p.start, min(p.end if p.end is not None else now, now)) for p in positions)
    total, current_start, current_end = 0.0, None, None
    for start, end in ranges:
        if current_end is None or start > current_end:
            if current_start is not None and current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_start is not None and current_end is not None:
        total += current_end - current_start
    return round(max(total, float(stated or 0)), 1)


def stated_years(text: str) -> int | None:
    """The largest 'N years of experience' the text states, if any."""
    values = [int(m.group("n") or m.group("zh")) for m in _STATED_YEARS.finditer(text)]
    return max(values) if values else None


def extract_profile(text: str, *, today: date) -> dict[str, Any]:
    """The profile kept (sealed) with a resume: language, skills, positions, years, text."""
    lines = _lines(text)
    positions = find_positions(lines, today)
    stated = stated_years(unicodedata.normalize("NFKC", text))
    return {
        "language": language_of(text),
        "skills": find_skills(lines),
        "positions": [
            {
                "role": p.role,
                "employer": p.employer,
                "start": p.start,
                "end": p.end,
                "quote": p.line,
            }
            for p in positions
        ],
        "roles": sorted({p.role for p in positions if p.role}),
        "employers": sorted({p.employer for p in positions if p.employer}),
        "years": years_of_experience(positions, stated, today),
        "stated_years": stated,
        "lines": lines,
    }
