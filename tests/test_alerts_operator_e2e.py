"""An operator deals with cards that could not be delivered: `alerts retry ID|--all` queues
them again (any running instance delivers them), `alerts dismiss ID --reason` gives up on one
on purpose; both are audited, and /healthz stops saying degraded once each is dealt with.
The CLI runs as its own process against the database the running app uses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from domain.messages import DeliveryStatus

from .helpers import SLT, SLT_CHANNEL, SLT_TEAM, alert_posts, dev_env, eventually, lobby_off_lesson, rows, run_app

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parent.parent


async def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # In a thread: the app under test runs on this test's event loop and must keep serving.
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, str(ROOT / "app.py"), *args], env={**os.environ, **env}, cwd=cwd,
        capture_output=True, text=True, timeout=60,
    )


async def health(app) -> dict:
    async with aiohttp.ClientSession() as session, session.get(f"{app.url}/healthz") as response:
        return await response.json()


async def test_retry_delivers_a_failed_alert_once_the_channel_is_set_and_health_recovers(database_url, connector, graph, tmp_path):
    env = dev_env(database_url, graph.base_url)
    async with run_app(env, connector.url) as app:
        await lobby_off_lesson(app, connector, graph, set_channel=False)  # nobody chose an SLT channel yet
        [alert] = await app.services.outbox.undelivered()
        assert alert.status is DeliveryStatus.failed and (await health(app))["status"] == "degraded"

        # The fix, then the retry: SLT choose the channel; the operator retries every failed card.
        await app.post_all([app.teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL)])
        connector.clear()
        retried = await cli(env, tmp_path, "alerts", "retry", "--all")
        assert retried.returncode == 0, retried.stderr
        assert f"card #{alert.id} queued for delivery again" in retried.stdout

        async def delivered():
            message = await app.services.outbox.get(alert.id)
            return message.status is DeliveryStatus.sent and alert_posts(connector)

        await eventually(delivered)
        body = await health(app)
        assert body["status"] == "ok" and body["undelivered_messages"] == 0
        [audit] = [r for r in await rows(app.services.engine, "audit_log") if r["action"] == "message.retry"]
        assert audit["target"] == f"message:{alert.id}" and audit["actor"].startswith("cli:")

        # Retrying it again changes nothing, and says so.
        again = await cli(env, tmp_path, "alerts", "retry", str(alert.id))
        assert again.returncode == 1 and "delivered already" in again.stderr


async def test_dismiss_keeps_the_card_for_the_record_audits_the_reason_and_health_recovers(database_url, connector, graph, tmp_path):
    env = dev_env(database_url, graph.base_url)
    async with run_app(env, connector.url) as app:
        await lobby_off_lesson(app, connector, graph, set_channel=False)
        [alert] = await app.services.outbox.undelivered()

        empty = await cli(env, tmp_path, "alerts", "dismiss", str(alert.id), "--reason", "  ")
        assert empty.returncode == 2 and "--reason is empty" in empty.stderr
        unknown = await cli(env, tmp_path, "alerts", "dismiss", "999999", "--reason", "typo")
        assert unknown.returncode == 1 and "there is no card #999999" in unknown.stderr

        dismissed = await cli(env, tmp_path, "alerts", "dismiss", str(alert.id), "--reason", "SLT told in person on the day")
        assert dismissed.returncode == 0 and f"card #{alert.id} dismissed" in dismissed.stdout
        body = await health(app)
        assert body["status"] == "ok" and body["undelivered_messages"] == 0
        kept = await app.services.outbox.get(alert.id)
        assert kept.status is DeliveryStatus.dismissed and kept.kind == "slt-alert"
        [audit] = [r for r in await rows(app.services.engine, "audit_log") if r["action"] == "message.dismiss"]
        assert audit["details"]["reason"] == "SLT told in person on the day" and audit["actor"].startswith("cli:")

        listed = await cli(env, tmp_path, "alerts", "--undelivered")
        assert listed.returncode == 0 and "no undelivered cards" in listed.stdout
        retry_dismissed = await cli(env, tmp_path, "alerts", "retry", str(alert.id))
        assert retry_dismissed.returncode == 1 and "dismissed already" in retry_dismissed.stderr
