"""The directory's answers (staff, pupil, external) kept for every instance, until they expire.

Implements graph.people.SharedAnswers: a restart or a second instance reads who is who from
here instead of asking Graph about everyone in a trust again. Expired rows are never read and
are deleted by the daily retention purge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.lesson import DirectoryEntry, PersonClass

from .db import insert_for, one_statement, read_sessions
from .tables import DirectoryEntryRow, utcnow

CHUNK = 500  # people per IN (...) list


class DirectoryCache:
    def __init__(self, engine: AsyncEngine) -> None:
        self._reads = read_sessions(engine)

    async def get_many(self, people: Sequence[str]) -> dict[str, tuple[DirectoryEntry, float]]:
        """Each answer still kept, with the seconds it has left."""
        now = utcnow()
        found: dict[str, tuple[DirectoryEntry, float]] = {}
        async with self._reads() as session:
            for start in range(0, len(people), CHUNK):
                stmt = select(DirectoryEntryRow).where(
                    DirectoryEntryRow.aad_object_id.in_(list(people[start : start + CHUNK])), DirectoryEntryRow.expires_at > now
                )
                for row in (await session.execute(stmt)).scalars():
                    entry = DirectoryEntry(classification=PersonClass(row.classification), upn=row.upn)
                    found[row.aad_object_id] = (entry, (row.expires_at - now).total_seconds())
        return found

    async def put_many(self, answers: Mapping[str, DirectoryEntry], ttl_seconds: float) -> None:
        expires = utcnow() + timedelta(seconds=ttl_seconds)
        rows = [dict(aad_object_id=p, classification=a.classification.value, upn=a.upn, expires_at=expires) for p, a in answers.items()]
        async with one_statement(self._reads) as session:  # one statement: on PostgreSQL no BEGIN and COMMIT
            insert = insert_for(session)
            stmt = insert(DirectoryEntryRow)
            stmt = stmt.on_conflict_do_update(
                index_elements=["aad_object_id"],
                set_={"classification": stmt.excluded.classification, "upn": stmt.excluded.upn, "expires_at": stmt.excluded.expires_at},
            )
            await session.execute(stmt, rows)
