"""The SLT breach alert, posted in the SLT channel, with Universal Actions SLT can take."""

from __future__ import annotations

from config.policy import Policy
from domain.enrolment import LessonOrigin
from domain.findings import StoredFinding
from domain.lesson import Lesson, Presence
from domain.messages import AlertState, RaisedFinding
from domain.placement import Placement
from domain.wording import plural
from rules.registry import BY_ID

from .common import card, execute, facts, heading, local_time, text

ACKNOWLEDGE = "acknowledge"
RECORD_EXCEPTION = "recordException"
RESOLVE = "resolve"


def people_line(names: tuple[str, ...], unidentified: int, *, count: bool = False) -> str:
    """Who (or how many) were present, never 'none' or '0' while some are not yet identified."""
    known = str(len(names)) if count else ", ".join(names)
    waiting = f"{plural(unidentified, 'person', 'people')} not yet identified"
    if names and unidentified:
        return f"{known}, and {waiting}"
    if names:
        return known
    return f"unknown ({waiting})" if unidentified else ("0" if count else "none")


def alert_card(policy: Policy, lesson: Lesson, raised: list[RaisedFinding], now: dict[int, StoredFinding], state: AlertState,
               class_name: str) -> dict:
    """The alert shows each finding as it was when raised and who was present then; once SLT
    resolve it, or Chaperone's later verdict clears it, the title says so instead of 'Breach'."""
    zone = policy.school.zone
    at = min((r.finding.first_failed_at or r.finding.evaluated_at for r in raised), default=None)
    present = raised[0].present if raised else Presence()
    title = lesson.title or "a live lesson"
    if state.resolved_at:
        top = heading(f"Resolved: {title}", color="Good")
    elif state.cleared_at:
        top = heading(f"Cleared by a later check: {title}", color="Good")
    elif lesson.origin is LessonOrigin.call_record:
        top = heading(f"Unmonitored session: {title}", color="Attention")
    else:
        top = heading(f"Breach: {title}", color="Attention")
    # A lesson no school claimed is judged by the trust's default policy: say so, and why, so
    # the trust's lead can find whose lesson it was.
    unplaced = lesson.placement is Placement.unknown
    rows = [
        ("School", "School unknown" if unplaced else policy.school.name),
        ("Organizer", lesson.organizer_name or lesson.organizer_aad_id or "unknown"),
        ("Class", class_name),
        ("Started", local_time(lesson.actual_start, zone, "%A %d %B %Y, %H:%M")),
        ("Raised at", local_time(at, zone)),
        ("Staff present", people_line(present.staff, present.unidentified)),
        ("Pupils present", people_line(present.pupils, present.unidentified, count=True)),
    ]
    if present.others:
        rows.append(("Others present", ", ".join(present.others)))
    body = [top, facts(rows)]
    if unplaced:
        body.append(text(f"School unknown: {lesson.placement_reason or 'no school claimed this lesson'}. "
                         f"It was judged by the trust's default policy ({policy.school.name}).", color="Attention"))
    if lesson.origin is LessonOrigin.call_record:
        # Seen only in Graph's call record: nobody added Chaperone, so nobody was reminded or warned.
        body.append(text("Chaperone did not follow this session live: it was found afterwards in Teams' call records. "
                         "Length, time and attendance are from the call record; what only a live lesson shows is 'could not verify'."))
        if not raised:
            body.append(text("No rule found a breach on the facts the call record gives.", subtle=True))
    open_ = not (state.resolved_at or state.cleared_at)
    for item in raised:
        finding = item.finding
        rule = BY_ID[finding.rule_id]
        body += [
            text(f"{rule.title}: {finding.severity.value}" if open_ else rule.title, weight="Bolder", spacing="Medium"),
            text(finding.message),
        ]
        if finding.reason:
            body.append(text(finding.reason, subtle=True))
        later = now.get(finding.id)
        if not open_ and later is not None and later.status is not finding.status:
            body.append(text(f"Checked again at {local_time(later.evaluated_at, zone)}: {later.message}", subtle=True))
        body += [text(f"Policy: \"{clause.text}\" ({document.title})", subtle=True) for clause, document in policy.clauses_for(rule.id)]
    data = {"alertId": state.alert_id, "lessonId": lesson.id}
    actions = []
    if state.acknowledged_at:
        body.append(text(f"Acknowledged by {state.acknowledged_by} at {local_time(state.acknowledged_at, zone, '%H:%M on %d %B')}", color="Good", spacing="Medium"))
    if state.exception_id:
        body.append(text(f"Approved exception #{state.exception_id} recorded by {state.exception_by}", color="Good"))
    if state.cleared_at:
        body.append(text(f"Cleared by Chaperone at {local_time(state.cleared_at, zone, '%H:%M on %d %B')}: {state.cleared_reason}",
                         color="Good"))
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
