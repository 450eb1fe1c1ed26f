"""The timetable as it stands, whole: what `import-timetable --dry-run` compares a file with."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.school import TimetableEntry

from .tables import TimetableEntryRow


async def current_timetable(engine: AsyncEngine, school_id: str | None = None) -> list[TimetableEntry]:
    """The timetable in place: one school's (in a trust each school has its own), or all of it."""
    stmt = select(TimetableEntryRow.__table__)
    if school_id is not None:
        stmt = stmt.where(TimetableEntryRow.school_id == school_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).mappings()
        return [TimetableEntry.model_validate(dict(r)) for r in rows]
