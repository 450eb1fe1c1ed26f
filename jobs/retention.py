"""Runs the retention purge once a day, on whichever instance claims the job: each school's
records by its own policy's retention (store.retention.purge_schools)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from config.trust import Schools
from store.jobs import Job, JobSpec, JobStore, Priority
from store.retention import purge_schools
from store.tables import utcnow

from .worker import Worker

log = logging.getLogger(__name__)

PURGE = "retention-purge"
DAY = 24 * 3600


class RetentionSchedule:
    def __init__(self, engine: AsyncEngine, jobs: JobStore, worker: Worker, schools: Schools) -> None:
        self._engine = engine
        self._jobs = jobs
        self._schools = schools
        worker.handle(PURGE, self.run)

    async def start(self) -> None:
        # One waiting purge for all instances: the dedupe key folds the others' requests in.
        await self._jobs.enqueue(JobSpec(kind=PURGE, priority=Priority.background, key="daily", delay_seconds=60))

    async def run(self, job: Job) -> None:
        for school_id, counts in (await purge_schools(self._engine, self._schools, utcnow())).items():
            log.info("retention purge (%s): %s", school_id, ", ".join(f"{n} {what}" for what, n in counts.items()))
        await self._jobs.enqueue(JobSpec(kind=PURGE, priority=Priority.background, key="daily", delay_seconds=DAY))
