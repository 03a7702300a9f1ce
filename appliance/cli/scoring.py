"""`python -m appliance scoring evaluate`: the answer scorer checked on a customer's own
labelled answers before it is switched on (docs/scoring-evaluation.md).

    scoring evaluate --dictionary FILE --items FILE.jsonl [--out FILE.jsonl] [--json]
                     [--config FILE | --data-dir DIR | --packs-dir DIR]

The sentence encoder comes from the installed model packs as the worker loads it (the
configuration's `inference.text_encoder` and `inference.text_pack`), or from a packs folder
named by `--packs-dir`. Nothing is read from or written to the appliance's database.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from appliance.cli.common import load
from appliance.cli.packs import PackCommandError
from appliance.competency import DictionaryError, dictionary_to_spec, parse_dictionary
from appliance.scoring.evaluation import EvaluationInputError, Item, read_items, score_items
from appliance.scoring.evaluation_report import evaluation_figures, format_report
from appliance.store.competency import ModelSpec
from inference.interfaces import TextEncoder


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EvaluationInputError([f"{path}: cannot be read ({exc.strerror})"]) from None


def load_model(path: Path) -> ModelSpec:
    """The dictionary as the model the scorer sees once saved (id 0, version 1)."""
    try:
        parsed = parse_dictionary(_read(path), path.name)
    except DictionaryError as exc:
        raise EvaluationInputError([f"{path}: {problem}" for problem in exc.problems]) from None
    return dataclasses.replace(dictionary_to_spec(parsed), id=0, version=1)


def _encoder(args: argparse.Namespace) -> TextEncoder:
    """The configured sentence encoder, or the default one from `--packs-dir`."""
    from appliance.platform.config import InferenceConfig
    from inference.packs import PackError, PackRegistry
    from inference.registry import text_encoder_class

    try:
        if args.packs_dir:
            defaults = InferenceConfig()
            pack = PackRegistry([Path(args.packs_dir)]).load(
                defaults.text_pack, allowed_uses={"text"}
            )
            return text_encoder_class(defaults.text_encoder)(pack)
        from appliance.engines.runtime import text_encoder

        return text_encoder(load(args))
    except PackError as exc:
        raise PackCommandError(f"the sentence encoder cannot be loaded: {exc}") from None


def load_items(path: Path, model: ModelSpec) -> list[Item]:
    """The labelled items of a JSONL file; every problem is named with the file and line."""
    data = _read(path)
    try:
        return read_items(data, model)
    except EvaluationInputError as exc:
        raise EvaluationInputError([f"{path}: {problem}" for problem in exc.problems]) from None


def cmd_scoring_evaluate(args: argparse.Namespace) -> int:
    """Score labelled answers and compare the scorer with the labels and naive baselines."""
    try:
        model = load_model(Path(args.dictionary))
        items = load_items(Path(args.items), model)
    except EvaluationInputError as exc:
        # Every problem on its own line, like validate-config: the customer fixes them at once.
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was scored", file=sys.stderr)
        return EvaluationInputError.exit_code
    scored = score_items(items, model, _encoder(args))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            for entry in scored:
                out.write(json.dumps(entry.prediction, ensure_ascii=False) + "\n")
    figures = evaluation_figures(scored)
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
    else:
        print(format_report(figures), end="")
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `scoring evaluate` to the subparsers of `cli.main.build_parser`."""
    scoring: argparse.ArgumentParser = subparsers.add_parser(
        "scoring", help="check the answer scorer on labelled answers"
    )
    commands = scoring.add_subparsers(dest="scoring_command", required=True)
    evaluate = commands.add_parser("evaluate", help=(cmd_scoring_evaluate.__doc__ or "").strip())
    evaluate.set_defaults(handler=cmd_scoring_evaluate)
    evaluate.add_argument(
        "--dictionary", required=True, help="competency dictionary (CSV, XLSX, JSON or YAML)"
    )
    evaluate.add_argument("--items", required=True, help="labelled answers, one JSON object a line")
    evaluate.add_argument("--out", help="write the scorer's result per item here (JSON lines)")
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    where = evaluate.add_mutually_exclusive_group()
    where.add_argument("--config", help="config file (default: DATA_DIR/appliance.toml)")
    where.add_argument("--data-dir", help="data directory holding appliance.toml")
    where.add_argument("--packs-dir", help="a model packs folder (instead of a config)")
    return scoring
