"""The lesson's record for the organizer when it ends: length, time, date, attendance, findings."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Status, StoredFinding
from domain.lesson import Lesson, PersonClass
from rules.registry import BY_ID

from .common import card, facts, heading, local_time, text


def _minutes(seconds: int | None) -> str:
    return f"{seconds // 60} min" if seconds is not None else "unknown"


def summary_card(policy: Policy, lesson: Lesson, findings: list[StoredFinding]) -> dict:
    zone = policy.school.zone
    body = [
        heading(f"Lesson record: {lesson.title or 'untitled'}"),
        facts(
            [
                ("Date", local_time(lesson.actual_start or lesson.actual_end, zone, "%A %d %B %Y")),
                ("Time", f"{local_time(lesson.actual_start, zone)}-{local_time(lesson.actual_end, zone)}"),
                ("Length", _minutes(lesson.length_seconds)),
                *([("Ended", "inferred: Teams sent no end event (everyone had left, or it ran past the limit)")]
                  if lesson.end_inferred else []),
            ]
        ),
    ]
    for kind, label in ((PersonClass.staff, "Staff"), (PersonClass.pupil, "Pupils"), (PersonClass.external, "Others"), (PersonClass.unknown, "Not identified")):
        rows = [a for a in lesson.attendance if a.classification is kind]
        if not rows:
            continue
        people: dict[str, int] = {}
        for a in rows:
            people[a.display_name or a.person_id] = people.get(a.display_name or a.person_id, 0) + (a.seconds or 0)
        body.append(text(f"{label} ({len(people)})", weight="Bolder", spacing="Medium"))
        body.append(facts([(name, _minutes(seconds)) for name, seconds in sorted(people.items())]))
    failed = [f for f in findings if f.status is Status.failed]
    unverified = [f for f in findings if f.status is Status.could_not_verify]
    body.append(text("Checks", weight="Bolder", spacing="Medium"))
    if not failed and not unverified:
        body.append(text("Every check passed.", color="Good"))
    for finding in failed:
        body.append(text(f"{BY_ID[finding.rule_id].title} ({finding.severity.value}): {finding.message}", color="Attention"))
    for finding in unverified:
        body.append(text(f"{BY_ID[finding.rule_id].title}: could not be checked ({finding.reason})", subtle=True))
    return card(body)
