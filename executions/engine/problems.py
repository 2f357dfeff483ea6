"""Validation findings: each names the step and the field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition."""

    step: str | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"step '{self.step}'" if self.step else "workflow"
        return f"{where}, {self.field}: {self.message}"

    def as_dict(self) -> dict:
        return {"step": self.step, "field": self.field, "message": self.message}
