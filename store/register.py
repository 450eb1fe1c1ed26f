"""The exceptions register (approved by SLT or the DSL) and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config.trust import Schools
from domain.placement import SOLE_SCHOOL_ID
from domain.school import ApprovedException

from .db import read_sessions, reading
from .tables import AuditRow, ExceptionRow, LessonRow, utcnow


class Revocation(StrEnum):
    withdrawn = "withdrawn"
    unknown = "unknown"  # no exception has that id
    already_withdrawn = "already-withdrawn"


def audit(session: AsyncSession, actor: str, action: str, target: str | None, details: dict, actor_name: str | None = None,
          school_id: str | None = None) -> None:
    """One entry in the audit log; `school_id` is the school whose record changed (None: the trust's or the service's own)."""
    session.add(AuditRow(at=utcnow(), actor=actor, actor_name=actor_name, action=action, target=target, details=details, school_id=school_id))


class ApprovalRefused(PermissionError):
    """The approver may not approve an exception to this rule (see Policy.approval_refused)."""


class ExceptionRegister:
    def __init__(self, engine: AsyncEngine, schools: Schools | None = None) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._reads = read_sessions(engine)
        # With the schools' policies, the register itself refuses an approval the school's policy
        # does not allow, whichever door (card action, CLI, tab) it came through.
        self._schools = schools

    async def approve(
        self,
        *,
        rule_id: str,
        reason: str,
        approver_id: str,
        approver_name: str | None,
        lesson_id: int | None = None,
        meeting_id: str | None = None,
        person_id: str | None = None,
        expires_at: datetime | None = None,
        approved_at: datetime | None = None,
        operator: str | None = None,
        school_id: str = SOLE_SCHOOL_ID,
    ) -> ApprovedException:
        """Record an approval. The caller has checked that the approver is SLT or the DSL.
        `approved_at` is when SLT approved it, if not now (a decision recorded later); the
        audit row keeps when it was recorded. `operator` is who typed it in, when not the
        approver themself (the OS user of the CLI). `school_id`: the school whose exception it is,
        whose policy says who may approve it."""
        if not (lesson_id or meeting_id or person_id):
            raise ValueError("an exception needs a lesson, a series (meeting id) or a person")
        if self._schools is not None and (refused := self._schools.get(school_id).approval_refused(approver_id, rule_id)):
            raise ApprovalRefused(refused)
        async with self._sessions() as session, session.begin():
            row = ExceptionRow(
                rule_id=rule_id,
                lesson_id=lesson_id,
                meeting_id=meeting_id,
                person_id=person_id,
                reason=reason,
                approved_by=approver_id,
                approved_by_name=approver_name,
                approved_at=approved_at or utcnow(),
                expires_at=expires_at,
                school_id=school_id,
            )
            session.add(row)
            await session.flush()
            audit(
                session, approver_id, "exception.approve", f"exception:{row.id}",
                {"rule": rule_id, "lesson": lesson_id, "meeting": meeting_id, "person": person_id, "reason": reason,
                 "expires_at": expires_at.isoformat() if expires_at else None, **_operated_by(operator)},
                approver_name,
                school_id=school_id,
            )
            return ApprovedException.model_validate(row)

    async def revoke(self, exception_id: int, by: str, by_name: str | None, operator: str | None = None,
                     school_id: str = SOLE_SCHOOL_ID) -> Revocation:
        """Withdraw one of `school_id`'s exceptions (another school's is, to this caller, unknown)."""
        async with self._sessions() as session, session.begin():
            row = await session.get(ExceptionRow, exception_id, with_for_update=True)
            if row is None or row.school_id != school_id:
                return Revocation.unknown
            if row.revoked_at is not None:
                return Revocation.already_withdrawn
            row.revoked_at, row.revoked_by = utcnow(), by
            audit(session, by, "exception.revoke", f"exception:{exception_id}", {"rule": row.rule_id, **_operated_by(operator)}, by_name,
                  school_id=school_id)
            return Revocation.withdrawn

    async def lesson_recorded(self, lesson_id: int, school_id: str | None = None) -> bool:
        """Whether the lesson is in the register (with `school_id`: in that school's)."""
        where = [LessonRow.id == lesson_id] + ([LessonRow.school_id == school_id] if school_id is not None else [])
        async with self._reads() as session:
            return bool((await session.execute(select(exists().where(*where)))).scalar())

    async def meeting_recorded(self, meeting_id: str, school_id: str | None = None) -> bool:
        where = [LessonRow.meeting_id == meeting_id] + ([LessonRow.school_id == school_id] if school_id is not None else [])
        async with self._reads() as session:
            return bool((await session.execute(select(exists().where(*where)))).scalar())

    async def active(self, lesson_id: int, meeting_id: str, at: datetime, school_id: str = SOLE_SCHOOL_ID, *,
                     session: AsyncSession | None = None) -> list[ApprovedException]:
        """The school's approvals that may apply to this lesson (its own, its series', or any person's)."""
        async with reading(self._reads, session) as session:
            stmt = select(ExceptionRow).where(
                ExceptionRow.school_id == school_id,
                ExceptionRow.revoked_at.is_(None),
                or_(ExceptionRow.expires_at.is_(None), ExceptionRow.expires_at > at),
                or_(
                    ExceptionRow.lesson_id == lesson_id,
                    ExceptionRow.meeting_id == meeting_id,
                    ExceptionRow.person_id.is_not(None),
                ),
            )
            return [ApprovedException.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def record_action(self, actor: str, action: str, target: str, details: dict, school_id: str | None = None) -> None:
        async with self._sessions() as session, session.begin():
            audit(session, actor, action, target, details, school_id=school_id)

    async def list(self, school_id: str = SOLE_SCHOOL_ID) -> list[ApprovedException]:
        async with self._reads() as session:
            stmt = select(ExceptionRow).where(ExceptionRow.school_id == school_id).order_by(ExceptionRow.id)
            rows = (await session.execute(stmt)).scalars()
            return [ApprovedException.model_validate(r) for r in rows]


def _operated_by(operator: str | None) -> dict:
    return {"os_user": operator} if operator else {}
