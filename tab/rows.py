"""Register rows: one lesson's line in the register, built the same way for the page, its CSV
download and `python app.py export lessons`, so the CSV is exactly what the page shows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.policy import Policy
from domain.findings import Severity, Status, StoredFinding
from domain.lesson import Lesson, LessonStatus, PersonClass
from domain.records import LessonState, RegisterFilter, RegisterRow, RegisterTotals, Verdict
from domain.school import TimetableEntry
from rules.timetabled import timetable_entry
from store.records import Records, Scope


def utc_bounds(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start of `start`, start of the day after `end`), school days, as aware datetimes."""
    return datetime.combine(start, time(0), tzinfo=zone), datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone)


def verdict_of(findings: list[StoredFinding]) -> Verdict:
    failed = [f for f in findings if f.status is Status.failed]
    if any(f.severity is Severity.breach for f in failed):
        return Verdict.breach
    if failed:
        return Verdict.warning
    if any(f.status is Status.could_not_verify for f in findings):
        return Verdict.could_not_verify
    return Verdict.clear


def people(lesson: Lesson, kind: PersonClass) -> int:
    return len({a.person_id for a in lesson.attendance if a.classification is kind})


def class_label(lesson: Lesson, timetable: list[TimetableEntry], policy: Policy) -> str:
    start = lesson.actual_start or lesson.scheduled_start
    entry = timetable_entry(timetable, lesson.organizer_aliases, policy, start) if start else None
    if entry is not None:
        return entry.class_label or "timetabled"
    return "not on the timetable" if timetable else ""


def register_row(lesson: Lesson, findings: list[StoredFinding], timetable: list[TimetableEntry], policy: Policy) -> RegisterRow:
    start = lesson.actual_start or lesson.scheduled_start
    return RegisterRow(
        lesson_id=lesson.id,
        day=start.astimezone(policy.school.zone).date() if start else None,
        start=lesson.actual_start,
        end=lesson.actual_end,
        minutes=lesson.length_seconds // 60 if lesson.length_seconds is not None else None,
        title=lesson.title,
        organizer=lesson.organizer_name,
        organizer_aad_id=lesson.organizer_aad_id,
        class_label=class_label(lesson, timetable, policy),
        staff=people(lesson, PersonClass.staff),
        pupils=people(lesson, PersonClass.pupil),
        external=people(lesson, PersonClass.external),
        state=LessonState.running if lesson.status is LessonStatus.open else LessonState.ended,
        verdict=verdict_of(findings),
        breaches=tuple(f.rule_id for f in findings if f.status is Status.failed),
        unverified=tuple(f.rule_id for f in findings if f.status is Status.could_not_verify),
    )


def wanted(row: RegisterRow, filt: RegisterFilter) -> bool:
    return ((filt.teacher is None or row.organizer_aad_id == filt.teacher)
            and (filt.class_label is None or row.class_label == filt.class_label)
            and (filt.verdict is None or row.verdict is filt.verdict))


async def register_rows(records: Records, policy: Policy, filt: RegisterFilter, scope: Scope) -> AsyncIterator[RegisterRow]:
    """The register's rows for `filt`, a page of lessons at a time, in lesson order, of the
    lessons `scope` may see (one school's, perhaps only one teacher's); `policy` is that school's."""
    start, end = utc_bounds(filt.start, filt.end, policy.school.zone)
    timetable = await records.timetable(scope)
    after = 0
    while True:
        lessons = await records.lessons_page(start, end, scope=scope, after_id=after)
        if not lessons:
            return
        findings = await records.findings([l.id for l in lessons])
        for lesson in sorted(lessons, key=lambda l: (l.actual_start or l.scheduled_start or datetime.max.replace(tzinfo=start.tzinfo), l.id)):
            row = register_row(lesson, findings[lesson.id], timetable, policy)
            if wanted(row, filt):
                yield row
        after = lessons[-1].id


def totals(rows: list[RegisterRow]) -> RegisterTotals:
    return RegisterTotals(
        lessons=len(rows),
        minutes=sum(r.minutes or 0 for r in rows),
        with_breach=sum(1 for r in rows if r.verdict is Verdict.breach),
        could_not_verify=sum(1 for r in rows if r.unverified),
    )
