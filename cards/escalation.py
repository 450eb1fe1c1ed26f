"""A school's breach alert nobody acted on in time, as the trust's safeguarding leads receive it."""

from __future__ import annotations

from datetime import datetime

from config.policy import Policy
from domain.lesson import Lesson
from domain.wording import plural

from .common import card, execute, facts, heading, local_time, text
from .slt_alert import ACKNOWLEDGE, RESOLVE


def escalation_card(trust_name: str, policy: Policy, lesson: Lesson | None, rules: list[str], sent_at: datetime, now: datetime,
                    alert_id: int) -> dict:
    """`policy`: the school whose alert it is; `rules`: the titles of the rules it raised. The
    buttons act on the school's alert itself (a lead who only reads is refused there)."""
    zone = policy.school.zone
    waited = max(0, int((now - sent_at).total_seconds() // 60))
    title = (lesson.title if lesson else None) or "a live lesson"
    rows = [
        ("School", policy.school.name),
        ("Lesson", title),
        ("Organizer", (lesson.organizer_name or lesson.organizer_aad_id or "unknown") if lesson else "unknown"),
        ("Rule" if len(rules) == 1 else "Rules", ", ".join(rules) or "none (an unmonitored session)"),
        ("Alert sent", local_time(sent_at, zone, "%A %d %B %Y, %H:%M")),
        ("Unacknowledged for", plural(waited, "minute", "minutes")),
    ]
    data = {"alertId": alert_id, "lessonId": lesson.id if lesson else None}
    return card(
        [
            heading(f"Escalated: {policy.school.name} breach alert not acknowledged", color="Attention"),
            text(f"Nobody at {policy.school.name} has acknowledged, resolved or recorded an exception for this breach alert "
                 f"since it was sent, so {trust_name}'s safeguarding leads are told.", subtle=True),
            facts(rows),
        ],
        [execute("Acknowledge", ACKNOWLEDGE, data), execute("Mark resolved", RESOLVE, data)],
    )
