"""The daily coverage summary to SLT (in their alert channel): per teacher, the sessions with
pupils, followed live or seen only afterwards, and the unmonitored ones named."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from cards.coverage_summary import coverage_card
from config.policy import Policy
from domain.messages import Destination, MessageKind
from jobs.worker import Worker
from store.coverage import Coverage
from store.jobs import Job, JobSpec, JobStore, Priority
from store.outbox import Outbox
from store.tables import utcnow

DAILY = "coverage-summary"


class CoverageSummary:
    def __init__(self, *, coverage: Coverage, outbox: Outbox, policy: Policy) -> None:
        self._coverage = coverage
        self._outbox = outbox
        self._policy = policy
        self._jobs: JobStore | None = None
        self._worker: Worker | None = None

    def schedule(self, worker: Worker, jobs: JobStore) -> None:
        self._jobs, self._worker = jobs, worker
        worker.handle(DAILY, self._daily)

    def _next_run(self, now: datetime) -> float:
        zone = self._policy.school.zone
        local = now.astimezone(zone)
        at = datetime.combine(local.date(), self._policy.enrolment.daily_summary_at, zone)
        if at <= local:
            at += timedelta(days=1)
        return (at - local).total_seconds()

    async def start_schedule(self) -> None:
        if self._policy.enrolment.daily_summary_at is not None and self._jobs is not None:
            await self._jobs.enqueue(JobSpec(kind=DAILY, priority=Priority.background, key="daily", delay_seconds=self._next_run(utcnow())))

    async def _daily(self, job: Job) -> None:
        await self.send(utcnow().astimezone(self._policy.school.zone).date())
        await self._jobs.enqueue(JobSpec(kind=DAILY, priority=Priority.background, key="daily", delay_seconds=self._next_run(utcnow() + timedelta(minutes=1))))

    async def send(self, day: date) -> int | None:
        """Queue the day's summary for SLT; None when there was nothing to report or it was sent already."""
        zone = self._policy.school.zone
        rows = await self._coverage.between(day, day, zone)
        if not rows:
            return None
        unmonitored = await self._coverage.unmonitored_on(day, zone)
        queued = await self._outbox.queue(
            kind=MessageKind.coverage_summary, destination=Destination.slt_channel, lesson_id=None, service_url=None,
            card=coverage_card(self._policy, day, rows, unmonitored),
            summary=f"Coverage {day:%d %B}: {len(unmonitored)} unmonitored session(s)", dedupe_key=f"coverage:{day.isoformat()}",
        )
        self._worker.wake()
        return queued
