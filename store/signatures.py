"""The AUP signature register: each school's AUP signed by its staff. In a trust a teacher who
works in two schools signs each school's AUP; every read and write is of one school's."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.placement import SOLE_SCHOOL_ID

from .db import in_transaction, read_sessions, reading
from .tables import AupReminderRow, SignatureRow, utcnow


class Signature(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    aad_object_id: str
    tenant_id: str | None
    name: str
    position: str
    version: str
    text_sha256: str
    signed_at: datetime
    school_id: str = SOLE_SCHOOL_ID


class SignatureRegister:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._reads = read_sessions(engine)

    async def sign(self, *, aad_object_id: str, tenant_id: str | None, name: str, position: str, version: str, sha256: str,
                   school_id: str = SOLE_SCHOOL_ID) -> tuple[Signature, bool]:
        """(the signature on file, True if it was made now). A second signature of the same
        version keeps the first."""

        async def work(session: AsyncSession) -> tuple[Signature, bool]:
            stmt = select(SignatureRow).where(SignatureRow.aad_object_id == aad_object_id, SignatureRow.school_id == school_id,
                                              SignatureRow.version == version)
            existing = (await session.execute(stmt)).scalar_one_or_none()
            if existing is not None:
                return Signature.model_validate(existing), False
            row = SignatureRow(aad_object_id=aad_object_id, tenant_id=tenant_id, name=name, position=position,
                               version=version, text_sha256=sha256, signed_at=utcnow(), school_id=school_id)
            session.add(row)
            await session.flush()
            return Signature.model_validate(row), True

        return await in_transaction(self._sessions, work)

    async def signed(self, version: str, school_id: str = SOLE_SCHOOL_ID) -> dict[str, Signature]:
        async with self._sessions() as session:
            stmt = select(SignatureRow).where(SignatureRow.school_id == school_id, SignatureRow.version == version)
            return {r.aad_object_id: Signature.model_validate(r) for r in (await session.execute(stmt)).scalars()}

    async def signed_by(self, version: str, people: set[str], school_id: str = SOLE_SCHOOL_ID, *,
                        session: AsyncSession | None = None) -> set[str]:
        """Which of `people` signed `version` (one indexed look-up, not every signature)."""
        if not people:
            return set()
        async with reading(self._reads, session) as session:
            stmt = select(SignatureRow.aad_object_id).where(SignatureRow.school_id == school_id, SignatureRow.version == version,
                                                            SignatureRow.aad_object_id.in_(sorted(people)))
            return set((await session.execute(stmt)).scalars())

    async def all(self, school_id: str = SOLE_SCHOOL_ID) -> list[Signature]:
        async with self._sessions() as session:
            stmt = select(SignatureRow).where(SignatureRow.school_id == school_id).order_by(SignatureRow.signed_at, SignatureRow.id)
            return [Signature.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def reminded_recently(self, aad_object_id: str, version: str, days: int, school_id: str = SOLE_SCHOOL_ID) -> bool:
        async with self._sessions() as session:
            stmt = select(func.max(AupReminderRow.sent_at)).where(
                AupReminderRow.aad_object_id == aad_object_id, AupReminderRow.school_id == school_id, AupReminderRow.version == version
            )
            last = (await session.execute(stmt)).scalar_one_or_none()
        return last is not None and last > utcnow() - timedelta(days=days)

    async def reminded(self, aad_object_id: str, version: str, school_id: str = SOLE_SCHOOL_ID) -> None:
        async with self._sessions() as session, session.begin():
            session.add(AupReminderRow(aad_object_id=aad_object_id, version=version, sent_at=utcnow(), school_id=school_id))
