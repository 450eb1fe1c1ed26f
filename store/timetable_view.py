"""The timetable as it stands, whole: what `import-timetable --dry-run` compares a file with."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.school import TimetableEntry

from .tables import TimetableEntryRow


async def current_timetable(engine: AsyncEngine) -> list[TimetableEntry]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(TimetableEntryRow.__table__))).mappings()
        return [TimetableEntry.model_validate(dict(r)) for r in rows]
