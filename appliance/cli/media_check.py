"""`python -m appliance transcribe FILE` and `look FILE`: the production speech and vision
steps on any media file, so an operator can check a model pack on their own recordings.

    transcribe FILE [--language en|zh|...] [--reference TEXT_FILE] [--json]
               [--config FILE | --data-dir DIR]
    look FILE [--json] [--config FILE | --data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from appliance.cli.common import add_config_arguments, load


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:04.1f}"


def _print_transcript(result: dict[str, Any]) -> None:
    transcript = result["transcript"]
    if transcript is None:
        for note in result["notes"].values():
            print(note)
        return
    probability = transcript.get("language_probability")
    sure = f" ({probability:.0%} sure)" if isinstance(probability, float) else ""
    print(
        f"{result['file']}: {result['duration_s']:.1f} s, language {transcript['language']}{sure}"
    )
    for segment in transcript["segments"]:
        print(f"[{_clock(segment['start'])}-{_clock(segment['end'])}] {segment['text']}")
    translation = result.get("translation")
    if translation:
        print("\nMachine translation (English):")
        for segment in translation["segments"]:
            print(f"[{_clock(segment['start'])}-{_clock(segment['end'])}] {segment['text']}")
    for name, note in result["notes"].items():
        print(f"note ({name}): {note}")
    rate = result.get("error_rate")
    if rate:
        name = "character" if rate["kind"] == "cer" else "word"
        print(
            f"\n{name} error rate against the reference: {rate['value']:.1%} of "
            f"{rate['reference_units']} {rate['unit']} ({rate['substitutions']} heard wrong, "
            f"{rate['deletions']} missed, {rate['insertions']} added; numbers, case and "
            "punctuation compared as spoken)"
        )


def _flag(value: Any) -> str:
    return (
        "-"
        if value is None
        else ("yes" if value is True else ("no" if value is False else f"{value}"))
    )


def _print_look(result: dict[str, Any]) -> None:
    print(
        f"{result['file']}: {result['duration_s'] or 0:.1f} s, {result['frame_rate']:g} frames a "
        f"second sampled, {result['backend']} backend"
    )
    print("time      faces  at camera  smile  eyes closed  yaw    pitch")
    for frame in result["frames"]:
        first = frame["faces"][0] if frame["faces"] else {}
        at_camera = _flag(first.get("gaze_at_camera"))
        print(
            f"{_clock(frame['t']):8s}  {len(frame['faces']):5d}  {at_camera:9s}"
            f"  {_flag(first.get('smile')):5s}  {_flag(first.get('eyes_closed')):11s}"
            f"  {_flag(first.get('yaw')):5s}  {_flag(first.get('pitch'))}"
        )
    print("summary: " + json.dumps(result["summary"], ensure_ascii=False))


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Transcribe a media file with the configured speech backend and defaults."""
    from appliance.analysis.media_check import read_reference, transcribe_file

    reference = read_reference(Path(args.reference)) if args.reference else None
    result = transcribe_file(load(args), Path(args.file), args.language, reference)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_transcript(result)
    return 0


def cmd_look(args: argparse.Namespace) -> int:
    """Run the visual-cues analysis on a media file: per sampled frame, then the summary."""
    from appliance.analysis.media_check import look_at_file

    result = look_at_file(load(args), Path(args.file))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_look(result)
    return 0


def register(subparsers: Any) -> None:
    """Add `transcribe` and `look` to the command line."""
    transcribe = subparsers.add_parser("transcribe", help=cmd_transcribe.__doc__)
    transcribe.set_defaults(handler=cmd_transcribe)
    add_config_arguments(transcribe)
    transcribe.add_argument("file")
    transcribe.add_argument("--language", help="the expected language (en, zh, ...): the prior")
    transcribe.add_argument(
        "--reference",
        metavar="TEXT_FILE",
        help="a UTF-8 text of what was said: prints the word (Mandarin: character) error rate",
    )
    transcribe.add_argument("--json", action="store_true", help="print the result as JSON")
    look = subparsers.add_parser("look", help=cmd_look.__doc__)
    look.set_defaults(handler=cmd_look)
    add_config_arguments(look)
    look.add_argument("file")
    look.add_argument("--json", action="store_true", help="print the result as JSON")
