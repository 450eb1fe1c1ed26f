"""A concern, as the DSL receives it (privately)."""

from __future__ import annotations

from datetime import datetime

from config.policy import Policy
from domain.lesson import Lesson

from .common import card, facts, heading, local_time, text


def concern_card(policy: Policy, lesson: Lesson | None, reporter: str | None, concern: str, at: datetime, *,
                 in_trust: bool = False) -> dict:
    """`policy`: the school whose DSL receives it; `in_trust`: one of several, so it is named."""
    zone = policy.school.zone
    details = [("Reported by", reporter or "unknown"), ("When", local_time(at, zone, "%A %d %B %Y, %H:%M"))]
    if in_trust:
        details.insert(0, ("School", policy.school.name))
    if lesson is not None:
        details += [
            ("Lesson", lesson.title or "untitled"),
            ("Organizer", lesson.organizer_name or lesson.organizer_aad_id or "unknown"),
            ("Lesson started", local_time(lesson.actual_start, zone)),
        ]
    return card(
        [
            heading("Safeguarding concern", color="Attention"),
            text("Reported through Chaperone during a remote lesson. "
                 + (f"Only {policy.school.name}'s DSL receives this." if in_trust else "Only the DSL receives this."), subtle=True),
            facts(details),
            text("What they said", weight="Bolder", spacing="Medium"),
            text(concern),
        ]
    )
