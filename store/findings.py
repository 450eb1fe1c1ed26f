"""Findings: each rule's current verdict on each lesson, de-duplicated."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.findings import Finding, Status, StoredFinding

from .db import in_transaction, read_sessions
from .jobs import JobSpec, add_jobs
from .outbox import Held
from .tables import FindingRow


# Queues the cards for newly open failures, in the transaction that records them.
# Queues the cards for new failures in the verdicts' transaction; returns them, held for the
# caller's worker to deliver once it commits (store.outbox.Held).
RaiseNew = Callable[[AsyncSession, list[StoredFinding]], Awaitable[list[Held]]]


class Recorded(BaseModel):
    new: list[StoredFinding]  # failures not open before: to be raised
    cleared: list[StoredFinding]  # failures that now pass
    failing: set[int]  # every finding of the lesson failing now
    passing: set[int] = set()  # every finding of the lesson passing now
    raised: list[Held] = []  # the cards `raise_new` queued, to deliver now the verdicts are committed


class FindingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._reads = read_sessions(engine)

    async def record(self, lesson_id: int, findings: list[Finding], moment: str, at: datetime, *, final: bool = False,
                     then: Sequence[JobSpec] = (), raise_new: RaiseNew | None = None) -> Recorded:
        """Store the verdicts, and queue the lesson's jobs `then` (its next looks) with them;
        returns the failures that are new (not already open), the ones that now pass, and which
        of the lesson's findings fail now. `raise_new` queues the cards that tell people about
        the new failures in the same transaction: a breach recorded as open is a breach raised
        (were they apart, a crash between them would leave it open and never raised, and the
        next check would not raise it either: it is not new any more)."""

        async def work(session: AsyncSession) -> Recorded:
            stmt = select(FindingRow).where(FindingRow.lesson_id == lesson_id).with_for_update()
            existing = {row.rule_id: row for row in (await session.execute(stmt)).scalars()}
            new_failures, cleared = [], []
            for finding in findings:
                row = existing.get(finding.rule_id)
                failed = finding.status is Status.failed
                if row is None:
                    row = FindingRow(lesson_id=lesson_id, rule_id=finding.rule_id, episode=0)
                    session.add(row)
                # An episode ends only with a pass: fail, could not verify, fail is one breach, raised once.
                in_episode = row.status == Status.could_not_verify.value and row.first_failed_at is not None
                opens = failed and row.status != Status.failed.value and not in_episode
                clears = row.first_failed_at is not None and finding.status is Status.passed
                if opens:
                    # A breach that was not open before: a new episode, to be raised once.
                    row.episode += 1
                    row.first_failed_at = at
                elif clears:
                    row.first_failed_at = None
                row.severity = finding.severity.value
                row.status = finding.status.value
                row.message = finding.message
                row.reason = finding.reason
                row.recheck_at = finding.recheck_at
                row.details = finding.details
                row.moment = moment
                row.final = final
                row.evaluated_at = at
                if opens or clears:
                    (new_failures if opens else cleared).append(row)
            # One flush: every new finding in one INSERT (their ids are read back by it).
            await session.flush()
            await add_jobs(session, [(spec, lesson_id) for spec in then])
            new = [StoredFinding.model_validate(r) for r in new_failures]
            raised = await raise_new(session, new) if new and raise_new is not None else []
            return Recorded(
                new=new,
                raised=raised,
                cleared=[StoredFinding.model_validate(r) for r in cleared],
                failing={r.id for r in existing.values() if r.status == Status.failed.value}
                | {r.id for r in new_failures},
                passing={r.id for r in [*existing.values(), *new_failures, *cleared] if r.status == Status.passed.value},
            )

        return await in_transaction(self._sessions, work)

    async def for_lesson(self, lesson_id: int) -> list[StoredFinding]:
        async with self._reads() as session:
            stmt = select(FindingRow).where(FindingRow.lesson_id == lesson_id).order_by(FindingRow.id)
            return [StoredFinding.model_validate(r) for r in (await session.execute(stmt)).scalars()]
