"""What the importers share: the error type, CSV reading with line numbers, value parsers."""

from __future__ import annotations

import csv
import io
from datetime import date, time


class ImportProblems(ValueError):
    """Rows that could not be read; nothing was imported."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{source}: nothing imported; {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems))


def csv_rows(text: str, required: set[str]) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """(line number, row with lower-case keys) for each data row, and header problems."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = {(h or "").strip().lower() for h in reader.fieldnames or []}
    missing = sorted(required - header)
    if missing:
        return [], [f"line 1: missing column(s): {', '.join(missing)} (found: {', '.join(sorted(header)) or 'none'})"]
    rows = []
    for row in reader:
        cleaned = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        if any(cleaned.values()):
            rows.append((reader.line_num, cleaned))
    return rows, []


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from exc


def parse_time(value: str, what: str) -> time:
    try:
        return time.fromisoformat(value if len(value) > 4 else value.zfill(5))
    except ValueError as exc:
        raise ValueError(f"{what} {value!r} is not a time (HH:MM)") from exc


def optional_date(value: str, what: str) -> date | None:
    return parse_date(value, what) if value else None
