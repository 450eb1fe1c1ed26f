"""Findings: each rule's current verdict on each lesson, de-duplicated."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.findings import Finding, Status, StoredFinding

from .db import in_transaction
from .tables import FindingRow


class FindingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def record(self, lesson_id: int, findings: list[Finding], moment: str, at: datetime, *, final: bool = False) -> list[StoredFinding]:
        """Store the verdicts; returns the failures that are new (not already open)."""

        async def work(session: AsyncSession) -> list[StoredFinding]:
            stmt = select(FindingRow).where(FindingRow.lesson_id == lesson_id).with_for_update()
            existing = {row.rule_id: row for row in (await session.execute(stmt)).scalars()}
            new_failures = []
            for finding in findings:
                row = existing.get(finding.rule_id)
                failed = finding.status is Status.failed
                if row is None:
                    row = FindingRow(lesson_id=lesson_id, rule_id=finding.rule_id, episode=0)
                    session.add(row)
                opens = failed and row.status != Status.failed.value
                if opens:
                    # A breach that was not open before: a new episode, to be raised once.
                    row.episode += 1
                    row.first_failed_at = at
                row.severity = finding.severity.value
                row.status = finding.status.value
                row.message = finding.message
                row.reason = finding.reason
                row.recheck_at = finding.recheck_at
                row.details = finding.details
                row.moment = moment
                row.final = final
                row.evaluated_at = at
                if opens:
                    await session.flush()
                    new_failures.append(row)
            await session.flush()
            return [StoredFinding.model_validate(r) for r in new_failures]

        return await in_transaction(self._sessions, work)

    async def for_lesson(self, lesson_id: int) -> list[StoredFinding]:
        async with self._sessions() as session:
            stmt = select(FindingRow).where(FindingRow.lesson_id == lesson_id).order_by(FindingRow.id)
            return [StoredFinding.model_validate(r) for r in (await session.execute(stmt)).scalars()]
