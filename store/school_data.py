"""Registers the school imports: the timetable and parental consent forms.

An import replaces the whole register in one transaction (and is audited), so a school
re-exports from its MIS and imports again; there is never a half-imported register. In a
trust each school has its own registers: an import replaces only its school's, and every read
is of one school's.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, false, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.placement import SOLE_SCHOOL_ID
from domain.school import Consent, TimetableEntry

from .db import read_sessions, reading
from .register import audit
from .tables import ConsentRow, TimetableEntryRow


class SchoolData:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._reads = read_sessions(engine)

    async def replace_timetable(self, entries: list[tuple[TimetableEntry, str]], actor: str, source: str,
                                school_id: str = SOLE_SCHOOL_ID) -> int:
        async with self._sessions() as session, session.begin():
            removed = (await session.execute(delete(TimetableEntryRow).where(TimetableEntryRow.school_id == school_id))).rowcount
            for entry, where in entries:
                session.add(TimetableEntryRow(**entry.model_dump(), source=where[:300], school_id=school_id))
            audit(session, actor, "timetable.import", source, {"entries": len(entries), "replaced": removed}, school_id=school_id)
        return len(entries)

    async def replace_consents(self, consents: list[tuple[Consent, str]], actor: str, source: str,
                               kinds: set[str] | None = None, school_id: str = SOLE_SCHOOL_ID) -> int:
        """Replace the register, or only its forms of `kinds` (a register of one kind imported
        on its own leaves the others as they are)."""
        async with self._sessions() as session, session.begin():
            stmt = delete(ConsentRow).where(ConsentRow.school_id == school_id)
            if kinds is not None:
                stmt = stmt.where(ConsentRow.kind.in_(sorted(kinds)))
            removed = (await session.execute(stmt)).rowcount
            for consent, where in consents:
                session.add(ConsentRow(**consent.model_dump(), source=where[:300], school_id=school_id))
            audit(session, actor, "consent.import", source, {"consents": len(consents), "replaced": removed}, school_id=school_id)
        return len(consents)

    async def timetable_for(self, organizer_ids: set[str], school_id: str = SOLE_SCHOOL_ID, *,
                            session: AsyncSession | None = None) -> tuple[list[TimetableEntry], bool]:
        """The organizer's entries in the school's timetable, and whether it has one at all."""
        async with reading(self._reads, session) as session:
            # The organizer's rows and any one row of the school's, in one query: whether a
            # timetable exists, not how big it is (a trust's is tens of thousands of rows).
            mine = TimetableEntryRow.school_id == school_id
            any_row = TimetableEntryRow.id == select(TimetableEntryRow.id).where(mine).limit(1).scalar_subquery()
            theirs = TimetableEntryRow.organizer.in_(sorted(organizer_ids)) if organizer_ids else false()
            rows = list((await session.execute(select(TimetableEntryRow).where(mine, or_(theirs, any_row)))).scalars())
            return [TimetableEntry.model_validate(r) for r in rows if r.organizer in organizer_ids], bool(rows)

    async def consent_kinds(self, school_id: str = SOLE_SCHOOL_ID, *, session: AsyncSession | None = None) -> frozenset[str]:
        """The kinds of form the school has imported a register of."""
        async with reading(self._reads, session) as session:
            stmt = select(ConsentRow.kind).where(ConsentRow.school_id == school_id).distinct()
            return frozenset((await session.execute(stmt)).scalars())

    async def consents_for(self, people: dict[str, set[str]], on: date, school_id: str = SOLE_SCHOOL_ID, *,
                           session: AsyncSession | None = None, imported: bool | None = None) -> dict[str, frozenset[str]] | None:
        """For each kind of consent, the person ids (as the lesson knows them) with one that
        counts on day `on`: given on or before it ("returned ... before they can take part")
        and not expired. `people` maps a lesson person id to the names it may appear under.
        None when no consent register has been imported (`imported`: the caller knows whether
        one has, from `consent_kinds`, and it is not asked again)."""
        async with reading(self._reads, session) as session:
            mine = ConsentRow.school_id == school_id
            if imported is None:
                imported = (await session.execute(select(ConsentRow.id).where(mine).limit(1))).first() is not None
            if not imported:
                return None
            names = {name for aliases in people.values() for name in aliases}
            stmt = select(ConsentRow).where(mine, ConsentRow.person.in_(sorted(names)))
            rows = list((await session.execute(stmt)).scalars())
        found: dict[str, set[str]] = {}
        for row in rows:
            if (row.expires_on is not None and row.expires_on < on) or (row.given_on is not None and row.given_on > on):
                continue
            for person_id, aliases in people.items():
                if row.person in aliases:
                    found.setdefault(row.kind, set()).add(person_id)
        return {kind: frozenset(ids) for kind, ids in found.items()}
