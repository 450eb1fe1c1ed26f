"""Runs queued jobs (store/jobs.py) in the background of each instance.

It wakes when this instance queues something and otherwise polls, so jobs queued by
another instance, or left by one that stopped, are still run. A handler that fails is
retried with back-off; one that asks to wait (RetryLater) is run again when it says.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from store.jobs import Job, JobStore, Lease, Priority
from store.tables import utcnow
from telemetry import metrics

log = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]
# Under ingest pressure: meetings derived at once, and (separately) one roster check or report.
PRESSURE_DERIVING = 2
# While urgent work (alerts, grace checks, lesson starts and ends) is under way, bulk work runs
# in this many slots. Slots are not CPU: a lesson start mostly waits on Graph, a roster check
# mostly computes, so at 09:00 four bulk slots beside twelve urgent took most of the worker's
# CPU (meetingStart -> SLT alert p99 13 to 36 s in three runs; with one, 12 to 14 s). One
# keeps the bulk moving.
BULK_SLOTS_BESIDE_URGENT = 1
# With all but a few slots busy, a freed slot waits this long for others before claiming, so one
# claim fills several: at a 09:00 backlog a claim for every finished job was a tenth of the CPU.
CLAIM_GATHER_SECONDS = 0.02


class RetryLater(Exception):
    """Not yet: run this job again after `delay_seconds` (e.g. a report not published yet)."""

    def __init__(self, reason: str, delay_seconds: float) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


class GiveUp(Exception):
    """The job cannot succeed; record why and stop retrying."""


class Worker:
    def __init__(
        self,
        jobs: JobStore,
        *,
        poll_seconds: float = 5.0,
        lease_seconds: float = 300.0,
        concurrency: int = 16,
        max_attempts: int = 8,
        pressure: Callable[[], bool] = lambda: False,
        retry_base_seconds: float = 5.0,
    ) -> None:
        self.instance = f"chaperone-{uuid.uuid4().hex[:12]}"
        self._jobs = jobs
        self._handlers: dict[str, Handler] = {}
        self._poll = poll_seconds
        self._lease = lease_seconds
        self._concurrency = concurrency
        self._bulk_beside_urgent = min(concurrency, BULK_SLOTS_BESIDE_URGENT)
        self._gather_below = min(concurrency, max(2, concurrency // 4))
        self._last_claim = 0.0
        self._pressure = pressure
        self.max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._running: dict[asyncio.Task, Job] = {}

    def handle(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    @property
    def lease(self) -> Lease:
        """For a job queued already claimed by this worker (store.jobs.add_held_job)."""
        return Lease(instance=self.instance, seconds=self._lease)

    async def run_held(self, job: Job, handler: Handler) -> bool:
        """Run a job this worker queued already leased to itself, at once, as if claimed:
        finished, retried or given up the same way; `handler` has in hand what it needs.
        Whether it finished."""
        with metrics.job(job.kind, job.lesson_id):
            return await self._run_job(job, handler)

    def start_held(self, job: Job, handler: Handler) -> None:
        """Start a job this worker queued already leased to itself, beside its other jobs, as
        if just claimed (a derived lesson start's follow-up: the derivation need not wait
        for it, and the meeting's next events are derived meanwhile)."""
        task = asyncio.create_task(self._run(job, handler), name=f"chaperone-job-{job.id}")
        self._running[task] = job
        task.add_done_callback(self._finished)

    async def release(self, job: Job, why: str) -> None:
        """A held job this worker will not run now: due at once, for any worker's next claim."""
        await self._jobs.retry(job.id, why, 0)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="chaperone-worker")

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Let the jobs under way finish (their leases would expire anyway), then stop."""
        if not self._task:
            return
        self._stopping = True
        self.wake()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
        except TimeoutError:
            for task in [self._task, *self._running]:
                task.cancel()
            await asyncio.gather(self._task, *self._running, return_exceptions=True)
        self._task = None

    async def _loop(self) -> None:
        """Claim continuously, most urgent first, up to the concurrency limit: a job that
        finishes frees its slot at once (with all but a few slots busy, claimed within 20 ms
        with the slots freed beside it), and an alert never waits for a batch to drain."""
        while not self._stopping:
            self._wake.clear()
            free = self._concurrency - len(self._running)
            since = time.monotonic() - self._last_claim
            if 0 < free < self._gather_below and since < CLAIM_GATHER_SECONDS:
                await asyncio.sleep(CLAIM_GATHER_SECONDS - since)
                continue
            try:
                await self.run_due()
                # Under pressure every group commit wakes the loop anyway. With every slot
                # taken, the next job due does not matter: a job that finishes wakes the loop.
                if self._pressure():
                    wait = 0.05
                elif len(self._running) >= self._concurrency:
                    wait = self._poll
                else:
                    wait = await self._jobs.next_due_in(self._poll)
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the loop
                log.exception("worker: could not claim jobs")
                wait = self._poll
            if self._stopping:
                break
            if self._pressure():
                # Woken by every group commit in a burst: look for work at most 50 times a second.
                await asyncio.sleep(0.02)
            if not self._wake.is_set():
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    async def run_due(self) -> int:
        """Claim the due jobs there is room for and start them; returns how many started.

        Under ingest pressure (Teams' events arriving faster than a few hundred a second) the
        CPU-heavy bulk work runs a little at a time (two meetings' events derived, one roster
        check or report),
        so answering Teams keeps the CPU; alerts, grace checks and lesson starts (mostly waiting
        on Graph and the Bot Connector) still run at full concurrency. The bulk catches up when
        the burst passes: the log has kept every event."""
        free = self._concurrency - len(self._running)
        if free <= 0:
            return 0
        self._last_claim = time.monotonic()
        if self._pressure():
            claimed = await self._jobs.claim(self.instance, free, self._lease, below=Priority.events)
            deriving = sum(1 for job in self._running.values() if job.priority == Priority.events)
            rest = sum(1 for job in self._running.values() if job.priority > Priority.events)
            # Deriving comes first of the bulk: a lesson's start (and its alerts) waits on it.
            if deriving < PRESSURE_DERIVING and len(claimed) < free:
                claimed += await self._jobs.claim(self.instance, PRESSURE_DERIVING - deriving, self._lease,
                                                  at_least=Priority.events, below=Priority.roster)
            if rest == 0 and len(claimed) < free:
                claimed += await self._jobs.claim(self.instance, 1, self._lease, at_least=Priority.roster)
        else:
            # Urgent work first, into every free slot. While any is under way the bulk (deriving
            # joins, roster checks, reports) keeps to one slot: on one event loop, each job
            # beside an alert's slows it, and the bulk catches up when the urgent work is done.
            claimed = await self._jobs.claim(self.instance, free, self._lease, below=Priority.events)
            urgent = bool(claimed) or any(job.priority < Priority.events for job in self._running.values())
            bulk = sum(1 for job in self._running.values() if job.priority >= Priority.events)
            room = min(free - len(claimed), (self._bulk_beside_urgent if urgent else self._concurrency) - bulk)
            if room > 0:
                claimed += await self._jobs.claim(self.instance, room, self._lease, at_least=Priority.events)
        for job in claimed:
            task = asyncio.create_task(self._run(job), name=f"chaperone-job-{job.id}")
            self._running[task] = job
            task.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, task: asyncio.Task) -> None:
        self._running.pop(task, None)
        self.wake()  # a slot is free, and the lesson's next job may run now

    async def _run(self, job: Job, handler: Handler | None = None) -> None:
        keep = asyncio.create_task(self._keep_lease(job))
        started = time.perf_counter()
        # How long it waited past due: at DEBUG, the queue's timeline for diagnosing a backlog.
        late = (utcnow() - job.due_at).total_seconds()
        try:
            with metrics.job(job.kind, job.lesson_id):  # its time, and its lesson id on its log lines
                await self._run_job(job, handler)
        finally:
            keep.cancel()
            log.debug("job %s %s priority %s: %.3f s after due, ran %.3f s", job.id, job.kind, job.priority,
                      late, time.perf_counter() - started)

    async def _keep_lease(self, job: Job) -> None:
        """Renew the lease of a long job (an enrolment sweep of a large trust) while it runs."""
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await self._jobs.extend(job.id, self.instance, self._lease)
            except Exception:  # noqa: BLE001 - the next renewal tries again; the lease is long
                log.warning("job %s: lease not renewed this time", job.id)

    async def _run_job(self, job: Job, handler: Handler | None = None) -> bool:
        handler = handler or self._handlers.get(job.kind)
        if handler is None:
            await self._jobs.fail(job.id, f"no handler for job kind {job.kind!r}")
            return False
        try:
            await handler(job)
        except RetryLater as later:
            log.info("job %s %s: %s; again in %.0f s", job.id, job.kind, later, later.delay_seconds)
            await self._jobs.retry(job.id, str(later), later.delay_seconds)
            return False
        except GiveUp as exc:
            log.warning("job %s %s gave up: %s", job.id, job.kind, exc)
            await self._jobs.fail(job.id, str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then recorded
            error = f"{type(exc).__name__}: {exc}"
            if job.attempts >= self.max_attempts:
                log.error("job %s %s failed for good after %d attempts: %s", job.id, job.kind, job.attempts, error)
                await self._jobs.fail(job.id, error)
            else:
                delay = min(900.0, self._retry_base * 2 ** (job.attempts - 1))
                log.warning("job %s %s failed (attempt %d), retrying in %.0f s: %s", job.id, job.kind, job.attempts, delay, error)
                await self._jobs.retry(job.id, error, delay)
            return False
        try:
            await self._jobs.finish(job.id)
        except Exception as exc:  # noqa: BLE001 - done, but still leased: it runs again when the lease ends
            log.warning("job %s %s done but not recorded as finished (%s); it runs again after its lease", job.id, job.kind,
                        type(exc).__name__)
            return False
        return True

    async def wait_idle(self, timeout: float = 15.0, horizon_seconds: float = 0) -> None:
        """Until no job is running or due within the horizon (for the demo and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.wake()
            if not self._running and await self._jobs.due_count(horizon_seconds) == 0:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"jobs still due after {timeout} s")
