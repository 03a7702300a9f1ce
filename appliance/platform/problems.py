"""A fault found in a file a person uploaded, with where it is (`line 12, field x`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One fault in an uploaded file, with where it is (empty when it is the whole file)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


__all__ = ["Problem"]
