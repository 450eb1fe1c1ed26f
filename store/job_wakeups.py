"""Waking workers in other processes when work is queued (PostgreSQL LISTEN/NOTIFY).

A trust runs its HTTP front (answering Teams) and its workers (deriving, judging, alerting) as
separate processes, so each has a CPU of its own at 09:00. A worker elsewhere must not wait for
its next poll to see a lesson's start: every transaction that queues jobs also sends a NOTIFY
(delivered when it commits), and each worker process listens on one connection of its own.
SQLite has no notifications: its workers poll (CHAPERONE_JOB_POLL_SECONDS).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

log = logging.getLogger(__name__)

CHANNEL = "chaperone_jobs"


async def notify_queued(session: AsyncSession) -> None:
    """In the caller's transaction: tell listening workers that jobs were queued."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class JobWakeups:
    """One listening connection that calls `wake` on every NOTIFY (PostgreSQL only)."""

    def __init__(self, engine: AsyncEngine, wake: Callable[[], None]) -> None:
        self._engine = engine
        self._wake = wake
        self._connection = None

    async def start(self) -> bool:
        """Listen; False (and polling only) on SQLite or when the listener cannot be set up."""
        if self._engine.dialect.name != "postgresql":
            return False
        try:
            self._connection = await self._engine.raw_connection()
            await self._connection.driver_connection.add_listener(CHANNEL, self._notified)
        except Exception as exc:  # noqa: BLE001 - polling still finds the work, only later
            log.warning("job notifications unavailable (%s): workers poll instead", type(exc).__name__)
            await self.close()
            return False
        return True

    def _notified(self, *_: object) -> None:
        self._wake()

    async def close(self) -> None:
        if self._connection is not None:
            try:
                await self._connection.driver_connection.remove_listener(CHANNEL, self._notified)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
            self._connection.close()
            self._connection = None
