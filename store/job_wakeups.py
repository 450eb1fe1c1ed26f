"""Waking workers in other processes when work is queued (PostgreSQL LISTEN/NOTIFY).

A trust runs its HTTP front (answering Teams) and its workers (deriving, judging, alerting) as
separate processes, so each has a CPU of its own at 09:00. A worker elsewhere must not wait for
its next poll to see a lesson's start: every transaction that queues jobs also sends a NOTIFY
(delivered when it commits; sent by a trigger on the jobs table, migration 0015, so queuing
costs no round trip more), and each worker process listens on one connection of its own.
SQLite has no notifications: its workers poll (CHAPERONE_JOB_POLL_SECONDS).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

CHANNEL = "chaperone_jobs"  # the trigger's (migration 0015)


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
            # Held through an AsyncConnection, so that giving it back to the pool at shutdown runs
            # where SQLAlchemy can await (a bare pooled connection closed then raised MissingGreenlet).
            self._connection = await self._engine.connect()
            driver = (await self._connection.get_raw_connection()).driver_connection
            await driver.add_listener(CHANNEL, self._notified)
            driver.add_termination_listener(self._lost)
        except Exception as exc:  # noqa: BLE001 - polling still finds the work, only later
            log.warning("job notifications unavailable (%s): workers poll instead", type(exc).__name__)
            await self.close()
            return False
        return True

    def _notified(self, *_: object) -> None:
        self._wake()

    def _lost(self, *_: object) -> None:
        # PostgreSQL restarted, or the connection was cut: the worker still polls, only later.
        log.warning("job notifications lost (the listening connection closed): workers poll every CHAPERONE_JOB_POLL_SECONDS")

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                driver = (await connection.get_raw_connection()).driver_connection
                await driver.remove_listener(CHANNEL, self._notified)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
            try:
                await connection.close()
            except Exception as exc:  # noqa: BLE001 - shutting down: the connection goes either way
                log.info("job notifications: listening connection not closed cleanly (%s)", type(exc).__name__)
