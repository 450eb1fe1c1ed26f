"""Correlation ids for log lines: the activity being handled and the lesson being worked on.

Context variables follow each asyncio task, so a job's lesson id stays with that job's lines
and an HTTP turn's activity id with that turn's, whatever else runs at the same time.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar

activity_id: ContextVar[str | None] = ContextVar("chaperone_activity_id", default=None)
lesson_id: ContextVar[int | None] = ContextVar("chaperone_lesson_id", default=None)


def bind_activity(teams_activity_id: str | None) -> str:
    """This turn's correlation id: Teams' activity id, or a fresh one when it sent none."""
    value = teams_activity_id or f"local-{uuid.uuid4().hex[:16]}"
    activity_id.set(value)
    return value


def bind_lesson(lesson: int | None) -> None:
    lesson_id.set(lesson)
