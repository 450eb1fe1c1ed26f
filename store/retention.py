"""Deleting personal data once the policy's retention period has passed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from config.policy import Retention

from .register import audit
from .tables import (
    AuditRow, AupReminderRow, CallRecordRow, ConcernRow, DirectoryEntryRow, EnrolmentRow, InboundEventRow, JobRow, LessonRow,
    MessageRow, ProcessedActivityRow, SignatureRow,
)


async def purge(engine: AsyncEngine, retention: Retention, now: datetime, reminder_interval_days: int = 0) -> dict[str, int]:
    """Delete what is older than its retention period; returns how many of each went."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    def before(days: int) -> datetime:
        return now - timedelta(days=days)

    lesson_cutoff = before(retention.lessons_days)
    counts: dict[str, int] = {}
    async with sessions() as session, session.begin():
        old_concerns = ConcernRow.created_at < before(retention.concerns_days)
        # A concern's card (reporter and words) is a copy of the concern: it goes with it,
        # whatever the period for other cards, and so does its delivery job.
        concern_cards = select(ConcernRow.message_id).where(old_concerns, ConcernRow.message_id.is_not(None))
        counts["concern cards"] = (await session.execute(delete(MessageRow).where(MessageRow.id.in_(concern_cards)))).rowcount
        counts["concerns"] = (await session.execute(delete(ConcernRow).where(old_concerns))).rowcount
        counts["messages"] = (await session.execute(delete(MessageRow).where(MessageRow.created_at < before(retention.messages_days)))).rowcount
        counts["delivery log"] = (await session.execute(
            delete(ProcessedActivityRow).where(ProcessedActivityRow.received_at < before(retention.delivery_log_days))
        )).rowcount
        # The event log's keys of events already derived (their activities were dropped then).
        counts["event log"] = (await session.execute(
            delete(InboundEventRow).where(InboundEventRow.processed_at < before(retention.delivery_log_days))
        )).rowcount
        counts["directory answers"] = (await session.execute(delete(DirectoryEntryRow).where(DirectoryEntryRow.expires_at < now))).rowcount
        # A lesson goes with its attendance, findings and jobs (ON DELETE CASCADE); an open
        # lesson is kept however old, since it may still be running.
        ended = func.coalesce(LessonRow.actual_end, LessonRow.updated_at)
        old_lessons = and_(LessonRow.status == "closed", ended < lesson_cutoff)
        counts["finished jobs"] = (await session.execute(
            delete(JobRow).where(JobRow.done_at.is_not(None), JobRow.done_at < lesson_cutoff)
        )).rowcount
        counts["lessons"] = (await session.execute(delete(LessonRow).where(old_lessons))).rowcount
        # What the enrolment sweeps did and which call records were read: kept as long as lessons.
        counts["enrolments"] = (await session.execute(delete(EnrolmentRow).where(EnrolmentRow.updated_at < lesson_cutoff))).rowcount
        counts["call records"] = (await session.execute(delete(CallRecordRow).where(CallRecordRow.read_at < lesson_cutoff))).rowcount
        counts["AUP signatures"] = (await session.execute(
            delete(SignatureRow).where(SignatureRow.signed_at < before(retention.signatures_days))
        )).rowcount
        # Who was reminded to sign, and when: kept as long as cards are, and never less than the
        # reminder interval (or someone would be reminded again too soon).
        reminders_days = max(retention.messages_days, reminder_interval_days)
        counts["AUP reminders"] = (await session.execute(
            delete(AupReminderRow).where(AupReminderRow.sent_at < before(reminders_days))
        )).rowcount
        counts["audit entries"] = (await session.execute(delete(AuditRow).where(AuditRow.at < before(retention.audit_days)))).rowcount
        audit(session, "chaperone", "retention.purge", None, counts)
    return counts
