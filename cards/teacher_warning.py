"""The organizer's warning: each failing rule with what to do about it.

Posted in the meeting chat as a card whose content for everyone is neutral; Teams fetches
the organizer's own view (refresh.userIds), so pupils never see what failed.
"""

from __future__ import annotations

from domain.findings import StoredFinding
from rules.registry import BY_ID

from .common import card, heading, refresh_for, text

TEACHER_VIEW = "teacherView"


def neutral_card(lesson_id: int, organizer_ids: list[str], warning_id: int) -> dict:
    return card(
        [text("Chaperone has checked this lesson and sent a note to the organizer.", subtle=True)],
        refresh=refresh_for(organizer_ids, TEACHER_VIEW, {"lessonId": lesson_id, "warningId": warning_id}),
    )


def warning_card(lesson_title: str | None, findings: list[StoredFinding]) -> dict:
    body = [
        heading("Action needed in this lesson", color="Attention"),
        text(f"{lesson_title or 'This lesson'} does not meet the school's remote learning policy:", spacing="Small"),
    ]
    for finding in findings:
        rule = BY_ID[finding.rule_id]
        body += [
            text(f"{rule.title} ({finding.severity.value})", weight="Bolder", spacing="Medium"),
            text(finding.message),
            text(f"What to do: {rule.remediation}", subtle=True),
        ]
    body.append(text("Only you can see this note.", subtle=True, spacing="Medium"))
    return card(body)
