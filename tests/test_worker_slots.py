"""The worker's slots (issue 14): urgent work first; while it is under way the bulk keeps to
one slot, and with none under way the bulk may use them all."""

from __future__ import annotations

import asyncio

from domain.events import MeetingRef, MeetingStarted
from jobs.worker import Worker
from store.db import create_engine, migrate
from store.jobs import JobSpec, JobStore, Priority
from store.lessons import LessonStore

from .helpers import T0


async def test_bulk_work_keeps_to_one_slot_while_urgent_work_runs(sqlite_url):
    engine = create_engine(sqlite_url)
    await migrate(engine)
    jobs = JobStore(engine)
    store = LessonStore(engine)
    worker = Worker(jobs, concurrency=16)
    release = asyncio.Event()
    started: list[str] = []

    async def hold(job) -> None:
        started.append(job.kind)
        await release.wait()

    worker.handle("roster-changed", hold)
    worker.handle("lesson-started", hold)
    try:
        lessons = [(await store.record_start(MeetingStarted(meeting=MeetingRef(meeting_id=f"m-{n}"), at=T0), None))[0].id
                   for n in range(30)]
        for lesson in lessons[:20]:
            await jobs.enqueue(JobSpec(kind="roster-changed", priority=Priority.roster), lesson)
        await jobs.enqueue(JobSpec(kind="lesson-started", priority=Priority.lesson), lessons[20])
        await worker.run_due()
        await asyncio.sleep(0)
        assert sorted(started) == ["lesson-started", "roster-changed"]
        # Nothing urgent any more: the bulk may take every free slot.
        release.set()
        while worker._running:
            await asyncio.sleep(0.01)
        release.clear()
        started.clear()
        await worker.run_due()
        await asyncio.sleep(0)
        assert started == ["roster-changed"] * 16
    finally:
        release.set()
        while worker._running:
            await asyncio.sleep(0.01)
        await engine.dispose()
