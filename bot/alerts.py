"""What people are told, and when: the reminder at the start, the organizer's warning, the
SLT breach alert, the record at the end, and concerns for the DSL.

Cards are decided here and queued in the outbox; the `deliver` job sends each one (with the
worker's retries and back-off) and keeps the ones that cannot be sent.
"""

from __future__ import annotations

import logging

from botbuilder.schema import Activity, Attachment

from cards import attendance_summary, reminder, slt_alert, teacher_warning
from cards.common import CONTENT_TYPE
from config.policy import Policy
from config.settings import Settings
from domain.findings import Severity, Status
from domain.lesson import Lesson
from rules.timetabled import timetable_entry
from store.conversations import AlertPurpose
from store.findings import FindingStore, StoredFinding
from store.jobs import Job
from store.lessons import LessonStore
from store.outbox import DELIVER, Message, Outbox
from store.school_data import SchoolData

from .connector import BotConnector, ConnectorError
from .notes import note_url
from .notifier import NoDestination, Notifier, Sent
from .worker import GiveUp, Worker

log = logging.getLogger(__name__)
CHANNEL_MEETING_TYPES = {"ChannelScheduled", "ChannelRecurring"}


def card_activity(card: dict, summary: str) -> Activity:
    return Activity(type="message", summary=summary, attachments=[Attachment(content_type=CONTENT_TYPE, content=card)])


def organizer_ids(lesson: Lesson) -> list[str]:
    """The organizer's Teams ids (29:...), for per-user card views and a 1:1 chat."""
    ids = {a.teams_user_id for a in lesson.attendance if a.aad_object_id == lesson.organizer_aad_id and a.teams_user_id}
    if lesson.organizer_teams_id:
        ids.add(lesson.organizer_teams_id)
    return sorted(ids)


class Alerts:
    def __init__(
        self,
        outbox: Outbox,
        lessons: LessonStore,
        findings: FindingStore,
        school_data: SchoolData,
        notifier: Notifier,
        connector: BotConnector,
        worker: Worker,
        policy: Policy,
        settings: Settings,
    ) -> None:
        self._outbox = outbox
        self._lessons = lessons
        self._findings = findings
        self._school_data = school_data
        self._notifier = notifier
        self._connector = connector
        self._worker = worker
        self._policy = policy
        self._settings = settings
        self._max_attempts = worker.max_attempts
        worker.handle(DELIVER, self.deliver)

    def wake(self) -> None:
        self._worker.wake()

    # ---- deciding -------------------------------------------------------------------

    async def lesson_started(self, lesson: Lesson) -> None:
        """The behaviour expectations reminder, once per lesson, in the meeting chat."""
        await self._outbox.queue(
            kind="reminder", destination="meeting", lesson_id=lesson.id, service_url=lesson.service_url,
            card=reminder.reminder_card(self._policy, lesson.title, lesson.id),
            summary="Online lesson expectations and how to report a concern", dedupe_key=f"reminder:{lesson.id}",
        )
        self._worker.wake()

    async def breaches_found(self, lesson: Lesson, new: list[StoredFinding]) -> None:
        """Newly open failures: the organizer is warned; breaches also go to SLT."""
        worth_telling = [f for f in new if f.status is Status.failed and f.severity is not Severity.info]
        if not worth_telling:
            return
        ids = [f.id for f in worth_telling]
        key = "-".join(f"{f.id}.{f.episode}" for f in worth_telling)
        await self._outbox.queue(
            kind="teacher-warning", destination="meeting", lesson_id=lesson.id, service_url=lesson.service_url,
            card={}, summary="Chaperone has a note for the organizer", finding_ids=ids, dedupe_key=f"warning:{key}",
        )
        breaches = [f for f in worth_telling if f.severity is Severity.breach]
        if breaches:
            await self._outbox.queue(
                kind="slt-alert", destination="slt-channel", lesson_id=lesson.id, service_url=lesson.service_url,
                card={}, summary=f"Breach in {lesson.title or 'a live lesson'}", finding_ids=[f.id for f in breaches],
                dedupe_key=f"alert:{'-'.join(f'{f.id}.{f.episode}' for f in breaches)}",
            )
        self._worker.wake()

    async def lesson_ended(self, lesson: Lesson) -> None:
        await self._outbox.queue(
            kind="summary", destination="organizer", lesson_id=lesson.id, service_url=lesson.service_url,
            card={}, summary=f"Lesson record: {lesson.title or 'untitled'}", dedupe_key=f"summary:{lesson.id}",
        )
        self._worker.wake()

    # ---- cards, built when sent (so they show the latest state) ----------------------

    async def findings_of(self, message: Message) -> list[StoredFinding]:
        wanted = set(message.finding_ids)
        return [f for f in await self._findings.for_lesson(message.lesson_id) if f.id in wanted]

    async def card_for(self, message: Message) -> dict:
        if message.card:
            return message.card
        lesson = await self._lessons.get(message.lesson_id)
        if message.kind == "teacher-warning":
            return teacher_warning.neutral_card(lesson.id, organizer_ids(lesson), message.id)
        if message.kind == "slt-alert":
            return slt_alert.alert_card(self._policy, lesson, await self.findings_of(message), alert_state(message),
                                        await self.timetabled_class(lesson))
        if message.kind == "summary":
            return attendance_summary.summary_card(self._policy, lesson, await self._findings.for_lesson(lesson.id))
        raise ValueError(f"no card for a {message.kind} message")

    async def timetabled_class(self, lesson: Lesson) -> str:
        """The class (and subject) the timetable has for this lesson, for the SLT alert."""
        entries, loaded = await self._school_data.timetable_for(lesson.organizer_aliases)
        start = lesson.actual_start or lesson.scheduled_start
        entry = timetable_entry(entries, lesson.organizer_aliases, self._policy, start) if start else None
        if entry is not None:
            return entry.class_label or "on the timetable (no class given)"
        return "not on the timetable" if loaded else "unknown (no timetable imported)"

    # ---- delivering -------------------------------------------------------------------

    async def deliver(self, job: Job) -> None:
        message = await self._outbox.get(job.payload["message_id"])
        if message.status == "sent":
            return
        try:
            card = await self.card_for(message)
            sent = await self._send(message, card_activity(card, message.summary))
        except NoDestination as exc:
            await self._outbox.attempt_failed(message.id, str(exc), final=True)
            raise GiveUp(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - connector failures are retried by the worker, then kept
            final = job.attempts >= self._max_attempts
            await self._outbox.attempt_failed(message.id, f"{type(exc).__name__}: {exc}", final=final)
            raise
        if not message.card:
            await self._outbox.set_card(message.id, card)
        await self._outbox.sent(message.id, sent.conversation_id, sent.activity_id)
        log.info("delivered %s %s to %s", message.kind, message.id, message.destination)

    async def _send(self, message: Message, activity: Activity) -> Sent:
        lesson = await self._lessons.get(message.lesson_id) if message.lesson_id else None
        if message.kind == "teacher-warning" and (sent := await self._on_meeting_stage(message, lesson)):
            return sent
        if message.destination == "meeting":
            return await self._notifier.send_to(lesson.conversation_id, activity)
        if message.destination == "slt-channel":
            return await self._notifier.send_alert(AlertPurpose.slt, activity)
        if message.destination == "organizer":
            [member] = organizer_ids(lesson)[:1] or [None]
            if member is None:
                raise NoDestination("the organizer is not known")
            return await self._notifier.send_personal(member, lesson.tenant_id, message.service_url, activity)
        if message.destination == "dsl":
            return await self._to_dsl(message, lesson, activity)
        raise NoDestination(f"unknown destination {message.destination}")

    async def _on_meeting_stage(self, message: Message, lesson: Lesson) -> Sent | None:
        """The organizer's note as a targeted in-meeting notification, where the meeting has one."""
        recipients = organizer_ids(lesson)
        if not self._settings.public_url or not recipients or lesson.meeting_type in CHANNEL_MEETING_TYPES or lesson.actual_end:
            return None
        url = note_url(self._settings.public_url, self._settings.link_key, message.id)
        try:
            failed = await self._connector.targeted_notification(lesson.service_url, lesson.meeting_id, recipients, "Chaperone", url)
        except ConnectorError as exc:
            log.info("lesson %s: no in-meeting notification (%s); using the meeting chat", lesson.id, exc)
            return None
        if failed:
            log.info("lesson %s: in-meeting notification not delivered to %s; using the meeting chat", lesson.id, failed)
            return None
        return Sent(conversation_id=lesson.conversation_id, activity_id="targeted-meeting-notification")

    async def _to_dsl(self, message: Message, lesson: Lesson | None, activity: Activity) -> Sent:
        try:
            return await self._notifier.send_alert(AlertPurpose.dsl, activity)
        except NoDestination:
            pass
        if not self._policy.people.dsl:
            raise NoDestination("the policy names no DSL and no DSL channel has been set")
        tenant = lesson.tenant_id if lesson else self._policy.school.tenant_id
        sent = None
        for person in self._policy.people.dsl:
            sent = await self._notifier.send_personal(person.aad_object_id, tenant, message.service_url, activity)
        return sent


def alert_state(message: Message) -> slt_alert.AlertState:
    return slt_alert.AlertState(
        alert_id=message.id,
        acknowledged_by=message.acknowledged_by,
        acknowledged_at=message.acknowledged_at,
        resolved_by=message.resolved_by,
        resolved_at=message.resolved_at,
        exception_id=message.exception_id,
        exception_by=message.exception_by,
    )
