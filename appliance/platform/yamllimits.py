"""Depth and alias limits for YAML from outside, checked before a document is composed.

PyYAML's composer recurses once per nesting level (a hundred thousand `[` end in
RecursionError), and aliases (`*name`) let a few lines stand for any depth or for billions of
values once loaded. Imported files need neither, so both are refused from the parser's event
stream, which keeps an explicit stack and costs linear time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from appliance.platform.jsonlimits import MAX_DEPTH


@dataclass(frozen=True)
class YamlShapeProblem:
    """Where a YAML text breaks a limit (1-based line and column), and which."""

    line: int
    column: int
    message: str


def _position(mark: Any) -> tuple[int, int]:
    # A PyYAML mark (the pure-Python or the C parser's), or None.
    return (int(mark.line) + 1, int(mark.column) + 1) if mark else (0, 0)


def yaml_shape_problem(text: str, max_depth: int = MAX_DEPTH) -> YamlShapeProblem | None:
    """The first alias, or collection nested deeper than `max_depth`, in `text` (None if none).

    yaml.YAMLError escapes for text that is not YAML at all: the caller reports it with its mark.
    """
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            return YamlShapeProblem(*_position(event.start_mark), "aliases (*name) are not allowed")
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            depth += 1
            if depth > max_depth:
                return YamlShapeProblem(
                    *_position(event.start_mark), f"nested more than {max_depth} levels deep"
                )
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1
    return None
