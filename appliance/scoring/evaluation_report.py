"""The figures of a scorer evaluation, overall and per job language, and their plain-text
report: score agreement of the scorer beside the naive baselines, then STAR parts, quantified
results, ownership, off-topic and wrong-language flags, and minimal pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from appliance.scoring.baselines import BASELINE_NAMES, BASELINES
from appliance.scoring.cues import STAR_PARTS
from appliance.scoring.evaluation import Scored
from appliance.scoring.metrics import (
    RESAMPLES,
    SEED,
    bootstrap_spearman,
    kendall_tau_b,
    mean_absolute_error,
    precision_recall_f1,
    spearman,
)
from appliance.scoring.scorer import SCORER

DECIMALS = 3
# Below this many compared answers a rank correlation's interval is too wide to decide on.
FEW_ITEMS = 30
SIGNALS = ("scorer", *BASELINES)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, dict):
        return {key: _round(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_round(item) for item in value]
    return value


def _agreement(scored: Sequence[Scored], resamples: int, seed: int) -> dict[str, Any]:
    """Spearman (with its bootstrap interval) and Kendall of the scorer and each baseline
    against the score labels, on the items that have a labelled and a predicted score."""
    compared = [
        s for s in scored if s.item.labels.score is not None and s.prediction["score"] is not None
    ]
    labels = [float(s.item.labels.score or 0.0) for s in compared]
    values = {
        "scorer": [float(s.prediction["score"]) for s in compared],
        **{name: [s.baselines[name] for s in compared] for name in BASELINES},
    }
    intervals = bootstrap_spearman(
        [values[name] for name in SIGNALS], labels, resamples=resamples, seed=seed
    )
    signals: dict[str, Any] = {}
    for name, interval in zip(SIGNALS, intervals, strict=True):
        signals[name] = {
            "spearman": spearman(values[name], labels),
            "spearman_95": list(interval) if interval else None,
            "kendall": kendall_tau_b(values[name], labels),
        }
    signals["scorer"]["mae"] = mean_absolute_error(values["scorer"], labels)
    mine = signals["scorer"]["spearman"]
    not_above = [
        name
        for name in BASELINES
        if signals[name]["spearman"] is not None
        and (mine is None or mine <= signals[name]["spearman"])
    ]
    return {"items": len(compared), "signals": signals, "scorer_not_above": not_above}


def _pairs(scored: Sequence[Scored]) -> dict[str, int]:
    """Minimal pairs whose better-labelled answer got the higher predicted score (a tie, or
    an unscored answer, is not ordered)."""
    members: dict[str, list[Scored]] = {}
    for s in scored:
        if s.item.pair is not None:
            members.setdefault(s.item.pair, []).append(s)
    total = ordered = 0
    for pair in members.values():
        if len(pair) != 2:
            continue  # the pair's other answer belongs to another job language
        total += 1
        worse, better = sorted(pair, key=lambda s: s.item.labels.score or 0.0)
        low, high = worse.prediction["score"], better.prediction["score"]
        ordered += low is not None and high is not None and high > low
    return {"ordered": ordered, "total": total}


def _group(scored: Sequence[Scored], resamples: int, seed: int) -> dict[str, Any]:
    """Every figure over one set of items."""
    star = {
        part: precision_recall_f1(
            (s.prediction["star"][part], s.item.labels.star[part])
            for s in scored
            if part in s.item.labels.star
        )
        for part in STAR_PARTS
    }
    f1s = [float(f1) for part in STAR_PARTS if (f1 := star[part]["f1"]) is not None]
    owned = [s for s in scored if s.item.labels.ownership is not None]
    right = sum(s.prediction["ownership"] == s.item.labels.ownership for s in owned)
    return {
        "items": len(scored),
        "labelled_scores": sum(s.item.labels.score is not None for s in scored),
        "unscored": sum(s.prediction["score"] is None for s in scored),
        "score_agreement": _agreement(scored, resamples, seed),
        "star": {**star, "macro_f1": sum(f1s) / len(f1s) if f1s else None},
        "result_quantified": precision_recall_f1(
            (s.prediction["result_quantified"], s.item.labels.result_quantified)
            for s in scored
            if s.item.labels.result_quantified is not None
        ),
        "ownership": {"accuracy": right / len(owned) if owned else None, "items": len(owned)},
        "off_topic": precision_recall_f1(
            (s.prediction["off_topic"], s.item.labels.off_topic)
            for s in scored
            if s.item.labels.off_topic is not None
        ),
        "wrong_language": precision_recall_f1(
            (s.prediction["wrong_language"], s.item.labels.wrong_language)
            for s in scored
            if s.item.labels.wrong_language is not None
        ),
        "minimal_pairs": _pairs(scored),
    }


def evaluation_figures(
    scored: Sequence[Scored], *, resamples: int = RESAMPLES, seed: int = SEED
) -> dict[str, Any]:
    """The figures overall (`all`) and per job language, as JSON-ready values."""
    groups = {"all": _group(scored, resamples, seed)}
    for language in sorted({s.item.job_lang for s in scored}):
        mine = [s for s in scored if s.item.job_lang == language]
        groups[language] = _group(mine, resamples, seed)
    figures = {
        "scorer": SCORER,
        "items": len(scored),
        "bootstrap": {"resamples": resamples, "seed": seed},
        "groups": groups,
    }
    rounded: dict[str, Any] = _round(figures)
    return rounded


# --- the plain-text report -----------------------------------------------------------------------


def _num(value: Any, width: int = 9) -> str:
    return f"{value:>{width}.3f}" if isinstance(value, int | float) else f"{'-':>{width}}"


def _interval(value: Any) -> str:
    return f"[{value[0]:.3f}, {value[1]:.3f}]" if value else "-"


def _prf_row(label: str, figures: dict[str, Any], *, f1: bool = True) -> str:
    row = f"  {label:<22}{_num(figures['precision'])}{_num(figures['recall'])}"
    row += _num(figures["f1"]) if f1 else " " * 9
    return row + f"{figures['items']:>10}"


def _group_lines(name: str, group: dict[str, Any]) -> list[str]:
    agreement = group["score_agreement"]
    lines = [
        f"== {name}: {group['items']} items, {group['labelled_scores']} with a score label, "
        f"{group['unscored']} unscored ==",
        f"Score agreement ({agreement['items']} items with a labelled and a predicted score)",
        f"  {'signal':<22}{'Spearman':>9}  {'95 % interval':<16}{'Kendall':>9}{'MAE':>9}",
    ]
    for signal in SIGNALS:
        figures = agreement["signals"][signal]
        label = "scorer" if signal == "scorer" else BASELINE_NAMES[signal]
        lines.append(
            f"  {label:<22}{_num(figures['spearman'])}  {_interval(figures['spearman_95']):<16}"
            f"{_num(figures['kendall'])}{_num(figures.get('mae'))}"
        )
    if agreement["items"] < FEW_ITEMS:
        lines.append(
            f"  (fewer than {FEW_ITEMS} answers: the intervals are wide; label more first)"
        )
    if agreement["scorer_not_above"]:
        names = ", ".join(BASELINE_NAMES[b] for b in agreement["scorer_not_above"])
        lines.append(
            f"  ! the scorer ranks answers no better than {names}: it is not measuring "
            "competency on these answers"
        )
    lines += [
        "Answer analysis",
        f"  {'':<22}{'precision':>9}{'recall':>9}{'F1':>9}{'labelled':>10}",
    ]
    lines += [_prf_row(f"STAR {part}", group["star"][part]) for part in STAR_PARTS]
    lines.append(f"  {'STAR macro F1':<22}{'':>18}{_num(group['star']['macro_f1'])}")
    lines.append(_prf_row("result quantified", group["result_quantified"]))
    lines.append(_prf_row("off-topic", group["off_topic"]))
    lines.append(_prf_row("wrong language", group["wrong_language"], f1=False))
    ownership = group["ownership"]
    lines.append(
        f"  {'ownership accuracy':<22}{_num(ownership['accuracy'])}{'':>18}{ownership['items']:>10}"
    )
    pairs = group["minimal_pairs"]
    lines.append(f"  {'minimal pairs ordered':<22}{pairs['ordered']:>9} of {pairs['total']}")
    return lines


def format_report(figures: dict[str, Any]) -> str:
    """The figures as a plain-text table, overall first, then per job language."""
    bootstrap = figures["bootstrap"]
    lines = [
        f"Scorer {figures['scorer']} on {figures['items']} labelled items "
        f"(95 % intervals from {bootstrap['resamples']} bootstrap resamples, "
        f"seed {bootstrap['seed']}; - means not defined)",
    ]
    for name, group in figures["groups"].items():
        lines += ["", *_group_lines(name, group)]
    return "\n".join(lines) + "\n"
