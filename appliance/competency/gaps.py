"""What a competency without anchors or keywords loses in scoring, said at import time."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.store.competency import ModelSpec


@dataclass(frozen=True)
class ScoringGap:
    """A competency of a draft model that lacks what the scorer and the report use."""

    key: str
    name: str
    name_zh: str
    no_anchors: bool
    no_keywords: bool

    @property
    def missing(self) -> list[str]:
        """The missing parts by their dictionary names ("anchors", "keywords")."""
        return [
            part
            for part, gap in (("anchors", self.no_anchors), ("keywords", self.no_keywords))
            if gap
        ]


def scoring_gaps(spec: ModelSpec) -> list[ScoringGap]:
    """The competencies with no level anchors or no keywords (in either language)."""
    gaps = []
    for dim in spec.dimensions:
        no_anchors = not dim.anchors
        no_keywords = not (dim.keywords_in("en") or dim.keywords_in("zh"))
        if no_anchors or no_keywords:
            gaps.append(ScoringGap(dim.key, dim.name, dim.name_zh, no_anchors, no_keywords))
    return gaps
