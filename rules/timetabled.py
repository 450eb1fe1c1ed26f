"""timetabled: every remote lesson is on the school timetable."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lookups import LookupOutcome
from domain.school import TimetableEntry

from .base import Rule, contact_verdict
from .snapshot import Fact, LessonSnapshot, Moment


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
    local = start.astimezone(policy.school.zone)
    when = f"nothing for this organizer at {local:%H:%M} on {local:%A %d %B} (within {policy.timetable.tolerance_minutes:g} min)"
    if snapshot.timetable_loaded:
        # The school's imported timetable is the authority: a category the organizer puts on
        # their own calendar event does not make a lesson formally timetabled.
        if not lesson.organizer_upn and not snapshot.timetable:
            return [RULE.finding(snapshot, policy, Status.could_not_verify, "the timetable could not be matched to the organizer",
                                 reason="the organizer's sign-in name is not known yet, and the timetable may name teachers by it")]
        return contact_verdict(RULE, snapshot, policy, f"not on the school's timetable: {when}")
    category = policy.timetable.calendar_category
    if not category:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "the timetable could not be checked",
                             reason="no timetable has been imported (python app.py import-timetable FILE)")]
    event = lesson.calendar_event
    if event is not None and category in event.categories:
        return [RULE.finding(snapshot, policy, Status.passed, f"the calendar event is marked '{category}' (no timetable imported)")]
    looked_up = lesson.calendar_lookup
    if event is None and (looked_up is None or looked_up.outcome is not LookupOutcome.none):
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "the timetable could not be checked",
                             reason=f"no timetable imported, and the calendar: {looked_up or 'not read yet'}")]
    why = "no calendar event (an ad hoc or Meet Now call)" if event is None else f"the calendar event is not marked '{category}'"
    return contact_verdict(RULE, snapshot, policy, f"not on the timetable: no timetable is imported, and {why}")


RULE = Rule(
    id="timetabled",
    title="Timetabled",
    severity=Severity.breach,
    remediation="Only run lessons that are on the timetable. If this session is needed, ask SLT to add it to "
    "the timetable (or to approve it as an exception) before it runs.",
    evaluate=evaluate,
    moments=frozenset({Moment.start, Moment.roster, Moment.end, Moment.report}),
    needs_organizer=True,
    needs=frozenset({Fact.timetable}),
)
