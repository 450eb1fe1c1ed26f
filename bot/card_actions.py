"""Adaptive Card actions (Action.Execute): one table from verb to handler, who may do what,
and the card that comes back.

Only the SLT and DSL the alert's school's policy names (and, in a trust, the trust leads who
act) may act on its breach alerts; anyone else gets a clear refusal and nothing changes, and a
leader of another school (or a read-only trust lead) who tries is audited. An action names
the message it acts on (`alertId`, `warningId`): a missing or unknown id, or a message of the
wrong kind, is refused with a 4xx and nothing is written. Every action that changes a record
is audited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from http import HTTPStatus
from typing import Annotated

from botbuilder.core import InvokeResponse, TurnContext
from pydantic import BaseModel, Field, ValidationError

from cards import aup, reminder, slt_alert, teacher_warning
from cards.concern import concern_card
from config.policy import Person, Policy
from config.trust import Schools
from domain.events import Sender
from domain.lesson import Lesson
from domain.messages import AlertAction, Message, MessageKind
from jobs.worker import Worker
from outbound.activities import card_activity
from service.aup import AupSigning, Submission
from service.compose import CardComposer
from store.lessons import LessonStore
from store.outbox import Outbox
from store.register import ExceptionRegister
from store.tables import utcnow

from . import events, tenancy
from .conversations import thread_root
from .responses import card_response, error_response, message_response

log = logging.getLogger(__name__)

Handler = Callable[[TurnContext, Sender, dict], Awaitable[InvokeResponse]]
OPEN_AUP = "openAup"
NO_RECORD = "Chaperone has no record of that card (it may have passed its retention period). Nothing was changed."


def _in_conversation(turn_context: TurnContext, conversation_id: str | None) -> bool:
    conversation = turn_context.activity.conversation
    return bool(conversation_id) and thread_root(conversation.id or "") == conversation_id


class RefusedAction(Exception):
    """An action Chaperone will not carry out, and the words to answer with: an error with
    `status` for a card that names the wrong thing, or a plain message to a person who may
    not act."""

    def __init__(self, text: str, status: HTTPStatus | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


# Row ids are 32-bit on PostgreSQL: a larger number names nothing, and must not reach a query.
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class AlertData(BaseModel):
    alertId: RowId


class WarningData(BaseModel):
    warningId: RowId


class ConcernData(BaseModel):
    concern: str = ""
    lessonId: RowId | None = None


class CardActions:
    def __init__(
        self,
        *,
        outbox: Outbox,
        composer: CardComposer,
        lessons: LessonStore,
        exceptions: ExceptionRegister,
        signing: AupSigning,
        worker: Worker,
        schools: Schools,
    ) -> None:
        self._outbox = outbox
        self._composer = composer
        self._lessons = lessons
        self._exceptions = exceptions
        self._signing = signing
        self._worker = worker
        self._schools = schools
        self._verbs: dict[str, Handler] = {
            teacher_warning.TEACHER_VIEW: self._teacher_view,
            reminder.REPORT_CONCERN: self._report_concern,
            aup.SIGN: self._sign,
            OPEN_AUP: self._open_aup,
            slt_alert.ACKNOWLEDGE: self._acknowledge,
            slt_alert.RESOLVE: self._resolve,
            slt_alert.RECORD_EXCEPTION: self._record_exception,
        }

    async def handle(self, turn_context: TurnContext, verb: str, data: dict) -> InvokeResponse:
        handler = self._verbs.get(verb)
        if handler is None:
            return message_response(f"Chaperone has no action '{verb[:40]}'. Nothing was changed.")
        # Signing answers another tenant in its own words (service/aup.py); every other action
        # is refused here, before it reads or writes anything.
        if verb != aup.SIGN and not tenancy.from_school(turn_context.activity, self._schools.tenants):
            log.warning("card action %s refused: tenant %r is not the school's", verb, events.tenant_of(turn_context.activity))
            return message_response(tenancy.refusal(self._schools.name))
        try:
            return await handler(turn_context, events.sender_of(turn_context.activity), data)
        except RefusedAction as refused:
            if refused.status is None:
                return message_response(refused.text)
            log.info("card action %s refused (%s)", verb, refused.status.value)
            return error_response(refused.status, refused.text)

    # ---- reading what an action names -------------------------------------------------

    @staticmethod
    def _read(model: type[BaseModel], data: dict, what: str) -> BaseModel:
        try:
            return model.model_validate(data)
        except ValidationError:
            raise RefusedAction(f"This card's {what} is missing or not valid. Nothing was changed.", HTTPStatus.BAD_REQUEST) from None

    async def _message(self, message_id: int, kind: MessageKind) -> Message:
        message = await self._outbox.get(message_id)
        if message is None:
            raise RefusedAction(NO_RECORD, HTTPStatus.NOT_FOUND)
        if message.kind is not kind:
            raise RefusedAction("That action does not apply to this card. Nothing was changed.", HTTPStatus.BAD_REQUEST)
        if message.lesson_id is None:  # its lesson has passed its retention period
            raise RefusedAction(NO_RECORD, HTTPStatus.NOT_FOUND)
        return message

    def _leads_somewhere(self, sender: Sender) -> None:
        """Refuse, before anything is read, anyone who is no school's SLT or DSL nor a trust lead."""
        aad = sender.aad_object_id
        if aad and (self._schools.where_leader(aad) or self._schools.lead(aad)):
            return
        log.warning("alert action refused for %s", aad)
        raise RefusedAction("Only the senior leaders and the DSL named in the school's policy can act on breach alerts. Nothing was changed.")

    async def _leader_of(self, policy: Policy, sender: Sender, message: Message, verb: str) -> Person:
        """The acting leader for an alert of `policy`'s school: its SLT or DSL, or a trust lead
        who acts. A leader of another school, or a read-only trust lead, is refused and audited."""
        aad = sender.aad_object_id
        for person in policy.people.slt + policy.people.dsl:
            if aad and person.aad_object_id == aad:
                return person
        lead = self._schools.lead(aad)
        if lead is not None and lead.acts:
            return lead
        reason = "read-only trust lead" if lead is not None else "another school's leader"
        log.warning("alert action %s on message %s refused: %s", verb, message.id, reason)
        await self._outbox.refused(message.id, aad, sender.name, verb, reason)
        if lead is not None:
            raise RefusedAction("Your trust role lets you read the schools' records, not act on their alerts. Nothing was changed.")
        raise RefusedAction("This alert is another school's: only its own senior leaders and DSL can act on it. Nothing was changed.")

    # ---- the organizer's warning, concerns, the AUP ---------------------------------

    async def _teacher_view(self, turn_context: TurnContext, sender: Sender, data: dict) -> InvokeResponse:
        warning = self._read(WarningData, data, "warning reference")
        message = await self._message(warning.warningId, MessageKind.teacher_warning)
        lesson = await self._lessons.get(message.lesson_id, with_attendance=False)
        if not _in_conversation(turn_context, lesson.conversation_id):
            # The warning was posted in its lesson's meeting chat, and only there can its card be
            # pressed: from anywhere else the id was guessed, so answer as for an unknown card.
            log.info("teacherView of message %s refused: asked from another conversation", message.id)
            raise RefusedAction(NO_RECORD, HTTPStatus.NOT_FOUND)
        if not sender.aad_object_id or sender.aad_object_id != lesson.organizer_aad_id:
            return card_response(await self._composer.card_for(message))  # everyone but the organizer sees the neutral card
        return card_response(await self._composer.organizer_view(message))

    async def _report_concern(self, turn_context: TurnContext, sender: Sender, data: dict) -> InvokeResponse:
        report = self._read(ConcernData, data, "concern form")
        text = report.concern.strip()
        if not text:
            return message_response("Please say what happened before sending.")
        lesson = None
        if report.lessonId is not None:
            lesson = await self._lessons.find(report.lessonId)
            if lesson is not None and not _in_conversation(turn_context, lesson.conversation_id):
                # A concern is never refused, but it is filed under a lesson only when it was
                # raised from that lesson's chat: a guessed id must not mislead the DSL.
                log.info("concern names lesson %s from another conversation; filed without it", lesson.id)
                lesson = None
        policy = self._concern_school(lesson, sender)
        card = concern_card(policy, lesson, sender.name, text[:2000], utcnow(), in_trust=self._schools.is_trust)
        await self._outbox.report_concern(
            lesson_id=lesson.id if lesson else None, reporter_aad_id=sender.aad_object_id, reporter_name=sender.name,
            text=text[:2000], card=card, service_url=turn_context.activity.service_url, school_id=policy.school.id,
        )
        self._worker.wake()
        return card_response(reminder.concern_received())

    def _concern_school(self, lesson: Lesson | None, sender: Sender) -> Policy:
        """Whose DSL hears a concern: the lesson's school; without a lesson, the reporter's
        school when exactly one names them, else the trust default policy's (its lead)."""
        if lesson is not None:
            return self._schools.get(lesson.school_id)
        named = [p for p in self._schools if p.people.is_slt(sender.aad_object_id) or p.people.is_dsl(sender.aad_object_id)]
        return named[0] if len(named) == 1 else self._schools.default

    async def _sign(self, turn_context: TurnContext, sender: Sender, data: dict) -> InvokeResponse:
        if not self._signing.offered:
            return message_response("This school has not set up AUP signing.")
        return card_response(await self._signing.sign(sender, Submission.model_validate(data)))

    async def _open_aup(self, turn_context: TurnContext, sender: Sender, data: dict) -> InvokeResponse:
        school = data.get("school")  # a trust's card names whose AUP to open
        card = await self._signing.signing_card(sender, school_id=school if isinstance(school, str) else None)
        return card_response(card) if card else message_response("This school has not set up AUP signing.")

    # ---- breach alerts: SLT and the DSL only ------------------------------------------

    async def _acknowledge(self, turn_context: TurnContext, sender: Sender, data: dict) -> InvokeResponse:
        leader, message, _, _ = await self._alert(sender, data, slt_alert.ACKNOWLEDGE)
        await self._outbox.act(message.id, leader.aad_object_id, leader.name, AlertAction.acknowledge,
                                       acknowledged_by=leader.name, acknowledged_at=utcnow())
        return await self._refreshed(turn_context, message)

    async def _resolve(self, turn_context: TurnContext, sender: Sender, data: dict) -> InvokeResponse:
        leader, message, _, _ = await self._alert(sender, data, slt_alert.RESOLVE)
        await self._outbox.act(message.id, leader.aad_object_id, leader.name, AlertAction.resolve,
                                       resolved_by=leader.name, resolved_at=utcnow())
        return await self._refreshed(turn_context, message)

    async def _record_exception(self, turn_context: TurnContext, sender: Sender, data: dict) -> InvokeResponse:
        leader, message, lesson, policy = await self._alert(sender, data, slt_alert.RECORD_EXCEPTION)
        reason = str(data.get("reason") or "").strip()
        if not reason:
            return message_response("Give the reason the exception was approved. Nothing was recorded.")
        try:
            last_day = date.fromisoformat(str(data.get("expires") or ""))
        except ValueError:
            return message_response("Choose the last day the exception applies. Nothing was recorded.")
        today = datetime.now(policy.school.zone).date()
        if last_day < today:
            return message_response("That date has passed: choose the last day the exception should apply. Nothing was recorded.")
        if last_day >= date.max:  # the day after it is when the exception ends, and must exist
            return message_response("Choose an earlier last day for the exception. Nothing was recorded.")
        findings = await self._composer.findings_of(message)
        if not findings:
            return message_response("This alert's findings are no longer held, so there is nothing to record an exception for.")
        # The school's own policy says who may approve (a trust lead who acts may acknowledge
        # and resolve, but approves an exception only where that school's policy names them).
        refusals = [r for f in findings if (r := policy.approval_refused(leader.aad_object_id, f.rule_id))]
        if refusals:
            return message_response(f"{refusals[0][0].upper()}{refusals[0][1:]}. Nothing was recorded.")
        expires = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=policy.school.zone)
        recorded = None
        for finding in findings:
            recorded = await self._exceptions.approve(
                rule_id=finding.rule_id, meeting_id=lesson.meeting_id, reason=reason, approver_id=leader.aad_object_id,
                approver_name=leader.name, expires_at=expires, school_id=policy.school.id,
            )
        await self._outbox.act(message.id, leader.aad_object_id, leader.name, AlertAction.exception,
                                       exception_id=recorded.id, exception_by=leader.name)
        return await self._refreshed(turn_context, message)

    async def _alert(self, sender: Sender, data: dict, verb: str) -> tuple[Person, Message, Lesson, Policy]:
        """The alert an action names, its lesson and school, and the leader acting on it."""
        self._leads_somewhere(sender)
        alert = self._read(AlertData, data, "alert reference")
        message = await self._message(alert.alertId, MessageKind.slt_alert)
        lesson = await self._lessons.get(message.lesson_id, with_attendance=False)
        policy = self._schools.get(lesson.school_id)
        return await self._leader_of(policy, sender, message, verb), message, lesson, policy

    async def _refreshed(self, turn_context: TurnContext, message: Message) -> InvokeResponse:
        card = await self._composer.compose(message)
        await self._outbox.set_card(message.id, card)
        if message.conversation_id and turn_context.activity.conversation.id != message.conversation_id:
            # Pressed elsewhere (a trust lead's escalation card): the school's own post is
            # updated by the worker, where it was posted.
            await self._outbox.queue_refresh(message.id)
            self._worker.wake()
            await self._refresh_for_everyone(turn_context, turn_context.activity.reply_to_id, card, message.summary)
            return card_response(card)
        await self._refresh_for_everyone(turn_context, message.activity_id, card, message.summary)
        return card_response(card)

    async def _refresh_for_everyone(self, turn_context: TurnContext, activity_id: str | None, card: dict, summary: str) -> None:
        # The invoke response updates the card for the person who acted; others see the
        # update when the message itself is replaced.
        target = turn_context.activity.reply_to_id or activity_id
        if not target:
            return
        update = card_activity(card, summary)
        update.id = target
        try:
            await turn_context.update_activity(update)
        except Exception as exc:  # noqa: BLE001 - the action is recorded; a stale card for others is not fatal
            log.warning("could not refresh the alert card for everyone: %s", exc)
