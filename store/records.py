"""Read queries for the tab: lessons in a date range (the whole school's, or one teacher's),
one lesson's record (cards, SLT actions, exceptions, concerns), the concerns register, and
the facts the annual review counts. Who may see what is decided by tab/access.py; the
`visible_to` filters here make a view a query (one school's records, and within it perhaps one
teacher's lessons), not a loop over everyone's lessons: a school's SLT can never be handed
another school's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import aliased, selectinload

from domain.findings import Severity, Status, StoredFinding
from domain.lesson import Lesson, PersonClass
from domain.messages import AlertState, Message, MessageKind
from domain.placement import Placement
from domain.records import AuditEntry, ConcernRecord, ConcernStatus, ReminderSent
from domain.school import ApprovedException, TimetableEntry

from .tables import (
    AlertStateRow,
    AttendanceRow,
    AupReminderRow,
    AuditRow,
    ConcernReviewRow,
    ConcernRow,
    ExceptionRow,
    FindingRow,
    LessonRow,
    MessageRow,
    SignatureRow,
    TimetableEntryRow,
)

# When a lesson happened, for date ranges: its actual start, else its scheduled start, else
# when Chaperone first heard of it (an end without a start).
LESSON_TIME = func.coalesce(LessonRow.actual_start, LessonRow.scheduled_start, LessonRow.created_at)
REGISTER = (selectinload(LessonRow.attendance), selectinload(LessonRow.settings_history))


@dataclass(frozen=True)
class Scope:
    """What one view may read. `school_id`: that school's records only (None: a single-school
    deployment, where every record is the school's). `teacher`: within it, only the lessons
    this person organised or attended as staff (None: the whole school's)."""

    school_id: str | None = None
    teacher: str | None = None
    # With the trust's own record: the lessons not placed in a school yet (no school_id).
    unplaced: bool = False


WHOLE = Scope()  # a single school's whole record (the CLI's exports, the daily summary)


def taught_by(aad_object_id: str):
    """Lessons a teacher may see: those they organised or attended as staff. The attendance
    looked at is an alias: inside a query of attendance rows (the attendance export) the
    subquery must still read attendance of its own, not correlate with the outer rows."""
    staff = aliased(AttendanceRow)
    return or_(
        LessonRow.organizer_aad_id == aad_object_id,
        exists().where(staff.lesson_id == LessonRow.id, staff.aad_object_id == aad_object_id,
                       staff.classification == PersonClass.staff.value),
    )


def visible_to(scope: Scope):
    """The lessons `scope` may see, as a condition on `lessons`."""
    school = true() if scope.school_id is None else LessonRow.school_id == scope.school_id
    if scope.unplaced:
        school = or_(school, LessonRow.school_id.is_(None))
    return school if scope.teacher is None else and_(school, taught_by(scope.teacher))


def of_school(column, scope: Scope, *, lesson_column=None):
    """A school-owned record (by its `school_id` column) in `scope`'s school. A record written
    before it carried its school falls back to its lesson's (`lesson_column`, outer-joined)."""
    if scope.school_id is None:
        return true()
    owner = column if lesson_column is None else func.coalesce(column, lesson_column)
    return owner == scope.school_id


def in_range(start: datetime, end: datetime):
    return and_(LESSON_TIME >= start, LESSON_TIME < end)


class Records:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    # ---- lessons ----------------------------------------------------------------------

    async def lessons_page(self, start: datetime, end: datetime, *, scope: Scope, after_id: int = 0,
                           limit: int = 200, open_too: bool = False) -> list[Lesson]:
        """Up to `limit` lessons in [start, end) with ids above `after_id`, oldest id first
        (keyset pages: a year of lessons is read a page at a time), of those `scope` may see.
        `open_too`: lessons still running are included whenever they started."""
        when = in_range(start, end)
        if open_too:
            when = or_(when, LessonRow.status == "open")
        stmt = (select(LessonRow).options(*REGISTER).where(when, LessonRow.id > after_id, visible_to(scope))
                .order_by(LessonRow.id).limit(limit))
        async with self._sessions() as session:
            return [Lesson.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def lesson(self, lesson_id: int, scope: Scope) -> Lesson | None:
        """The lesson, if `scope` may see it; None whether it does not exist or is not theirs."""
        async with self._sessions() as session:
            stmt = select(LessonRow).options(*REGISTER).where(LessonRow.id == lesson_id, visible_to(scope))
            row = (await session.execute(stmt)).scalar_one_or_none()
            return Lesson.model_validate(row) if row else None

    async def lesson_school(self, lesson_id: int) -> str | None:
        """The school a lesson is the record of (None: no such lesson, or not placed yet)."""
        async with self._sessions() as session:
            return (await session.execute(select(LessonRow.school_id).where(LessonRow.id == lesson_id))).scalar_one_or_none()

    async def may_see(self, lesson_id: int, scope: Scope) -> bool:
        async with self._sessions() as session:
            stmt = select(exists().where(LessonRow.id == lesson_id, visible_to(scope)))
            return bool((await session.execute(stmt)).scalar())

    async def meeting_seen(self, meeting_id: str, scope: Scope) -> bool:
        """Whether a lesson of this meeting (series) is in `scope`'s record."""
        async with self._sessions() as session:
            stmt = select(exists().where(LessonRow.meeting_id == meeting_id, visible_to(scope)))
            return bool((await session.execute(stmt)).scalar())

    async def schools_taught(self, aad_object_id: str) -> list[str]:
        """The schools whose record holds a lesson this person organised or attended as staff."""
        async with self._sessions() as session:
            stmt = select(LessonRow.school_id).where(LessonRow.school_id.is_not(None), taught_by(aad_object_id)).distinct()
            return sorted((await session.execute(stmt)).scalars())

    async def findings(self, lesson_ids: list[int]) -> dict[int, list[StoredFinding]]:
        found: dict[int, list[StoredFinding]] = {i: [] for i in lesson_ids}
        if not lesson_ids:
            return found
        async with self._sessions() as session:
            stmt = select(FindingRow).where(FindingRow.lesson_id.in_(lesson_ids)).order_by(FindingRow.lesson_id, FindingRow.id)
            for row in (await session.execute(stmt)).scalars():
                found[row.lesson_id].append(StoredFinding.model_validate(row))
        return found

    async def is_staff(self, aad_object_id: str) -> bool:
        """Whether Chaperone knows this person as staff: they organised a lesson, attended one
        as staff, or signed the staff AUP. Pupils are none of these."""
        async with self._sessions() as session:
            stmt = select(or_(
                exists().where(LessonRow.organizer_aad_id == aad_object_id),
                exists().where(AttendanceRow.aad_object_id == aad_object_id, AttendanceRow.classification == PersonClass.staff.value),
                exists().where(SignatureRow.aad_object_id == aad_object_id),
            ))
            return bool((await session.execute(stmt)).scalar())

    async def organizers(self, scope: Scope) -> list[tuple[str, str]]:
        """(Entra object id, name) of every lesson organizer, for the register's teacher filter."""
        stmt = (select(LessonRow.organizer_aad_id, func.max(LessonRow.organizer_name))
                .where(LessonRow.organizer_aad_id.is_not(None), visible_to(scope)).group_by(LessonRow.organizer_aad_id))
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return sorted(((aad, name or aad) for aad, name in rows), key=lambda r: r[1].lower())

    async def timetable(self, scope: Scope) -> list[TimetableEntry]:
        async with self._sessions() as session:
            stmt = select(TimetableEntryRow).where(of_school(TimetableEntryRow.school_id, scope))
            return [TimetableEntry.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    # ---- one lesson's record ------------------------------------------------------------
    # The callers have checked the lesson is in the viewer's scope; the school filters here
    # keep a record of another school out even if a lesson id were mixed up.

    async def messages(self, lesson_id: int, scope: Scope) -> list[tuple[Message, AlertState | None]]:
        """The cards sent about the lesson, oldest first, each SLT alert with what SLT did."""
        async with self._sessions() as session:
            stmt = (select(MessageRow, AlertStateRow).outerjoin(AlertStateRow, AlertStateRow.alert_id == MessageRow.id)
                    .join(LessonRow, LessonRow.id == MessageRow.lesson_id)
                    .where(MessageRow.lesson_id == lesson_id, MessageRow.kind != MessageKind.concern.value,
                           of_school(MessageRow.school_id, scope, lesson_column=LessonRow.school_id))
                    .order_by(MessageRow.id))
            return [(Message.model_validate(m), AlertState.model_validate(s) if s else None) for m, s in (await session.execute(stmt)).all()]

    async def exceptions_for(self, lesson: Lesson, scope: Scope) -> list[ApprovedException]:
        async with self._sessions() as session:
            stmt = (select(ExceptionRow).where(or_(ExceptionRow.lesson_id == lesson.id, ExceptionRow.meeting_id == lesson.meeting_id),
                                               of_school(ExceptionRow.school_id, scope)).order_by(ExceptionRow.id))
            return [ApprovedException.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def actions_on(self, targets: list[str], scope: Scope) -> list[AuditEntry]:
        """Audit entries about these targets ("message:12", "exception:3"), oldest first, that
        are the scope's school's record (or, written before records carried a school, no school's)."""
        if not targets:
            return []
        school = true() if scope.school_id is None else or_(AuditRow.school_id == scope.school_id, AuditRow.school_id.is_(None))
        async with self._sessions() as session:
            stmt = select(AuditRow).where(AuditRow.target.in_(targets), school).order_by(AuditRow.at, AuditRow.id)
            return [AuditEntry.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    # ---- concerns -------------------------------------------------------------------------

    async def concerns(self, scope: Scope, lesson_id: int | None = None) -> list[ConcernRecord]:
        stmt = (select(ConcernRow, ConcernReviewRow, LessonRow.title)
                .outerjoin(ConcernReviewRow, ConcernReviewRow.concern_id == ConcernRow.id)
                .outerjoin(LessonRow, LessonRow.id == ConcernRow.lesson_id)
                .where(of_school(ConcernRow.school_id, scope, lesson_column=LessonRow.school_id))
                .order_by(ConcernRow.created_at.desc(), ConcernRow.id.desc()))
        if lesson_id is not None:
            stmt = stmt.where(ConcernRow.lesson_id == lesson_id)
        async with self._sessions() as session:
            return [concern_record(c, r, title) for c, r, title in (await session.execute(stmt)).all()]

    async def concern_in(self, concern_id: int, scope: Scope) -> bool:
        """Whether the concern is the scope's school's (a DSL reviews only their own school's)."""
        async with self._sessions() as session:
            stmt = (select(ConcernRow.id).outerjoin(LessonRow, LessonRow.id == ConcernRow.lesson_id)
                    .where(ConcernRow.id == concern_id, of_school(ConcernRow.school_id, scope, lesson_column=LessonRow.school_id)))
            return (await session.execute(stmt)).first() is not None

    # ---- the review -------------------------------------------------------------------------

    async def alerts_between(self, start: datetime, end: datetime, scope: Scope) -> list[tuple[Message, AlertState | None]]:
        async with self._sessions() as session:
            stmt = (select(MessageRow, AlertStateRow).outerjoin(AlertStateRow, AlertStateRow.alert_id == MessageRow.id)
                    .outerjoin(LessonRow, LessonRow.id == MessageRow.lesson_id)
                    .where(MessageRow.kind == MessageKind.slt_alert.value, MessageRow.created_at >= start, MessageRow.created_at < end,
                           of_school(MessageRow.school_id, scope, lesson_column=LessonRow.school_id))
                    .order_by(MessageRow.created_at, MessageRow.id))
            return [(Message.model_validate(m), AlertState.model_validate(s) if s else None) for m, s in (await session.execute(stmt)).all()]

    async def unverified_between(self, start: datetime, end: datetime, scope: Scope) -> list[tuple[datetime, StoredFinding]]:
        """Each could-not-verify verdict of a lesson in [start, end), with when the lesson was."""
        async with self._sessions() as session:
            stmt = (select(LESSON_TIME, FindingRow).join(LessonRow, LessonRow.id == FindingRow.lesson_id)
                    .where(in_range(start, end), FindingRow.status == Status.could_not_verify.value, visible_to(scope))
                    .order_by(LESSON_TIME, FindingRow.id))
            return [(_aware(when), StoredFinding.model_validate(f)) for when, f in (await session.execute(stmt)).all()]

    async def breaches_between(self, start: datetime, end: datetime, scope: Scope) -> list[tuple[int, str]]:
        """(lesson id, rule) of each failed breach-severity verdict of a lesson in [start, end)."""
        async with self._sessions() as session:
            stmt = (select(FindingRow.lesson_id, FindingRow.rule_id).join(LessonRow, LessonRow.id == FindingRow.lesson_id)
                    .where(in_range(start, end), FindingRow.status == Status.failed.value,
                           FindingRow.severity == Severity.breach.value, visible_to(scope)))
            return [(lesson_id, rule) for lesson_id, rule in (await session.execute(stmt)).all()]

    async def lesson_times_between(self, start: datetime, end: datetime, scope: Scope) -> list[datetime]:
        async with self._sessions() as session:
            stmt = select(LESSON_TIME).where(in_range(start, end), visible_to(scope))
            return [_aware(t) for t in (await session.execute(stmt)).scalars()]

    async def unplaced_between(self, start: datetime, end: datetime, school_id: str) -> list[Lesson]:
        """The lessons no school claimed ('school unknown'), kept under the default policy's id."""
        async with self._sessions() as session:
            stmt = (select(LessonRow).options(*REGISTER)
                    .where(in_range(start, end), LessonRow.school_id == school_id, LessonRow.placement == Placement.unknown.value)
                    .order_by(LESSON_TIME, LessonRow.id))
            return [Lesson.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def reminders(self, scope: Scope) -> list[ReminderSent]:
        async with self._sessions() as session:
            stmt = select(AupReminderRow).where(of_school(AupReminderRow.school_id, scope)).order_by(AupReminderRow.sent_at)
            return [ReminderSent.model_validate(r) for r in (await session.execute(stmt)).scalars()]


def concern_record(concern: ConcernRow, review: ConcernReviewRow | None, title: str | None) -> ConcernRecord:
    return ConcernRecord(
        id=concern.id, lesson_id=concern.lesson_id, lesson_title=title, reporter_aad_id=concern.reporter_aad_id,
        reporter_name=concern.reporter_name, text=concern.text, created_at=concern.created_at,
        status=ConcernStatus(review.status) if review else ConcernStatus.new,
        status_by=review.by_name or review.by_aad_id if review else None, status_at=review.at if review else None,
        note=review.note if review else None,
    )


def _aware(value) -> datetime:
    """COALESCE hands SQLite's stored text back untyped on some drivers: make it an aware UTC datetime."""
    from datetime import timezone

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
