"""timetabled: every remote lesson is on the school timetable."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lookups import LookupOutcome
from domain.school import TimetableEntry

from .base import VALENCE, Clause, Rule
from .snapshot import LessonSnapshot, Moment


def timetable_entry(timetable: Iterable[TimetableEntry], organizer_ids: Iterable[str], policy: Policy,
                    start: datetime) -> TimetableEntry | None:
    """The organizer's timetabled lesson that starts within the tolerance of `start`, if any
    (also used to name the class on the SLT alert)."""
    organizers = set(organizer_ids)
    local = start.astimezone(policy.school.zone)
    tolerance = timedelta(minutes=policy.timetable.tolerance_minutes)
    for entry in timetable:
        if entry.organizer not in organizers or not entry.occurs_on(local.date()):
            continue
        planned = datetime.combine(local.date(), entry.starts, tzinfo=policy.school.zone)
        if abs(planned - local) <= tolerance:
            return entry
    return None


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    lesson = snapshot.lesson
    start = lesson.actual_start or lesson.scheduled_start
    if start is None:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "the lesson's start time is not known",
                             reason="Teams' start event was not received")]
    entry = timetable_entry(snapshot.timetable, snapshot.organizer_ids, policy, start)
    if entry:
        return [RULE.finding(snapshot, policy, Status.passed, f"on the timetable ({entry.class_label or f'{entry.starts:%H:%M}'})")]
    category = policy.timetable.calendar_category
    event = lesson.calendar_event
    if event is not None and category and category in event.categories:
        return [RULE.finding(snapshot, policy, Status.passed, f"the calendar event is marked '{category}'")]
    looked_up = lesson.calendar_lookup
    calendar_known = event is not None or (looked_up is not None and looked_up.outcome is LookupOutcome.none)
    if not snapshot.timetable_loaded and not calendar_known:
        return [
            RULE.finding(snapshot, policy, Status.could_not_verify, "the timetable could not be checked",
                         reason=f"no timetable imported, and the calendar: {looked_up or 'not read yet'}")
        ]
    local = start.astimezone(policy.school.zone)
    why = "no calendar event (an ad hoc or Meet Now call)" if event is None else f"the calendar event is not marked '{category}'"
    return [
        RULE.finding(
            snapshot, policy, Status.failed,
            f"not on the timetable: nothing for this organizer at {local:%H:%M} on {local:%A %d %B} "
            f"(within {policy.timetable.tolerance_minutes:g} min), and {why}",
        )
    ]


RULE = Rule(
    id="timetabled",
    title="Timetabled",
    severity=Severity.breach,
    clauses=(
        Clause("All remote lessons will be formally timetabled; a member of SLT, DSL and/or head of department "
               "is able to drop in at any time.", VALENCE),
    ),
    remediation="Only run lessons that are on the timetable. If this session is needed, ask SLT to add it to "
    "the timetable (or to approve it as an exception) before it runs.",
    evaluate=evaluate,
    moments=frozenset({Moment.start, Moment.end}),
)
