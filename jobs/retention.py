"""Runs the retention purge once a day, on whichever instance claims the job."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from config.policy import Retention
from store.jobs import Job, JobSpec, JobStore, Priority
from store.retention import purge
from store.tables import utcnow

from .worker import Worker

log = logging.getLogger(__name__)

PURGE = "retention-purge"
DAY = 24 * 3600


class RetentionSchedule:
    def __init__(self, engine: AsyncEngine, jobs: JobStore, worker: Worker, retention: Retention, reminder_interval_days: int = 0) -> None:
        self._engine = engine
        self._jobs = jobs
        self._retention = retention
        self._reminder_interval_days = reminder_interval_days
        worker.handle(PURGE, self.run)

    async def start(self) -> None:
        # One waiting purge for all instances: the dedupe key folds the others' requests in.
        await self._jobs.enqueue(JobSpec(kind=PURGE, priority=Priority.background, key="daily", delay_seconds=60))

    async def run(self, job: Job) -> None:
        counts = await purge(self._engine, self._retention, utcnow(), self._reminder_interval_days)
        log.info("retention purge: %s", ", ".join(f"{n} {what}" for what, n in counts.items()))
        await self._jobs.enqueue(JobSpec(kind=PURGE, priority=Priority.background, key="daily", delay_seconds=DAY))
