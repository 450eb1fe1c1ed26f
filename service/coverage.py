"""The daily coverage summary to SLT (in their alert channel): per teacher, the sessions with
pupils, followed live or seen only afterwards, and the unmonitored ones named.

In a trust each school gets its own, with only its own sessions, at its own [enrolment]
daily_summary_at in its own time zone; the lessons no school claimed ('school unknown') go to
the trust's leads under the default policy the same way.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from cards.coverage_summary import coverage_card
from config.policy import Policy
from config.trust import Schools
from domain.messages import Destination, MessageKind
from jobs.worker import Worker
from store.coverage import Coverage
from store.jobs import Job, JobSpec, JobStore, Priority
from store.outbox import Outbox
from store.tables import utcnow

DAILY = "coverage-summary"


def next_run(policy: Policy, now: datetime) -> float:
    """Seconds from `now` to the school's next daily_summary_at, in its own time zone."""
    zone = policy.school.zone
    local = now.astimezone(zone)
    at = datetime.combine(local.date(), policy.enrolment.daily_summary_at, zone)
    if at <= local:
        at += timedelta(days=1)
    return (at - local).total_seconds()


class CoverageSummary:
    def __init__(self, *, coverage: Coverage, outbox: Outbox, schools: Schools) -> None:
        self._coverage = coverage
        self._outbox = outbox
        self._schools = schools
        self._jobs: JobStore | None = None
        self._worker: Worker | None = None

    def schedule(self, worker: Worker, jobs: JobStore) -> None:
        self._jobs, self._worker = jobs, worker
        worker.handle(DAILY, self._daily)

    def _summarised(self) -> list[Policy]:
        return [p for p in self._schools.all_policies() if p.enrolment.daily_summary_at is not None]

    def _job(self, policy: Policy, now: datetime) -> JobSpec:
        # A single school keeps its one job's key, so a deployment that becomes a trust does not run it twice.
        key = f"daily:{policy.school.id}" if self._schools.is_trust else "daily"
        return JobSpec(kind=DAILY, priority=Priority.background, key=key, payload={"school": policy.school.id},
                       delay_seconds=next_run(policy, now))

    async def start_schedule(self) -> None:
        if self._jobs is not None:
            for policy in self._summarised():
                await self._jobs.enqueue(self._job(policy, utcnow()))

    async def _daily(self, job: Job) -> None:
        school = job.payload.get("school")
        policy = self._schools.get(school) if school else self._schools.default
        await self.send(utcnow().astimezone(policy.school.zone).date(), policy.school.id)
        await self._jobs.enqueue(self._job(policy, utcnow() + timedelta(minutes=1)))

    async def send(self, day: date, school_id: str | None = None) -> int | None:
        """Queue one school's summary of the day for its SLT (a single school's when no school is
        named); None when there was nothing to report or it was sent already."""
        if school_id is None and self._schools.is_trust:
            raise ValueError("a trust's coverage summary is per school: name the school")
        policy = self._schools.get(school_id) if school_id is not None else self._schools.default
        zone = policy.school.zone
        only = policy.school.id if self._schools.is_trust else None  # one school: every lesson is its own
        rows = await self._coverage.between(day, day, zone, school_id=only)
        if not rows:
            return None
        unmonitored = await self._coverage.unmonitored_on(day, zone, school_id=only)
        key = f"coverage:{policy.school.id}:{day.isoformat()}" if self._schools.is_trust else f"coverage:{day.isoformat()}"
        queued = await self._outbox.queue(
            kind=MessageKind.coverage_summary, destination=Destination.slt_channel, lesson_id=None, service_url=None,
            card=coverage_card(policy, day, rows, unmonitored),
            summary=f"Coverage {day:%d %B}: {len(unmonitored)} unmonitored session(s)", dedupe_key=key,
            school_id=policy.school.id,
        )
        self._worker.wake()
        return queued
