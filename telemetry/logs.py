"""`CHAPERONE_LOG_FORMAT=json`: one JSON object per line, for the school's log collector.

Each object has the time (UTC, ISO 8601), level, logger, message and, where known, the
correlation ids `activity_id` (the Teams activity being handled) and `lesson_id` (the lesson a
job is working on). Messages are Chaperone's own, which carry ids only (docs/security.md).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from . import context

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Their INFO lines are SQL with its parameters (names, concerns): never in the service's log.
# httpx writes a line per Graph request (its address names a person: an id is personal data),
# azure-identity one per token served from its cache: thousands a minute at a trust's 09:00.
QUIET = {"aiosqlite": logging.WARNING, "sqlalchemy.engine": logging.WARNING, "sqlalchemy.pool": logging.WARNING,
         "httpx": logging.WARNING, "azure.identity": logging.WARNING}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (activity := context.activity_id.get()) is not None:
            entry["activity_id"] = activity
        if (lesson := context.lesson_id.get()) is not None:
            entry["lesson_id"] = lesson
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class WithIds(logging.Formatter):
    """The text format, with the correlation ids appended when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{name}={value}" for name, value in (("activity", context.activity_id.get()), ("lesson", context.lesson_id.get()))
               if value is not None]
        return f"{line} [{' '.join(ids)}]" if ids else line


def configure(json_lines: bool, level: str) -> None:
    """Every handler of the root logger writes JSON lines (or text); the chatty drivers are kept quiet."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    formatter = JsonLines() if json_lines else WithIds(TEXT_FORMAT)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    root.setLevel(level.upper())
    for name, floor in QUIET.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
