"""What the tab writes: the DSL's review of a concern, and the access log (every refusal and
every download), both in the audit log."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.records import ConcernStatus

from .register import audit
from .tables import ConcernReviewRow, ConcernRow, LessonRow, utcnow


class TabActions:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def review_concern(self, concern_id: int, status: ConcernStatus, by: str, by_name: str | None, note: str | None,
                             school_id: str | None = None) -> bool:
        """Mark a concern seen or closed (with the DSL's note); False when there is no such concern
        (or, given `school_id`, when it is another school's: to this caller, no such concern)."""
        if status is ConcernStatus.new:
            raise ValueError("a concern cannot be marked new again")
        async with self._sessions() as session, session.begin():
            concern = await session.get(ConcernRow, concern_id)
            if concern is None or not await _in_school(session, concern, school_id):
                return False
            row = await session.get(ConcernReviewRow, concern_id, with_for_update=True)
            if row is None:
                row = ConcernReviewRow(concern_id=concern_id)
                session.add(row)
            row.status, row.by_aad_id, row.by_name, row.at, row.note = status.value, by, by_name, utcnow(), note
            # The note is the DSL's words about a child: kept on the review, not copied into the audit.
            audit(session, by, f"concern.{status.value}", f"concern:{concern_id}", {"via": "tab"}, by_name, school_id=school_id)
            return True

    async def record(self, actor: str, actor_name: str | None, action: str, target: str | None, details: dict,
                     school_id: str | None = None) -> None:
        """An access-log entry; `school_id`: the school whose record was read or refused."""
        async with self._sessions() as session, session.begin():
            audit(session, actor, action, target, details, actor_name, school_id=school_id)


async def _in_school(session: AsyncSession, concern: ConcernRow, school_id: str | None) -> bool:
    """A concern is its school's; one written before concerns carried a school is its lesson's."""
    if school_id is None:
        return True
    owner = concern.school_id
    if owner is None and concern.lesson_id is not None:
        owner = (await session.execute(select(LessonRow.school_id).where(LessonRow.id == concern.lesson_id))).scalar_one_or_none()
    return owner == school_id
