"""Deciding whom to tell, and when: the reminder at the start, the organizer's warning, the
SLT breach alert and the record at the end.

Each notice is queued in the outbox together with the job that delivers it
(outbound/delivery.py); the card itself is composed from stored facts when it is sent.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cards import reminder
from config.trust import Schools
from domain.findings import Severity, Status, StoredFinding
from domain.lesson import Lesson
from domain.messages import AlertAction, Destination, MessageKind, RaisedFinding
from jobs.worker import Worker
from store.outbox import Held, Outbox
from store.tables import utcnow


def _episodes(findings: list[StoredFinding]) -> str:
    return "-".join(f"{f.id}.{f.episode}" for f in findings)


class LessonNotices:
    def __init__(self, *, outbox: Outbox, worker: Worker, schools: Schools) -> None:
        self._outbox = outbox
        self._worker = worker
        self._schools = schools

    async def lesson_started(self, lesson: Lesson) -> list[Held]:
        """The behaviour expectations reminder, once per lesson, in the meeting chat: held for
        the caller to deliver (`Delivery.deliver_held`)."""
        held = await self._outbox.queue(
            kind=MessageKind.reminder, destination=Destination.meeting, lesson_id=lesson.id, school_id=lesson.school_id, service_url=lesson.service_url,
            card=reminder.reminder_card(self._schools.get(lesson.school_id), lesson.title, lesson.id),
            summary="Online lesson expectations and how to report a concern", dedupe_key=f"reminder:{lesson.id}", lease=self._worker.lease,
        )
        return [held] if held else []

    async def breaches_found(self, session: AsyncSession, lesson: Lesson, new: list[StoredFinding]) -> list[Held]:
        """Newly open failures: the organizer is warned; breaches also go to SLT. Each card
        keeps the finding as raised and who was present then (`lesson` with its register).
        Queued in `session`, the transaction that records the failures, and held for the
        caller to deliver once it commits (`Delivery.deliver_held`)."""
        worth_telling = [f for f in new if f.status is Status.failed and f.severity is not Severity.info]
        if not worth_telling:
            return []
        raised = {f.id: RaisedFinding(finding=f, present=lesson.present_at(f.first_failed_at or f.evaluated_at)) for f in worth_telling}
        held = [await self._outbox.queue(
            session=session,
            kind=MessageKind.teacher_warning, destination=Destination.meeting, lesson_id=lesson.id, school_id=lesson.school_id, service_url=lesson.service_url,
            card={}, summary="Chaperone has a note for the organizer", finding_ids=[f.id for f in worth_telling],
            raised=list(raised.values()), dedupe_key=f"warning:{_episodes(worth_telling)}", lease=self._worker.lease,
        )]
        breaches = [f for f in worth_telling if f.severity is Severity.breach]
        if breaches:
            held.append(await self._outbox.queue(
                session=session,
                kind=MessageKind.slt_alert, destination=Destination.slt_channel, lesson_id=lesson.id, school_id=lesson.school_id, service_url=lesson.service_url,
                card={}, summary=f"Breach in {lesson.title or 'a live lesson'}", finding_ids=[f.id for f in breaches],
                raised=[raised[f.id] for f in breaches], dedupe_key=f"alert:{_episodes(breaches)}", lease=self._worker.lease,
            ))
        return [h for h in held if h]

    async def organizer_named(self, session: AsyncSession, lesson_id: int) -> None:
        """The organizer's name became known after the lesson's SLT alerts were composed: each
        is updated where it was posted, after its sending (queued in `session`)."""
        await self._outbox.refresh_alerts(session, lesson_id)

    async def unmonitored_session(self, lesson: Lesson, findings: list[StoredFinding]) -> None:
        """One SLT alert for a session Chaperone saw only in a call record, with its breaches;
        with none, it still tells SLT that a session with pupils went unmonitored."""
        breaches = [f for f in findings if f.status is Status.failed and f.severity is Severity.breach]
        raised = [RaisedFinding(finding=f, present=lesson.present_at(f.first_failed_at or f.evaluated_at)) for f in breaches]
        await self._outbox.queue(
            kind=MessageKind.slt_alert, destination=Destination.slt_channel, lesson_id=lesson.id, school_id=lesson.school_id, service_url=None,
            card={}, summary=f"Unmonitored session: {lesson.title or 'a call'}", finding_ids=[f.id for f in breaches],
            raised=raised, dedupe_key=f"unmonitored:{lesson.id}",
        )
        self._worker.wake()

    async def breaches_cleared(self, lesson: Lesson, passing: set[int], why: str) -> None:
        """An open SLT alert all of whose findings now pass (Graph's attendance report corrected
        the register): marked cleared, and its card in the channel updated. A finding that could
        not be verified does not clear anything."""
        for alert in await self._outbox.open_alerts(lesson.id):
            if alert.finding_ids and set(alert.finding_ids) <= passing:
                await self._outbox.act(alert.id, "chaperone", "Chaperone", AlertAction.clear, cleared_at=utcnow(), cleared_reason=why)
                await self._outbox.queue_refresh(alert.id)
                self._worker.wake()

    async def lesson_ended(self, lesson: Lesson) -> None:
        await self._outbox.queue(
            kind=MessageKind.summary, destination=Destination.organizer, lesson_id=lesson.id, school_id=lesson.school_id, service_url=lesson.service_url,
            card={}, summary=f"Lesson record: {lesson.title or 'untitled'}", dedupe_key=f"summary:{lesson.id}",
        )
        self._worker.wake()
