"""Delivering the outbox: the `deliver` job sends each queued card where it belongs, with
the worker's retries and back-off, and keeps the ones that cannot be sent."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from typing import Protocol

from botbuilder.schema import Activity

from config.policy import Policy
from config.settings import Settings
from config.trust import Schools
from domain.conversations import AlertPurpose
from domain.lesson import Lesson
from domain.messages import DeliveryStatus, Destination, Message, MessageKind
from jobs.worker import GiveUp, Worker
from store.jobs import Job
from store.lessons import LessonStore
from store.outbox import DELIVER, REFRESH, Held, Outbox
from telemetry import metrics

from .activities import card_activity
from .connector import BotConnector, ConnectorError
from .notes import note_url
from .notifier import NoDestination, Notifier, Sent

log = logging.getLogger(__name__)


class ComposesCards(Protocol):
    """What delivery needs from the card composer (service/compose.py)."""

    async def card_for(self, message: Message, lesson: Lesson | None = None, *, just_raised: bool = False) -> dict: ...

    async def compose(self, message: Message, lesson: Lesson | None = None, *, just_raised: bool = False) -> dict: ...


class Delivery:
    def __init__(
        self,
        *,
        outbox: Outbox,
        lessons: LessonStore,
        composer: ComposesCards,
        notifier: Notifier,
        connector: BotConnector,
        worker: Worker,
        schools: Schools,
        settings: Settings,
    ) -> None:
        self._outbox = outbox
        self._lessons = lessons
        self._composer = composer
        self._notifier = notifier
        self._connector = connector
        self._schools = schools
        self._settings = settings
        self._max_attempts = worker.max_attempts
        self._worker = worker
        worker.handle(DELIVER, self.deliver)
        worker.handle(REFRESH, self.refresh)

    async def deliver(self, job: Job) -> None:
        message = await self._outbox.get(job.payload["message_id"])
        if message is None or message.status in (DeliveryStatus.sent, DeliveryStatus.dismissed):
            return  # sent already, or deleted by retention
        # Read once for the card and its destination; with the register unless neither needs
        # it (a card composed when queued, to the meeting chat).
        lesson = None
        if message.lesson_id and message.kind is not MessageKind.reply:
            lesson = await self._lessons.get(message.lesson_id, with_attendance=_needs_register(message), with_settings=False)
        await self._deliver(job, message, lesson)

    async def deliver_held(self, held: Sequence[Held], lesson: Lesson) -> None:
        """Cards a lesson's check has just decided (`lesson`: as just read, with its register),
        sent at once from what is in hand, not after the next claim and three reads each. Cards
        to one destination go in the order queued, different destinations at once. A card that
        fails is retried like any delivery, and the cards queued behind it to the same place
        are left to the worker, which keeps their order."""
        lanes: dict[Destination, list[Held]] = {}
        for card in held:
            lanes.setdefault(card.message.destination, []).append(card)
        await asyncio.gather(*(self._deliver_lane(lane, lesson) for lane in lanes.values()))

    async def _deliver_lane(self, lane: list[Held], lesson: Lesson) -> None:
        for n, card in enumerate(lane):
            # Held cards were queued by the verdict that is delivering them: just raised.
            if not await self._worker.run_held(card.job, functools.partial(self._deliver, message=card.message, lesson=lesson,
                                                                           just_raised=True)):
                for behind in lane[n + 1:]:
                    await self._worker.release(behind.job, f"an earlier card to the {card.message.destination.value} was not sent yet")
                return

    async def _deliver(self, job: Job, message: Message, lesson: Lesson | None, just_raised: bool = False) -> None:
        try:
            if message.kind is MessageKind.reply:
                card = message.card
                sent = await self._notifier.reply(card["reference"], Activity().deserialize(card["activity"]))
            else:
                card = await self._composer.card_for(message, lesson, just_raised=just_raised)
                sent = await self._send(message, lesson, card_activity(card, message.summary))
        except NoDestination as exc:
            await self._outbox.attempt_failed(message.id, str(exc), final=True)
            metrics.CARDS.labels(message.kind.value, "failed").inc()
            raise GiveUp(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - connector failures are retried by the worker, then kept
            final = job.attempts >= self._max_attempts
            await self._outbox.attempt_failed(message.id, f"{type(exc).__name__}: {exc}", final=final)
            if final:
                metrics.CARDS.labels(message.kind.value, "failed").inc()
            raise
        # The card is kept as sent (when it was composed now): the record shows what people
        # saw, and refreshes start from it.
        await self._outbox.sent(message.id, sent.conversation_id, sent.activity_id, card=None if message.card else card)
        metrics.CARDS.labels(message.kind.value, "sent").inc()
        log.info("delivered %s %s to %s", message.kind.value, message.id, message.destination.value)

    async def refresh(self, job: Job) -> None:
        """A sent alert whose state changed without anyone pressing a button (Chaperone
        cleared it): its card is updated where it was posted."""
        message = await self._outbox.get(job.payload["message_id"])
        if message is None or message.status is not DeliveryStatus.sent or not message.activity_id or not message.conversation_id:
            return  # not sent yet: it will be composed, as it is now, when it is
        card = await self._composer.compose(message)
        await self._notifier.update_alert(AlertPurpose.slt, message.conversation_id, message.activity_id, card_activity(card, message.summary),
                                          self._school_of(message).school.id)
        await self._outbox.set_card(message.id, card)

    def _school_of(self, message: Message) -> Policy:
        """The school whose destinations a message goes to: its own; one no school claimed
        (and a record from before schools, in a trust) goes to the trust default policy's."""
        return self._schools.get(message.school_id)

    async def _send(self, message: Message, lesson: Lesson | None, activity: Activity) -> Sent:
        if message.kind is MessageKind.teacher_warning and (sent := await self._on_meeting_stage(message, lesson)):
            return sent
        if message.destination is Destination.meeting:
            return await self._notifier.send_to(lesson.conversation_id, activity)
        if message.destination is Destination.slt_channel:
            return await self._notifier.send_alert(AlertPurpose.slt, activity, self._school_of(message).school.id)
        if message.destination is Destination.trust_leads:
            return await self._to_trust_leads(message, activity)
        if message.destination is Destination.organizer:
            [member] = lesson.organizer_teams_ids[:1] or [None]
            if member is None:
                raise NoDestination("the organizer is not known")
            return await self._notifier.send_personal(member, lesson.tenant_id, message.service_url, activity)
        return await self._to_dsl(message, lesson, activity)

    async def _on_meeting_stage(self, message: Message, lesson: Lesson) -> Sent | None:
        """The organizer's note as a targeted in-meeting notification, where the meeting has one."""
        recipients = lesson.organizer_teams_ids
        if not self._settings.public_url or not recipients or lesson.is_channel_meeting or lesson.actual_end:
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
        """The school's concern channel, else each of that school's DSLs 1:1: never another school's."""
        policy = self._school_of(message)
        try:
            return await self._notifier.send_alert(AlertPurpose.dsl, activity, policy.school.id)
        except NoDestination:
            pass
        if not policy.people.dsl:
            raise NoDestination(f"{policy.school.id}'s policy names no DSL and no DSL channel has been set")
        tenant = lesson.tenant_id if lesson else policy.school.tenant_id
        sent = None
        for person in policy.people.dsl:
            sent = await self._notifier.send_personal(person.aad_object_id, tenant, message.service_url, activity)
        return sent

    async def _to_trust_leads(self, message: Message, activity: Activity) -> Sent:
        """An escalation: the trust default policy's alert channel, if set, and each trust lead 1:1."""
        default = self._schools.default
        sent = []
        try:
            sent.append(await self._notifier.send_alert(AlertPurpose.slt, activity, default.school.id))
        except NoDestination:
            pass
        for lead in self._schools.leads:
            sent.append(await self._notifier.send_personal(lead.aad_object_id, default.school.tenant_id, message.service_url, activity))
        if not sent:
            raise NoDestination("the trust names no leads and its default policy has no alert channel")
        return sent[0]


def _needs_register(message: Message) -> bool:
    """Whether sending `message` reads who attended: a card composed now shows who was present,
    and the organizer's Teams ids (a warning, the record) come from their joins. A card composed
    when queued (the reminder) goes to the meeting chat by the lesson's conversation alone."""
    return not message.card or message.kind is MessageKind.teacher_warning or message.destination is Destination.organizer
