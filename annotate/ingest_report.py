"""What an ingest did, and the shared way of listing row problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from safecal.annotate.errors import InputError

#: how many offending rows a message lists before it says "and N more"
SHOWN = 10


@dataclass
class IngestReport:
    """Counts of one ingest: rows read, and what happened to them."""

    file: str
    kind: str  # "items" | "responses"
    rows: int = 0
    added: int = 0
    unchanged: int = 0
    replaced: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.file}: {self.rows} {self.kind} read: {self.added} added, "
            f"{self.unchanged} unchanged, {self.replaced} replaced"
        )


def listing(entries: list[str], *, total: int | None = None) -> str:
    """``a; b; c and 7 more`` from a list of problem descriptions."""
    total = len(entries) if total is None else total
    shown = "; ".join(entries[:SHOWN])
    more = total - min(len(entries), SHOWN)
    return shown + (f"; and {more} more" if more > 0 else "")


class Problems:
    """Collects row problems so that one error names all of them (up to :data:`SHOWN`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.found: list[tuple[str, list[str], int]] = []  # (rule, examples, count)

    def add(self, rule: str, examples: list[str], count: int) -> None:
        if count:
            self.found.append((rule, examples, count))

    def raise_if_any(self) -> None:
        if not self.found:
            return
        parts = [
            f"{rule} ({count} row{'s' if count != 1 else ''}): {listing(examples, total=count)}"
            for rule, examples, count in self.found
        ]
        raise InputError(f"{self.path}: nothing was ingested.\n  " + "\n  ".join(parts))
