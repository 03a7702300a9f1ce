"""STAR analysis of one answer: which units set the situation, name the task, report actions
and state results, plus ownership, specificity and vagueness over the whole answer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.scoring.cues import STAR_PARTS, UnitCues, unit_cues
from appliance.scoring.text import Unit, split_units
from inference.interfaces import Word


@dataclass(frozen=True)
class AnswerAnalysis:
    """Lexical findings about one answer."""

    units: tuple[Unit, ...]
    cues: tuple[UnitCues, ...]
    language: str

    def units_with(self, part: str) -> list[Unit]:
        """The units that show a STAR part."""
        return [u for u, c in zip(self.units, self.cues, strict=True) if c.has(part)]

    @property
    def parts(self) -> dict[str, bool]:
        """Which STAR parts the answer shows."""
        return {part: bool(self.units_with(part)) for part in STAR_PARTS}

    @property
    def quantified_result(self) -> bool:
        """Whether a result is stated with a number (or doubled, halved, ...)."""
        return any(
            c.has("result") and c.parts["result"] == ["result_quantified"] for c in self.cues
        )

    @property
    def own_actions(self) -> int:
        """Actions reported with I / 我 as the actor."""
        return sum(c.own_actions for c in self.cues)

    @property
    def team_actions(self) -> int:
        """Actions reported with we / 我们 as the actor."""
        return sum(c.team_actions for c in self.cues)

    @property
    def ownership_class(self) -> str:
        """Who acted: "i", "we", "mixed", or "none" when nobody did anything specific."""
        own, team = self.own_actions, self.team_actions
        if own and team:
            return "i" if own >= 3 * team else ("we" if team >= 3 * own else "mixed")
        return "i" if own else ("we" if team else "none")

    @property
    def hypothetical(self) -> int:
        """What the candidate would do, rather than did."""
        return sum(c.hypothetical for c in self.cues)

    @property
    def habitual(self) -> int:
        """What the candidate usually does, rather than did once."""
        return sum(c.habitual for c in self.cues)

    @property
    def reflection(self) -> bool:
        """Whether the answer says what was learned or is done differently since."""
        return any(c.reflection for c in self.cues)

    @property
    def lasting(self) -> bool:
        """Whether the answer names an effect that outlived it (a process others now use)."""
        return any(c.lasting for c in self.cues)

    @property
    def failure(self) -> bool:
        """Whether the answer reports that the actions failed."""
        return any(c.failure for c in self.cues)

    @property
    def ownership(self) -> float:
        """0..1: the share of first-person singular in who acted (0.5 when nobody did)."""
        own = self.own_actions + 0.5 * sum(c.i_count for c in self.cues)
        team = self.team_actions + 0.5 * sum(c.we_count for c in self.cues)
        if own + team == 0:
            return 0.5
        return own / (own + team)

    @property
    def specifics(self) -> int:
        """Numbers, names and time frames mentioned."""
        return sum(c.specifics for c in self.cues)

    @property
    def vague(self) -> int:
        """Habitual, hypothetical or filler phrases."""
        return sum(c.vague for c in self.cues)

    @property
    def specificity(self) -> float:
        """0..1: concrete detail against vagueness (0.5 when neither shows)."""
        concrete = 1.0 - math.exp(-self.specifics / 4.0)
        vague = 1.0 - math.exp(-self.vague / 3.0)
        return min(1.0, max(0.0, 0.5 + 0.5 * concrete - 0.5 * vague))

    @property
    def text(self) -> str:
        """The answer's whole text."""
        joiner = "" if self.language == "zh" else " "
        return joiner.join(u.text for u in self.units)


def analyse_words(words: Sequence[Word], language: str) -> AnswerAnalysis:
    """Split an answer's words into units and find the cues of each."""
    units = tuple(split_units(words, language))
    return AnswerAnalysis(units, tuple(unit_cues(u.text, language) for u in units), language)
