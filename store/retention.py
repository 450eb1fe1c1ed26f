"""Deleting personal data once the policy's retention period has passed.

In a trust each school's records (lessons, cards, concerns, audit entries, AUP signatures and
reminders, enrolments) go by that school's own [retention]; what is kept under the trust
default policy's id, under no school, or under a school no longer in the trust file goes by
the default policy's, and so do the service's own records (the delivery and event logs, the
directory cache, finished jobs, call records), as config/trust.py says of the default policy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config.policy import Retention
from config.trust import Schools

from .register import audit
from .tables import (
    AuditRow, AupReminderRow, CallRecordRow, ConcernRow, DirectoryEntryRow, EnrolmentRow, InboundEventRow, JobRow, LessonRow,
    MessageRow, ProcessedActivityRow, SignatureRow,
)

# Which rows of a table carrying `school_id` a school's retention applies to.
Scope = Callable[[ColumnElement], ColumnElement[bool]]


def _everything(column: ColumnElement) -> ColumnElement[bool]:
    return true()


def _school_scope(school_id: str) -> Scope:
    return lambda column: column == school_id


def _default_scope(others: list[str]) -> Scope:
    """The default policy's: no school, its own id, or a school no longer in the trust file."""
    if not others:  # a single school: every record is its
        return _everything
    return lambda column: or_(column.is_(None), column.not_in(others))


async def purge(engine: AsyncEngine, retention: Retention, now: datetime, reminder_interval_days: int = 0) -> dict[str, int]:
    """One retention for every record (a single school); returns how many of each went."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        counts = await _purge_school(session, retention, now, reminder_interval_days, _everything)
        counts.update(await _purge_service(session, retention, now))
        audit(session, "chaperone", "retention.purge", None, counts)
    return counts


async def purge_schools(engine: AsyncEngine, schools: Schools, now: datetime,
                        only: str | None = None) -> dict[str, dict[str, int]]:
    """Each school's records by its own policy's retention, in one transaction; `only`: one
    school's (by id) and nothing of the service's own. Returns the counts by school id, the
    service's own under the default policy's id."""
    default = schools.default
    # The ids another policy's retention looks after: everything else is the default's.
    others = sorted(p.school.id for p in schools.all_policies() if p.school.id != default.school.id)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    found: dict[str, dict[str, int]] = {}
    async with sessions() as session, session.begin():
        for policy in schools.all_policies():
            school_id = policy.school.id
            if only is not None and school_id != only:
                continue
            scope = _default_scope(others) if school_id == default.school.id else _school_scope(school_id)
            counts = await _purge_school(session, policy.retention, now, policy.reminder_interval_days, scope)
            if school_id == default.school.id and only is None:
                counts.update(await _purge_service(session, policy.retention, now))
            audit(session, "chaperone", "retention.purge", None, counts, school_id=school_id)
            found[school_id] = counts
    return found


async def _purge_school(session: AsyncSession, retention: Retention, now: datetime, reminder_interval_days: int,
                        mine: Scope) -> dict[str, int]:
    """Delete one school's records (those `mine` selects) older than its retention periods."""

    def before(days: int) -> datetime:
        return now - timedelta(days=days)

    async def gone(statement) -> int:
        return (await session.execute(statement.execution_options(synchronize_session=False))).rowcount

    lesson_cutoff = before(retention.lessons_days)
    counts: dict[str, int] = {}
    old_concerns = and_(mine(ConcernRow.school_id), ConcernRow.created_at < before(retention.concerns_days))
    # A concern's card (reporter and words) is a copy of the concern: it goes with it,
    # whatever the period for other cards, and so does its delivery job.
    concern_cards = select(ConcernRow.message_id).where(old_concerns, ConcernRow.message_id.is_not(None))
    counts["concern cards"] = await gone(delete(MessageRow).where(MessageRow.id.in_(concern_cards)))
    counts["concerns"] = await gone(delete(ConcernRow).where(old_concerns))
    counts["messages"] = await gone(delete(MessageRow).where(mine(MessageRow.school_id),
                                                             MessageRow.created_at < before(retention.messages_days)))
    # A lesson goes with its attendance, findings and jobs (ON DELETE CASCADE); an open
    # lesson is kept however old, since it may still be running.
    ended = func.coalesce(LessonRow.actual_end, LessonRow.updated_at)
    counts["lessons"] = await gone(delete(LessonRow).where(mine(LessonRow.school_id), LessonRow.status == "closed",
                                                           ended < lesson_cutoff))
    # What the enrolment sweeps did: kept as long as lessons.
    counts["enrolments"] = await gone(delete(EnrolmentRow).where(mine(EnrolmentRow.school_id), EnrolmentRow.updated_at < lesson_cutoff))
    counts["AUP signatures"] = await gone(delete(SignatureRow).where(mine(SignatureRow.school_id),
                                                                     SignatureRow.signed_at < before(retention.signatures_days)))
    # Who was reminded to sign, and when: kept as long as cards are, and never less than the
    # reminder interval (or someone would be reminded again too soon).
    reminders_days = max(retention.messages_days, reminder_interval_days)
    counts["AUP reminders"] = await gone(delete(AupReminderRow).where(mine(AupReminderRow.school_id),
                                                                      AupReminderRow.sent_at < before(reminders_days)))
    counts["audit entries"] = await gone(delete(AuditRow).where(mine(AuditRow.school_id), AuditRow.at < before(retention.audit_days)))
    return counts


async def _purge_service(session: AsyncSession, retention: Retention, now: datetime) -> dict[str, int]:
    """The service's own records, which belong to no school."""

    def before(days: int) -> datetime:
        return now - timedelta(days=days)

    async def gone(statement) -> int:
        return (await session.execute(statement.execution_options(synchronize_session=False))).rowcount

    lesson_cutoff = before(retention.lessons_days)
    return {
        "delivery log": await gone(delete(ProcessedActivityRow).where(ProcessedActivityRow.received_at < before(retention.delivery_log_days))),
        # The event log's keys of events already derived (their activities were dropped then).
        "event log": await gone(delete(InboundEventRow).where(InboundEventRow.processed_at < before(retention.delivery_log_days))),
        "directory answers": await gone(delete(DirectoryEntryRow).where(DirectoryEntryRow.expires_at < now)),
        "finished jobs": await gone(delete(JobRow).where(JobRow.done_at.is_not(None), JobRow.done_at < lesson_cutoff)),
        # Which call records were read: kept as long as lessons.
        "call records": await gone(delete(CallRecordRow).where(CallRecordRow.read_at < lesson_cutoff)),
    }
