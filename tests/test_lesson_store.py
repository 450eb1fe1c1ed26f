"""The lesson register under concurrency: two instances (two engines) racing on one
database must still produce one lesson and one interval per person."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker

from domain.events import MeetingRef, Participant, ParticipantsChanged
from domain.lesson import PersonClass
from store.db import create_engine, migrate
from store.lessons import LessonStore
from store.tables import LessonRow

from .helpers import T0, minutes


def person(n: int) -> Participant:
    return Participant(teams_user_id=f"29:p{n}", aad_object_id=f"aad-{n}", name=f"Pupil {n}", tenant_id="t", role="Attendee", in_meeting=True)


async def test_two_instances_racing_on_one_meeting_open_one_lesson(any_database_url):
    # On each database: the migration lock and the row locks are the database's own.
    first, second = create_engine(any_database_url), create_engine(any_database_url)
    await asyncio.gather(migrate(first), migrate(second))  # both start at once: the lock serialises them
    stores = [LessonStore(first), LessonStore(second)]
    ref = MeetingRef(meeting_id="race-meeting", tenant_id="t")
    try:
        joins = [
            stores[n % 2].record_participants(
                ParticipantsChanged(meeting=ref, at=T0 + minutes(n / 60), joined=True, participants=(person(n),)),
                f"join-{n}",
                lambda p: PersonClass.pupil,
            )
            for n in range(30)
        ]
        # The same activity delivered to both instances at once is applied once.
        joins += [
            store.record_participants(
                ParticipantsChanged(meeting=ref, at=T0, joined=True, participants=(person(0),)), "join-0", lambda p: PersonClass.pupil
            )
            for store in stores
        ]
        await asyncio.gather(*joins)
        [lesson] = await stores[0].list_lessons("race-meeting")
        assert sorted(a.person_id for a in lesson.attendance) == sorted(f"aad-{n}" for n in range(30))
        assert lesson.start_event_missing
    finally:
        await first.dispose()
        await second.dispose()


async def test_reading_the_organizers_name_for_an_alert_holds_off_a_join_naming_them(any_database_url):
    # An SLT alert decided without the organizer's name reads it again, share-locked, in the
    # transaction that queues the alert: a join naming them meanwhile either committed first
    # (and is read) or waits for the alert to be committed (and then finds it to update).
    if any_database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: the alert's transaction and the join's never overlap")
    first, second = create_engine(any_database_url), create_engine(any_database_url)
    await migrate(first)
    store = LessonStore(first)
    ref = MeetingRef(meeting_id="naming-meeting", tenant_id="t")
    try:
        await store.record_participants(ParticipantsChanged(meeting=ref, at=T0, joined=True, participants=(person(1),)), "join-1",
                                        lambda p: PersonClass.pupil)
        [lesson] = await store.list_lessons("naming-meeting")

        async def name_them() -> None:
            async with second.begin() as conn:
                await conn.execute(update(LessonRow).where(LessonRow.id == lesson.id).values(organizer_name="Ms Amara Okafor"))

        async with async_sessionmaker(first)() as session, session.begin():
            assert await LessonStore.organizer_name_now(session, lesson.id) is None
            naming = asyncio.create_task(name_them())
            done, _ = await asyncio.wait([naming], timeout=0.5)
            assert not done, "the join named the organizer while the alert's transaction was open"
        await asyncio.wait_for(naming, 5)
        async with async_sessionmaker(first)() as session, session.begin():
            assert await LessonStore.organizer_name_now(session, lesson.id) == "Ms Amara Okafor"
    finally:
        await first.dispose()
        await second.dispose()
