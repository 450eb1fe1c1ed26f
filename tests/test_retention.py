"""Personal data is kept only as long as the policy's retention periods."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from config.policy import Retention
from domain.events import MeetingEnded, MeetingRef, MeetingStarted, Participant, ParticipantsChanged
from domain.lesson import PersonClass
from store.db import create_engine, migrate
from store.lessons import LessonStore
from store.outbox import Outbox
from store.retention import purge
from store.tables import utcnow

from .helpers import T0, minutes, rows


async def lesson(store: LessonStore, meeting: str, start, *, end: bool = True) -> int:
    ref = MeetingRef(meeting_id=meeting, tenant_id="t")
    pupil = Participant(teams_user_id="29:p", aad_object_id="aad-p", name="Pupil", tenant_id="t", role="Attendee", in_meeting=True)
    row, _ = await store.record_start(MeetingStarted(meeting=ref, at=start), f"{meeting}-start")
    await store.record_participants(ParticipantsChanged(meeting=ref, at=start, joined=True, participants=(pupil,)), f"{meeting}-join", lambda p: PersonClass.pupil)
    if end:
        await store.record_end(MeetingEnded(meeting=ref, at=start + minutes(50)), f"{meeting}-end")
    return row.id


async def test_purge_deletes_only_what_is_past_its_retention(any_database_url):
    # A repository: on each database.
    engine = create_engine(any_database_url)
    await migrate(engine)
    try:
        store, outbox = LessonStore(engine), Outbox(engine)
        old = await lesson(store, "old", T0 - timedelta(days=500))
        still_running = await lesson(store, "running", T0 - timedelta(days=500), end=False)
        recent = await lesson(store, "recent", T0 - timedelta(days=3))
        await outbox.report_concern(lesson_id=recent, reporter_aad_id="aad-p", reporter_name="Pupil", text="worried", card={}, service_url=None)
        async with engine.begin() as conn:  # the lessons' updated_at is now; age the old ones
            await conn.execute(text("UPDATE lessons SET updated_at = :t WHERE id IN (:a, :b)"),
                               {"t": T0 - timedelta(days=500), "a": old, "b": still_running})
        counts = await purge(engine, Retention(lessons_days=400, concerns_days=90), T0)
        assert counts["lessons"] == 1 and counts["concerns"] == 0
        remaining = {l.meeting_id: l for l in await store.list_lessons()}
        assert set(remaining) == {"running", "recent"}  # an open lesson is never purged
        async with engine.connect() as conn:
            orphans = (await conn.execute(text("SELECT COUNT(*) FROM attendance WHERE lesson_id = :id"), {"id": old})).scalar_one()
        assert orphans == 0  # the attendance register went with its lesson

        # The concern was stored at the real time of this run: five days after that it is past a day's retention.
        counts = await purge(engine, Retention(concerns_days=1), utcnow() + timedelta(days=5))
        assert counts["concerns"] == 1 and await rows(engine, "concerns") == []
    finally:
        await engine.dispose()
