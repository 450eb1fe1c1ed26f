"""The lesson register under concurrency: two instances (two engines) racing on one
database must still produce one lesson and one interval per person."""

from __future__ import annotations

import asyncio

from domain.events import MeetingRef, Participant, ParticipantsChanged
from domain.lesson import PersonClass
from store.db import create_engine, migrate
from store.lessons import LessonStore

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
