"""Charts drawn on the box as inline SVG (no scripts, no CDN): horizontal bars with an optional
95 % interval, each bar labelled in words, and a title the screen reader reads.

Every chart on a page also has a table of the same figures beside it; the SVG is the picture,
the table is the record.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 170
VALUE_WIDTH = 120
BAR_HEIGHT = 22
GAP = 8


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value (None: no figure, the note says why), interval and note."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""  # shown at the bar's end: the figure in words, or why there is none


def bar_chart(title: str, bars: list[Bar], *, maximum: float, minimum: float = 0.0) -> Markup:
    """An SVG bar chart; values outside [minimum, maximum] are clipped to the frame."""
    span = (maximum - minimum) or 1.0
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = GAP + len(bars) * (BAR_HEIGHT + GAP)

    def x(value: float) -> float:
        return LABEL_WIDTH + plot * min(1.0, max(0.0, (value - minimum) / span))

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%"'
        f' preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LABEL_WIDTH}" y1="0" x2="{LABEL_WIDTH}" y2="{height}" class="axis"/>',
    ]
    for index, bar in enumerate(bars):
        top = GAP + index * (BAR_HEIGHT + GAP)
        middle = top + BAR_HEIGHT / 2
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{middle + 4:.1f}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
        )
        end = LABEL_WIDTH
        if bar.value is not None:
            end = int(x(bar.value))
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{top}" width="{max(1, end - LABEL_WIDTH)}"'
                f' height="{BAR_HEIGHT}" class="bar"/>'
            )
            if bar.low is not None and bar.high is not None:
                low, high = x(bar.low), x(bar.high)
                parts.append(
                    f'<line x1="{low:.1f}" y1="{middle:.1f}" x2="{high:.1f}" y2="{middle:.1f}"'
                    f' class="interval"/><line x1="{low:.1f}" y1="{top + 4}" x2="{low:.1f}"'
                    f' y2="{top + BAR_HEIGHT - 4}" class="interval"/><line x1="{high:.1f}"'
                    f' y1="{top + 4}" x2="{high:.1f}" y2="{top + BAR_HEIGHT - 4}"'
                    ' class="interval"/>'
                )
                end = max(end, int(high))
        kind = "value" if bar.value is not None else "muted"
        parts.append(
            f'<text x="{end + 6}" y="{middle + 4:.1f}" class="{kind}">{escape(bar.note)}</text>'
        )
    parts.append("</svg>")
    # Every text in it went through escape(); the rest is numbers and fixed markup.
    return Markup("".join(parts))  # noqa: S704


__all__ = ["Bar", "bar_chart"]
