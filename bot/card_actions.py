"""Adaptive Card actions (Action.Execute): who may do what, and the card that comes back.

Only the SLT and DSL the policy names may act on breach alerts; anyone else gets a clear
refusal and nothing changes. Every action that changes a record is audited.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from botbuilder.core import TurnContext

from cards import aup, reminder, slt_alert, teacher_warning
from cards.common import CONTENT_TYPE
from cards.concern import concern_card
from config.policy import Person, Policy
from store.lessons import LessonStore
from store.outbox import Outbox
from store.register import ExceptionRegister
from store.tables import utcnow

from .alerts import Alerts, card_activity
from .aup import AupSigning

log = logging.getLogger(__name__)

MESSAGE = "application/vnd.microsoft.activity.message"


def card_response(card: dict) -> dict:
    return {"statusCode": 200, "type": CONTENT_TYPE, "value": card}


def message_response(text: str) -> dict:
    return {"statusCode": 200, "type": MESSAGE, "value": text}


class CardActions:
    def __init__(
        self,
        outbox: Outbox,
        alerts: Alerts,
        lessons: LessonStore,
        exceptions: ExceptionRegister,
        signing: AupSigning,
        policy: Policy,
    ) -> None:
        self._signing = signing
        self._outbox = outbox
        self._alerts = alerts
        self._lessons = lessons
        self._exceptions = exceptions
        self._policy = policy

    def _leader(self, aad_id: str | None) -> Person | None:
        for person in self._policy.people.slt + self._policy.people.dsl:
            if aad_id and person.aad_object_id == aad_id:
                return person
        return None

    async def handle(self, turn_context: TurnContext, verb: str, data: dict) -> dict:
        sender = turn_context.activity.from_property
        aad_id = getattr(sender, "aad_object_id", None)
        if verb == teacher_warning.TEACHER_VIEW:
            return await self._teacher_view(aad_id, data)
        if verb == reminder.REPORT_CONCERN:
            return await self._report_concern(turn_context, data)
        if verb == aup.SIGN:
            return await self._signing.sign(turn_context, data)
        if verb == "openAup":
            card = await self._signing.signing_card(turn_context)
            return card_response(card) if card else message_response("This school has not set up AUP signing.")
        if verb in (slt_alert.ACKNOWLEDGE, slt_alert.RESOLVE, slt_alert.RECORD_EXCEPTION):
            leader = self._leader(aad_id)
            if leader is None:
                log.warning("card action %s refused for %s", verb, aad_id)
                return message_response("Only the senior leaders and the DSL named in the school's policy can act on breach alerts. Nothing was changed.")
            return await self._alert_action(turn_context, leader, verb, data)
        return message_response(f"Chaperone has no action '{verb[:40]}'. Nothing was changed.")

    async def _teacher_view(self, aad_id: str | None, data: dict) -> dict:
        message = await self._outbox.get(int(data["warningId"]))
        lesson = await self._lessons.get(message.lesson_id, with_attendance=False)
        neutral = message.card or await self._alerts.card_for(message)
        if not aad_id or aad_id != lesson.organizer_aad_id:
            return card_response(neutral)  # everyone but the organizer sees the neutral card
        return card_response(teacher_warning.warning_card(lesson.title, await self._alerts.findings_of(message)))

    async def _report_concern(self, turn_context: TurnContext, data: dict) -> dict:
        text = str(data.get("concern") or "").strip()
        if not text:
            return message_response("Please say what happened before sending.")
        sender = turn_context.activity.from_property
        lesson_id = data.get("lessonId")
        lesson = await self._lessons.get(int(lesson_id), with_attendance=False) if lesson_id else None
        card = concern_card(self._policy, lesson, getattr(sender, "name", None), text[:2000], utcnow())
        await self._outbox.report_concern(
            lesson_id=lesson.id if lesson else None, reporter_aad_id=getattr(sender, "aad_object_id", None),
            reporter_name=getattr(sender, "name", None), text=text[:2000], card=card, service_url=turn_context.activity.service_url,
        )
        self._alerts.wake()
        return card_response(reminder.concern_received())

    async def _alert_action(self, turn_context: TurnContext, leader: Person, verb: str, data: dict) -> dict:
        message = await self._outbox.get(int(data["alertId"]))
        now = utcnow()
        if verb == slt_alert.ACKNOWLEDGE:
            message = await self._outbox.act(message.id, leader.aad_object_id, leader.name, "acknowledge", acknowledged_by=leader.name, acknowledged_at=now)
        elif verb == slt_alert.RESOLVE:
            message = await self._outbox.act(message.id, leader.aad_object_id, leader.name, "resolve", resolved_by=leader.name, resolved_at=now)
        else:
            refusal = await self._record_exception(message, leader, data)
            if isinstance(refusal, str):
                return message_response(refusal)
            message = refusal
        card = await self._alerts.card_for(message.model_copy(update={"card": {}}))
        await self._outbox.set_card(message.id, card)
        await self._refresh_for_everyone(turn_context, message.activity_id, card, message.summary)
        return card_response(card)

    async def _record_exception(self, message, leader: Person, data: dict):
        reason = str(data.get("reason") or "").strip()
        if not reason:
            return "Give the reason the exception was approved. Nothing was recorded."
        try:
            last_day = date.fromisoformat(str(data.get("expires") or ""))
        except ValueError:
            return "Choose the last day the exception applies. Nothing was recorded."
        if last_day < datetime.now(self._policy.school.zone).date():
            return "That date has passed: choose the last day the exception should apply. Nothing was recorded."
        lesson = await self._lessons.get(message.lesson_id, with_attendance=False)
        expires = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=self._policy.school.zone)
        recorded = None
        for finding in await self._alerts.findings_of(message):
            recorded = await self._exceptions.approve(
                rule_id=finding.rule_id, meeting_id=lesson.meeting_id, reason=reason, approver_id=leader.aad_object_id,
                approver_name=leader.name, expires_at=expires,
            )
        return await self._outbox.act(message.id, leader.aad_object_id, leader.name, "exception", exception_id=recorded.id, exception_by=leader.name)

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

