"""The outbox's writes, on each database: a card and its delivery job stored together (one
statement on PostgreSQL), and cards sent at about the same moment marked sent together."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from domain.events import MeetingRef, MeetingStarted
from domain.messages import DeliveryStatus, Destination, MessageKind
from store.jobs import JobStore, Lease
from store.lessons import LessonStore
from store.outbox import DELIVER, Outbox

from .helpers import T0, Statements, migrated


async def test_a_card_and_its_delivery_job_are_stored_together_and_a_duplicate_stores_neither(any_database_url):
    async with migrated(any_database_url) as engine:
        outbox, jobs = Outbox(engine), JobStore(engine)
        lesson, _ = await LessonStore(engine).record_start(MeetingStarted(meeting=MeetingRef(meeting_id="m-outbox"), at=T0), None)
        statements = Statements(engine)
        held = await outbox.queue(kind=MessageKind.slt_alert, destination=Destination.slt_channel, card={}, summary="alert",
                                  lesson_id=lesson.id, service_url=None, dedupe_key="alert:1", lease=Lease(instance="me", seconds=60))
        postgres = engine.dialect.name == "postgresql"
        # On PostgreSQL one statement stores both (no BEGIN, no COMMIT); SQLite's two go in one transaction.
        assert len(statements.starting("WITH") if postgres else statements.starting("INSERT")) == (1 if postgres else 2)
        assert held.job.kind == DELIVER and held.job.payload == {"message_id": held.message.id} and held.job.attempts == 1
        assert held.message.status is DeliveryStatus.pending and held.message.lesson_id == lesson.id
        again = await outbox.queue(kind=MessageKind.slt_alert, destination=Destination.slt_channel, card={}, summary="alert",
                                   lesson_id=lesson.id, service_url=None, dedupe_key="alert:1", lease=Lease(instance="me", seconds=60))
        assert again is None
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT COUNT(*) FROM messages"))).scalar_one() == 1
            assert (await conn.execute(text("SELECT COUNT(*) FROM jobs WHERE kind = 'deliver'"))).scalar_one() == 1
        # Queued without a lease: any worker's next claim takes it.
        plain = await outbox.queue(kind=MessageKind.reminder, destination=Destination.meeting, card={"k": 1}, summary="reminder",
                                   lesson_id=lesson.id, service_url=None)
        [claimed] = await jobs.claim("other", 5, 60)
        assert claimed.payload == {"message_id": plain}
        statements.close()


async def test_cards_sent_at_about_the_same_moment_are_marked_sent_by_one_statement(any_database_url):
    async with migrated(any_database_url) as engine:
        outbox = Outbox(engine)
        lesson, _ = await LessonStore(engine).record_start(MeetingStarted(meeting=MeetingRef(meeting_id="m-sent"), at=T0), None)
        ids = [await outbox.queue(kind=MessageKind.reminder, destination=Destination.meeting, card={"n": n}, summary="r",
                                  lesson_id=lesson.id, service_url=None) for n in range(6)]
        statements = Statements(engine)
        # Half sent as stored, half as composed now (an alert's card, kept as it went out).
        await asyncio.gather(*(outbox.sent(m, "19:chat", f"activity-{m}", card={"as": "sent"} if n % 2 else None)
                               for n, m in enumerate(ids)))
        assert len(statements.starting("UPDATE MESSAGES")) == 1
        statements.close()
        for n, m in enumerate(ids):
            message = await outbox.get(m)
            assert message.status is DeliveryStatus.sent and message.activity_id == f"activity-{m}" and message.attempts == 1
            assert message.card == ({"as": "sent"} if n % 2 else {"n": n})


async def test_placing_a_lesson_gives_its_school_to_the_cards_and_concerns_recorded_before(any_database_url):
    """A trust's lesson opens unplaced; its reminder, or a concern a pupil raised in its first
    minutes, is recorded without a school. Placing it gives them its school (on PostgreSQL in
    one statement), and leaves another lesson's and an already placed record alone."""
    from domain.placement import Placement, SchoolPlacement
    from store.tables import ConcernRow, utcnow

    async with migrated(any_database_url) as engine:
        lessons, outbox = LessonStore(engine), Outbox(engine)
        first, _ = await lessons.record_start(MeetingStarted(meeting=MeetingRef(meeting_id="m-placed"), at=T0), None)
        other, _ = await lessons.record_start(MeetingStarted(meeting=MeetingRef(meeting_id="m-other"), at=T0), None)
        ids = {}
        for lesson, name in ((first, "mine"), (other, "other")):
            ids[name] = await outbox.queue(kind=MessageKind.reminder, destination=Destination.meeting, card={}, summary="r",
                                           lesson_id=lesson.id, service_url=None)
        ids["kept"] = await outbox.queue(kind=MessageKind.reminder, destination=Destination.meeting, card={}, summary="r",
                                         lesson_id=first.id, service_url=None, school_id="school-b")
        async with engine.begin() as conn:
            for lesson_id in (first.id, other.id):
                await conn.execute(ConcernRow.__table__.insert().values(lesson_id=lesson_id, text="worried", created_at=utcnow()))
        statements = Statements(engine)
        placed = await lessons.set_placement(first.id, SchoolPlacement(school_id="school-a", placement=Placement.staff_group, reason="r"))
        assert placed.school_id == "school-a"
        updates = [s for s in statements.seen if "UPDATE MESSAGES" in s or "UPDATE CONCERNS" in s]
        assert len(updates) == (1 if engine.dialect.name == "postgresql" else 2), updates
        statements.close()
        async with engine.connect() as conn:
            messages = dict((await conn.execute(text("SELECT id, school_id FROM messages"))).all())
            concerns = dict((await conn.execute(text("SELECT lesson_id, school_id FROM concerns"))).all())
        assert messages == {ids["mine"]: "school-a", ids["other"]: None, ids["kept"]: "school-b"}
        assert concerns == {first.id: "school-a", other.id: None}
