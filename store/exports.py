"""The registers a page at a time, for the CSV exports (`python app.py export`, the tab's
downloads). Keyset pages (id > last, LIMIT n), each in its own short read: a year of a large
school is never in memory at once, and on SQLite (one connection) the bot's writes get their
turn between pages instead of waiting for the whole export. Every export is of one scope
(store.records.Scope): one school's records, perhaps only one teacher's lessons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from domain.findings import StoredFinding
from domain.lesson import Attendance
from domain.records import AuditEntry, ConcernRecord

from .records import LESSON_TIME, WHOLE, Scope, concern_record, in_range, of_school, visible_to
from .tables import AttendanceRow, AuditRow, ConcernReviewRow, ConcernRow, FindingRow, LessonRow

PAGE = 500


class LessonRef:
    """The few lesson columns an attendance or findings row is exported with."""

    __slots__ = ("id", "title", "when")

    def __init__(self, id: int, title: str | None, when: datetime | None) -> None:
        self.id, self.title, self.when = id, title, when


class Exports:
    def __init__(self, engine: AsyncEngine, page: int = PAGE) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._page = page

    async def attendance(self, start: datetime, end: datetime, scope: Scope = WHOLE) -> AsyncIterator[list[tuple[LessonRef, Attendance]]]:
        stmt = (select(AttendanceRow, LessonRow.title, LessonRow.actual_start).join(LessonRow, LessonRow.id == AttendanceRow.lesson_id)
                .where(in_range(start, end), visible_to(scope)))
        async for rows in self._pages(stmt, AttendanceRow.id):
            yield [(LessonRef(a.lesson_id, title, when), Attendance.model_validate(a)) for a, title, when in rows]

    async def findings(self, start: datetime, end: datetime, scope: Scope = WHOLE) -> AsyncIterator[list[tuple[LessonRef, StoredFinding]]]:
        stmt = (select(FindingRow, LessonRow.title, LessonRow.actual_start).join(LessonRow, LessonRow.id == FindingRow.lesson_id)
                .where(in_range(start, end), visible_to(scope)))
        async for rows in self._pages(stmt, FindingRow.id):
            yield [(LessonRef(f.lesson_id, title, when), StoredFinding.model_validate(f)) for f, title, when in rows]

    async def concerns(self, start: datetime, end: datetime, scope: Scope = WHOLE) -> AsyncIterator[list[ConcernRecord]]:
        stmt = (select(ConcernRow, ConcernReviewRow, LessonRow.title)
                .outerjoin(ConcernReviewRow, ConcernReviewRow.concern_id == ConcernRow.id)
                .outerjoin(LessonRow, LessonRow.id == ConcernRow.lesson_id)
                .where(ConcernRow.created_at >= start, ConcernRow.created_at < end,
                       of_school(ConcernRow.school_id, scope, lesson_column=LessonRow.school_id)))
        async for rows in self._pages(stmt, ConcernRow.id):
            yield [concern_record(c, r, title) for c, r, title in rows]

    async def audit(self, start: datetime, end: datetime, scope: Scope = WHOLE, *, unowned_too: bool = False) -> AsyncIterator[list[AuditEntry]]:
        """The audit log of `scope`'s school; `unowned_too`: with the entries of no school
        (the service's own and the tab's refusals of no school), for the trust's leads."""
        school = of_school(AuditRow.school_id, scope)
        if unowned_too and scope.school_id is not None:
            school = or_(school, AuditRow.school_id.is_(None))
        stmt = select(AuditRow).where(AuditRow.at >= start, AuditRow.at < end, school)
        async for rows in self._pages(stmt, AuditRow.id):
            yield [AuditEntry.model_validate(r[0]) for r in rows]

    async def _pages(self, stmt, key) -> AsyncIterator[list]:
        last = 0
        while True:
            async with self._sessions() as session:
                rows = (await session.execute(stmt.where(key > last).order_by(key).limit(self._page))).all()
            if not rows:
                return
            yield rows
            last = getattr(rows[-1][0], key.key)
            if len(rows) < self._page:
                return


__all__ = ["Exports", "LessonRef", "LESSON_TIME"]
