"""The SLT breach alert, posted in the SLT channel, with Universal Actions SLT can take."""

from __future__ import annotations

from datetime import datetime

from config.policy import Policy
from domain.findings import StoredFinding
from domain.lesson import Lesson, PersonClass
from domain.messages import AlertState
from rules.registry import BY_ID

from .common import card, execute, facts, heading, local_time, text

ACKNOWLEDGE = "acknowledge"
RECORD_EXCEPTION = "recordException"
RESOLVE = "resolve"


def _present(lesson: Lesson, at: datetime | None) -> tuple[list[str], list[str]]:
    staff, pupils = set(), set()
    for a in lesson.attendance:
        joined = a.joined_at or lesson.actual_start
        if at is None or (joined and joined <= at and (a.left_at is None or a.left_at > at)):
            name = a.display_name or a.person_id
            if a.classification is PersonClass.staff:
                staff.add(name)
            elif a.classification is PersonClass.pupil:
                pupils.add(name)
    return sorted(staff), sorted(pupils)


def alert_card(policy: Policy, lesson: Lesson, findings: list[StoredFinding], state: AlertState, class_name: str) -> dict:
    zone = policy.school.zone
    at = max((f.evaluated_at for f in findings), default=None)
    staff, pupils = _present(lesson, at)
    body = [
        heading(f"Breach: {lesson.title or 'a live lesson'}", color="Attention"),
        facts(
            [
                ("School", policy.school.name),
                ("Organizer", lesson.organizer_name or lesson.organizer_aad_id or "unknown"),
                ("Class", class_name),
                ("Started", local_time(lesson.actual_start, zone, "%A %d %B %Y, %H:%M")),
                ("Checked at", local_time(at, zone)),
                ("Staff present", ", ".join(staff) or "none"),
                ("Pupils present", str(len(pupils))),
            ]
        ),
    ]
    for finding in findings:
        rule = BY_ID[finding.rule_id]
        clause = rule.clauses[0]
        body += [
            text(f"{rule.title}: {finding.severity.value}", weight="Bolder", spacing="Medium"),
            text(finding.message),
            text(f"Policy: \"{clause.text}\" ({clause.document})", subtle=True),
        ]
    data = {"alertId": state.alert_id, "lessonId": lesson.id}
    actions = []
    if state.acknowledged_at:
        body.append(text(f"Acknowledged by {state.acknowledged_by} at {local_time(state.acknowledged_at, zone, '%H:%M on %d %B')}", color="Good", spacing="Medium"))
    if state.exception_id:
        body.append(text(f"Approved exception #{state.exception_id} recorded by {state.exception_by}", color="Good"))
    if state.resolved_at:
        body.append(text(f"Resolved by {state.resolved_by} at {local_time(state.resolved_at, zone, '%H:%M on %d %B')}", color="Good"))
    else:
        if not state.acknowledged_at:
            actions.append(execute("Acknowledge", ACKNOWLEDGE, data))
        actions.append(
            {
                "type": "Action.ShowCard",
                "title": "Record approved exception",
                "card": card(
                    [
                        {"type": "Input.Text", "id": "reason", "label": "Reason for the exception", "isRequired": True,
                         "maxLength": 500, "errorMessage": "Give the reason the exception was approved."},
                        {"type": "Input.Date", "id": "expires", "label": "Applies until", "isRequired": True,
                         "errorMessage": "Choose the last day the exception applies."},
                    ],
                    [execute("Record exception", RECORD_EXCEPTION, data, style="positive")],
                ),
            }
        )
        actions.append(execute("Mark resolved", RESOLVE, data))
    return card(body, actions)
