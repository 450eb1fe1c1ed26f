"""A lesson check's cards go out from the job that decided them (`Delivery.deliver_held`): the
message and its delivery job are queued already leased to that worker, which sends them the
moment the verdicts commit. These tests hold the two promises the job queue made before:
a card refused by the Bot Connector is sent again, in its destination's order, exactly once;
and a card whose worker stopped before sending it is sent by another instance once the lease
runs out, never twice."""

from __future__ import annotations

import asyncio

import pytest

from domain.messages import DeliveryStatus, Destination, MessageKind
from store.jobs import JobStore, Lease
from store.outbox import DELIVER, Outbox

from .helpers import MATHS, alert_posts, dev_env, eventually, lobby_off_lesson, rows, run_app

pytestmark = pytest.mark.e2e


async def test_a_start_s_cards_refused_once_by_the_meeting_chat_are_sent_again_in_order_and_once(database_url, connector, graph):
    async with run_app(dev_env(database_url, graph.base_url), connector.url) as app:
        # The meeting chat refuses the first card of the start (its reminder), once.
        connector.fail_next("POST", f"/v3/conversations/{MATHS.thread_id}/activities", 502)
        lesson = await lobby_off_lesson(app, connector, graph)

        async def all_sent():
            messages = await app.services.outbox.all(lesson.id)
            return messages if messages and all(m.status is DeliveryStatus.sent for m in messages) else None

        messages = await eventually(all_sent)
        by_kind = {m.kind: m for m in messages}
        assert set(by_kind) == {MessageKind.reminder, MessageKind.teacher_warning, MessageKind.slt_alert}
        # The refused reminder was tried twice; the warning queued behind it was not sent first.
        assert by_kind[MessageKind.reminder].attempts == 2
        in_chat = [c.body["summary"] for c in connector.requests("POST", f"/v3/conversations/{MATHS.thread_id}/activities")
                   if c.fault is None]  # the ones the meeting chat took
        assert in_chat == [by_kind[MessageKind.reminder].summary, by_kind[MessageKind.teacher_warning].summary]
        assert len(alert_posts(connector)) == 1  # SLT's alert did not wait for the meeting chat, nor go twice
        assert not [j for j in await rows(app.services.engine, "jobs") if j["kind"] == DELIVER]


async def test_a_held_card_whose_worker_stopped_is_claimed_by_another_instance_after_the_lease(any_database_url):
    async with run_app(dev_env(any_database_url), "http://127.0.0.1:9") as app:
        engine = app.services.engine
        await app.services.worker.stop()  # this process's worker: it must not pick the card up itself
        outbox, jobs = Outbox(engine), JobStore(engine)
        held = await outbox.queue(kind=MessageKind.slt_alert, destination=Destination.slt_channel, card={}, summary="held",
                                  lesson_id=None, service_url=None, lease=Lease(instance="stopped-worker", seconds=0.5))
        assert held.message.status is DeliveryStatus.pending and held.job.kind == DELIVER

        # While the stopped worker's lease runs, no other instance may take the card.
        assert await jobs.claim("other-instance", 10, 60) == []
        await asyncio.sleep(0.6)
        [claimed] = await jobs.claim("other-instance", 10, 60)
        assert claimed.id == held.job.id and claimed.payload == {"message_id": held.message.id}
        assert claimed.attempts == 2  # the stopped worker's try counts
