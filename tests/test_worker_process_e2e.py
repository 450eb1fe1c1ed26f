"""An HTTP front that only answers Teams, and a separate `python app.py worker` process that does
the work (issue 14: each on a CPU of its own at a trust's 09:00). On PostgreSQL the worker is
woken by notifications, not by its poll; on SQLite it polls."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import MATHS, alert_posts, dev_env, lobby_off_lesson, run_app

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parent.parent


async def test_a_separate_worker_process_judges_and_alerts_what_the_front_logged(any_database_url, connector, graph, tmp_path):
    postgres = any_database_url.startswith("postgresql")
    # On PostgreSQL the worker's poll is longer than the test may take: only a notification wakes it.
    poll = "60" if postgres else "0.2"
    env = dev_env(any_database_url, graph.base_url, CHAPERONE_JOB_POLL_SECONDS=poll)
    async with run_app({**env, "CHAPERONE_RUN_WORKER": "0"}, connector.url) as front:
        assert front.services.worker._task is None  # this process only answers Teams
        log = tmp_path / "worker.log"
        worker = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "worker"], cwd=tmp_path, env={**os.environ, **env},
                                  stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
        try:
            # Idle and waiting before anything is logged: what follows must wake it.
            started = await _line_with(log, "running")
            assert ("woken by PostgreSQL notifications" if postgres else "polling every 0.2 s") in started
            lesson = await asyncio.wait_for(lobby_off_lesson(front, connector, graph), 40)
            # Seen as Teams would: the alert arrives. (The front's idle check counts due jobs in
            # the database, which cannot tell when the other process is between two of its steps.)
            for _ in range(300):
                if alerts := alert_posts(connector):
                    break
                await asyncio.sleep(0.1)
            [alert] = alerts  # derived, judged and delivered by the worker process
            assert "Waiting room (lobby) on" in str(alert)
            assert lesson.meeting_id == MATHS.id
        finally:
            worker.send_signal(signal.SIGTERM)
            await asyncio.to_thread(worker.wait, 30)
        assert worker.returncode == 0, log.read_text()


async def _line_with(log: Path, words: str) -> str:
    for _ in range(300):
        found = [line for line in log.read_text().splitlines() if words in line]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the worker did not say {words!r}: {log.read_text()[-2000:]}")
