"""The outbox: cards Chaperone must deliver, and what SLT did with the alerts.

A message and the job that delivers it are written in one transaction, so a card decided
on is a card sent (or, if it cannot be, a card on the undelivered list), even across restarts.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import JSON, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.messages import (
    AlertAction, AlertState, DeliveryStatus, Destination, Message, MessageKind, OperatorOutcome, RaisedFinding,
)

from .jobs import Job, JobSpec, Lease, Priority, add_held_job, add_job, add_job_for_row, add_jobs
from .db import Together, insert_for, one_statement, read_sessions
from .register import audit
from .tables import AlertStateRow, ConcernRow, MessageRow, utcnow

DELIVER = "deliver"
REFRESH = "refresh-card"  # a sent card whose content changed: updated where it was posted

# A sent card (with `card`: the card it went out as, when it was composed as it was sent).
_MESSAGES = MessageRow.__table__
# A sent card: `card` is the card it went out as, when it was composed now (NULL keeps the stored one).
_SENT = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("message_id"))
         .values(status=DeliveryStatus.sent.value, sent_at=bindparam("sent_at"), conversation_id=bindparam("conversation_id"),
                 activity_id=bindparam("activity_id"), attempts=_MESSAGES.c.attempts + 1, last_error=None,
                 card=func.coalesce(bindparam("card", type_=JSON(none_as_null=True)), _MESSAGES.c.card)))
# A sent card waits this long for others to be marked sent with it, in one statement.
SENT_WINDOW_SECONDS = 0.003
SENT_AT_MOST = 100


def _lane(lesson_id: int | None, destination: str) -> str | None:
    """A lesson's cards to one destination go out one at a time, in the order queued (the
    reminder before the warning in the meeting chat); to different destinations at once, so
    SLT's alert never waits for the meeting chat. A card's refresh waits for its sending."""
    return f"outbox:{lesson_id}:{destination}" if lesson_id is not None else None


class Held(BaseModel):
    """A card queued with its delivery job already leased to the worker that queued it, which
    sends it as soon as the transaction that decided it commits."""

    message: Message
    job: Job


def delivery_job(message_id: int | None, lesson_id: int | None, destination: str) -> JobSpec:
    """A card's delivery (`message_id` None: named by the statement that stores the card)."""
    return JobSpec(kind=DELIVER, priority=Priority.alert, dedupe=False, lane=_lane(lesson_id, destination),
                   payload={"message_id": message_id} if message_id is not None else {})


def refresh_job(message_id: int, lesson_id: int | None, destination: str) -> JobSpec:
    """A sent card updated where it was posted, after its sending (in its lane)."""
    return JobSpec(kind=REFRESH, priority=Priority.alert, key=str(message_id), lane=_lane(lesson_id, destination),
                   payload={"message_id": message_id})


async def alert_refreshes(session: AsyncSession, lesson_id: int) -> list[tuple[JobSpec, int]]:
    """A refresh of each of the lesson's SLT alerts, for the caller to queue in `session`: what
    an alert shows of its lesson (the organizer's name) became known after it was composed."""
    stmt = select(_MESSAGES.c.id, _MESSAGES.c.destination).where(
        _MESSAGES.c.lesson_id == lesson_id, _MESSAGES.c.kind == MessageKind.slt_alert.value)
    return [(refresh_job(message_id, lesson_id, destination), lesson_id) for message_id, destination in await session.execute(stmt)]


class Outbox:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._reads = read_sessions(engine)
        self._sent = Together(self._mark_sent, SENT_WINDOW_SECONDS, SENT_AT_MOST)

    async def _queue(self, session: AsyncSession, lease: Lease | None = None, **values) -> Held | int | None:
        """The new message's id (with `lease`: the message and its delivery job, held by the
        worker that delivers it at once); None when one with its dedupe key exists (or is being
        queued by a transaction that commits first). No read before it; on PostgreSQL the
        message and its delivery job are one statement."""
        values.update(status=DeliveryStatus.pending.value, attempts=0, created_at=utcnow())
        table = MessageRow.__table__
        stmt = insert_for(session)(table).values(**values)
        if values.get("dedupe_key"):
            stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
        stmt = stmt.returning(table.c.id)
        lesson_id, destination = values["lesson_id"], values["destination"]
        if session.bind.dialect.name == "postgresql":
            queued = await add_job_for_row(session, stmt, delivery_job(None, lesson_id, destination), lesson_id, lease, "message_id")
            if queued is None:
                return None
            message_id, held = queued
        else:
            message_id = (await session.execute(stmt)).scalar_one_or_none()
            if message_id is None:
                return None
            job = delivery_job(message_id, lesson_id, destination)
            held = await add_held_job(session, job, lesson_id, lease) if lease else await add_job(session, job, lesson_id)
        if lease is None:
            return message_id
        unsent = dict(id=message_id, last_error=None, conversation_id=None, activity_id=None, sent_at=None)
        return Held(message=Message.model_validate(values | unsent), job=held)

    async def queue(
        self,
        *,
        kind: MessageKind,
        destination: Destination,
        card: dict,
        summary: str,
        lesson_id: int | None,
        service_url: str | None,
        dedupe_key: str | None = None,
        finding_ids: list[int] | None = None,
        raised: list[RaisedFinding] | None = None,
        school_id: str | None = None,
        session: AsyncSession | None = None,
        lease: Lease | None = None,
    ) -> Held | int | None:
        """Queue a card for delivery: its id; None when one with the same dedupe key exists
        already (queued before, or by another instance's transaction at the same moment).
        `school_id`: the school whose record it is, whose channel or DSL it goes to.
        `session`: the caller's transaction (the verdicts that raise the card): both are
        stored, or neither. `lease`: the caller's worker delivers it the moment that
        transaction commits (`Delivery.deliver_held`): the message and its job, held."""
        values = dict(kind=kind.value, destination=destination.value, card=card, summary=summary, lesson_id=lesson_id,
                      service_url=service_url, dedupe_key=dedupe_key, finding_ids=finding_ids or [],
                      raised=[r.model_dump(mode="json") for r in raised] if raised is not None else None, school_id=school_id)
        if session is not None:
            return await self._queue(session, lease, **values)
        async with one_statement(self._reads) as own:  # on PostgreSQL one statement: no BEGIN, no COMMIT
            return await self._queue(own, lease, **values)

    async def queue_reply(self, *, reference: dict, activity: dict, service_url: str | None) -> int:
        """Keep a reply that could not be sent in its turn, to be sent by the worker. The card
        column holds the conversation reference and the activity itself (text or card)."""
        async with self._sessions() as session, session.begin():
            return await self._queue(
                session, kind=MessageKind.reply.value, destination=Destination.conversation.value,
                card={"reference": reference, "activity": activity}, summary="a reply Chaperone could not send at once",
                lesson_id=None, service_url=service_url, dedupe_key=None, finding_ids=[],
            )

    async def report_concern(
        self, *, lesson_id: int | None, reporter_aad_id: str | None, reporter_name: str | None, text: str, card: dict, service_url: str | None,
        school_id: str | None = None,
    ) -> int:
        """Store a concern and queue it to its school's DSL, together."""
        async with self._sessions() as session, session.begin():
            message_id = await self._queue(
                session, kind=MessageKind.concern.value, destination=Destination.dsl.value, card=card,
                summary=f"Concern reported by {reporter_name or 'a participant'}",
                lesson_id=lesson_id, service_url=service_url, dedupe_key=None, finding_ids=[], school_id=school_id,
            )
            concern = ConcernRow(lesson_id=lesson_id, reporter_aad_id=reporter_aad_id, reporter_name=reporter_name, text=text,
                                 created_at=utcnow(), message_id=message_id, school_id=school_id)
            session.add(concern)
            await session.flush()
            return concern.id

    async def get(self, message_id: int) -> Message | None:
        async with self._reads() as session:
            row = await session.get(MessageRow, message_id)
            return Message.model_validate(row) if row else None

    async def set_card(self, message_id: int, card: dict) -> None:
        async with self._sessions() as session, session.begin():
            (await session.get(MessageRow, message_id, with_for_update=True)).card = card

    async def sent(self, message_id: int, conversation_id: str | None, activity_id: str | None, *, card: dict | None = None) -> None:
        """The message went out (with `card`: the card it went out as). Returns once that is
        stored, with the cards sent within a few milliseconds of it: three in every lesson start."""
        await self._sent.add(dict(message_id=message_id, sent_at=utcnow(), conversation_id=conversation_id, activity_id=activity_id,
                                  card=card))

    async def _mark_sent(self, sent: list[dict]) -> None:
        async with one_statement(self._reads) as session:
            await session.execute(_SENT, sent)

    async def drain(self) -> None:
        """The cards sent but not yet marked so, marked now (at shutdown)."""
        await self._sent.drain()

    async def attempt_failed(self, message_id: int, error: str, *, final: bool) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(MessageRow, message_id, with_for_update=True)
            row.attempts += 1
            row.last_error = error[:2000]
            if final:
                row.status = DeliveryStatus.failed.value

    async def alert_state(self, alert_id: int) -> AlertState:
        async with self._reads() as session:
            row = await session.get(AlertStateRow, alert_id)
            return AlertState.model_validate(row) if row else AlertState(alert_id=alert_id)

    async def act(self, alert_id: int, actor_id: str, actor_name: str | None, action: AlertAction, **values) -> AlertState:
        """Record what SLT or the DSL did with an alert, and audit it."""
        async with self._sessions() as session, session.begin():
            row = await session.get(AlertStateRow, alert_id, with_for_update=True)
            if row is None:
                row = AlertStateRow(alert_id=alert_id)
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            message = await session.get(MessageRow, alert_id)
            audit(session, actor_id, f"alert.{action.value}", f"message:{alert_id}", {"lesson": message.lesson_id}, actor_name,
                  school_id=message.school_id)
            await session.flush()
            return AlertState.model_validate(row)

    async def refused(self, alert_id: int, actor_id: str | None, actor_name: str | None, verb: str, reason: str) -> None:
        """Audit an action on an alert refused to someone who leads elsewhere (another school,
        or a read-only trust lead): the school whose alert it was sees who tried."""
        async with self._sessions() as session, session.begin():
            message = await session.get(MessageRow, alert_id)
            audit(session, actor_id or "unknown", "alert.refused", f"message:{alert_id}",
                  {"verb": verb[:40], "reason": reason, "lesson": message.lesson_id if message else None}, actor_name,
                  school_id=message.school_id if message else None)

    async def unacted_alerts(self, *, sent_between: tuple[datetime, datetime], excluding_school: str) -> list[Message]:
        """SLT alerts of a school (not `excluding_school`) that nobody acknowledged, resolved or
        recorded an exception for, and Chaperone has not cleared: those sent in the window, and
        those raised in it that could not be delivered at all (no channel set, say)."""
        since, until = sent_between
        sent = and_(MessageRow.status == DeliveryStatus.sent.value, MessageRow.sent_at >= since, MessageRow.sent_at <= until)
        failed = and_(MessageRow.status == DeliveryStatus.failed.value, MessageRow.created_at >= since, MessageRow.created_at <= until)
        async with self._sessions() as session:
            stmt = (
                select(MessageRow)
                .outerjoin(AlertStateRow, AlertStateRow.alert_id == MessageRow.id)
                .where(MessageRow.kind == MessageKind.slt_alert.value, or_(sent, failed),
                       MessageRow.school_id.is_not(None), MessageRow.school_id != excluding_school,
                       AlertStateRow.acknowledged_at.is_(None), AlertStateRow.resolved_at.is_(None),
                       AlertStateRow.exception_id.is_(None), AlertStateRow.cleared_at.is_(None))
                .order_by(MessageRow.id)
            )
            return [Message.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def queued_keys(self, keys: list[str]) -> set[str]:
        """Which of these dedupe keys a message holds already."""
        if not keys:
            return set()
        async with self._sessions() as session:
            stmt = select(MessageRow.dedupe_key).where(MessageRow.dedupe_key.in_(keys))
            return set((await session.execute(stmt)).scalars())

    async def queue_refresh(self, message_id: int) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(MessageRow, message_id)
            await add_job(session, refresh_job(message_id, row.lesson_id, row.destination), row.lesson_id)

    @staticmethod
    async def refresh_alerts(session: AsyncSession, lesson_id: int) -> None:
        """Each of the lesson's SLT alerts (the one queued in `session` too) updated after its
        sending, queued in `session`."""
        await add_jobs(session, await alert_refreshes(session, lesson_id))

    async def open_alerts(self, lesson_id: int) -> list[Message]:
        """The lesson's SLT alerts nobody has resolved and Chaperone has not cleared."""
        async with self._sessions() as session:
            stmt = (
                select(MessageRow)
                .outerjoin(AlertStateRow, AlertStateRow.alert_id == MessageRow.id)
                .where(MessageRow.lesson_id == lesson_id, MessageRow.kind == MessageKind.slt_alert.value,
                       AlertStateRow.resolved_at.is_(None), AlertStateRow.cleared_at.is_(None))
                .order_by(MessageRow.id)
            )
            return [Message.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def undelivered(self) -> list[Message]:
        """Cards not delivered yet (pending) or given up on (failed); not those an operator dismissed."""
        async with self._sessions() as session:
            stmt = (select(MessageRow)
                    .where(MessageRow.status.in_([DeliveryStatus.pending.value, DeliveryStatus.failed.value]))
                    .order_by(MessageRow.id))
            return [Message.model_validate(r) for r in (await session.execute(stmt)).scalars()]

    async def retry(self, message_id: int, operator: str) -> OperatorOutcome:
        """Deliver a card that failed for good once more (a new delivery job, attempts from
        zero), audited; any instance's worker picks the job up."""
        async with self._sessions() as session, session.begin():
            row = await session.get(MessageRow, message_id, with_for_update=True)
            refusal = _not_failed(row)
            if refusal is not None:
                return refusal
            row.status = DeliveryStatus.pending.value
            await add_job(session, delivery_job(row.id, row.lesson_id, row.destination), row.lesson_id)
            audit(session, operator, "message.retry", f"message:{row.id}", {"kind": row.kind, "attempts": row.attempts})
            return OperatorOutcome.done

    async def failed_ids(self) -> list[int]:
        async with self._sessions() as session:
            stmt = select(MessageRow.id).where(MessageRow.status == DeliveryStatus.failed.value).order_by(MessageRow.id)
            return list((await session.execute(stmt)).scalars())

    async def dismiss(self, message_id: int, reason: str, operator: str) -> OperatorOutcome:
        """Give up on an undelivered card on purpose, with the reason, audited. It stays in the
        outbox for the record; /healthz no longer counts it."""
        async with self._sessions() as session, session.begin():
            row = await session.get(MessageRow, message_id, with_for_update=True)
            if row is None:
                return OperatorOutcome.unknown
            if row.status == DeliveryStatus.sent.value:
                return OperatorOutcome.already_sent
            if row.status == DeliveryStatus.dismissed.value:
                return OperatorOutcome.already_dismissed
            row.status = DeliveryStatus.dismissed.value
            # The reason is the operator's words: kept in the audit log, never written to the service log.
            audit(session, operator, "message.dismiss", f"message:{row.id}", {"kind": row.kind, "reason": reason})
            return OperatorOutcome.done

    async def all(self, lesson_id: int | None = None) -> list[Message]:
        async with self._sessions() as session:
            stmt = select(MessageRow).order_by(MessageRow.id)
            if lesson_id is not None:
                stmt = stmt.where(MessageRow.lesson_id == lesson_id)
            return [Message.model_validate(r) for r in (await session.execute(stmt)).scalars()]


def _not_failed(row: MessageRow | None) -> OperatorOutcome | None:
    """Why a card cannot be retried, or None when it failed for good and can be."""
    if row is None:
        return OperatorOutcome.unknown
    return {
        DeliveryStatus.sent.value: OperatorOutcome.already_sent,
        DeliveryStatus.dismissed.value: OperatorOutcome.already_dismissed,
        DeliveryStatus.pending.value: OperatorOutcome.still_trying,
    }.get(row.status)
