"""Benchmark: participant-join events per second and latency at /api/messages, with Bot
Framework authentication on.

The service runs as its own process (`python app.py serve`), as in production, with a
real app id. Tokens are signed locally and checked by botbuilder against the OpenID
metadata of the channel identity stand-in, so every request pays the real signature,
issuer, audience, endorsement and serviceurl checks. Figures are printed, not asserted.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from config.startup import EXAMPLE_POLICY
from standins.connector import ConnectorStandIn
from standins.identity import ChannelIdentityStandIn
from standins.server import free_port
from standins.teams import Meeting, Person, TeamsSimulator

APP_ID = "b3c1e7a0-4d5e-4f60-8a1b-0c0ffee0be4c"
PEOPLE_PER_LESSON = 30


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"chaperone exited with {process.returncode} before becoming healthy")
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("chaperone did not become healthy in time")


def connector_client_cost(samples: int = 50) -> tuple[float, float]:
    """Milliseconds to build a Bot Connector client per turn (the SDK's way) vs reusing one."""
    from botframework.connector.aio import ConnectorClient
    from botframework.connector.auth import MicrosoftAppCredentials

    start = time.perf_counter()
    for _ in range(samples):
        ConnectorClient(MicrosoftAppCredentials.empty(), base_url="https://smba.trafficmanager.net/emea/")
    built = (time.perf_counter() - start) * 1000 / samples
    return built, 0.0


async def run_bench(events: int, concurrency: int, database_url: str | None) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="chaperone-bench-"))
    database_url = database_url or f"sqlite+aiosqlite:///{workdir}/bench.sqlite3"
    with ChannelIdentityStandIn() as identity, ConnectorStandIn() as connector:
        port = free_port()
        env = {
            **os.environ,
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": "bench-only",
            "MicrosoftAppTenantId": "5f1b3a1e-0000-4000-8000-5c8001000001",
            "CHAPERONE_DEV_MODE": "0",
            "CHAPERONE_BOT_OPENID_METADATA_URL": identity.metadata_url,
            "CHAPERONE_BOT_TOKEN_ISSUER": identity.issuer,
            "CHAPERONE_ALLOWED_SERVICE_HOSTS": "127.0.0.1",
            "CHAPERONE_DATABASE_URL": database_url,
            "CHAPERONE_POLICY_FILE": str(EXAMPLE_POLICY),
            "CHAPERONE_LOG_LEVEL": "WARNING",
            "PORT": str(port),
            "HOST": "127.0.0.1",
        }
        root = Path(__file__).resolve().parent.parent
        process = subprocess.Popen([sys.executable, str(root / "app.py"), "serve"], env=env, cwd=root)
        url = f"http://127.0.0.1:{port}"
        try:
            await _wait_healthy(url, process)
            token = identity.token(APP_ID, connector.url + "/")
            latencies, failures, elapsed = await _drive(url, connector.url, token, events, concurrency)
        finally:
            process.terminate()
            process.wait(10)
    built_ms, _ = connector_client_cost()
    ok = len(latencies)
    print(f"participant-join events posted: {events} ({concurrency} in flight), authentication ON")
    print(f"  succeeded: {ok}, failed: {failures}")
    print(f"  throughput: {ok / elapsed:.0f} events/s over {elapsed:.2f} s")
    if latencies:
        ms = [v * 1000 for v in latencies]
        print(
            f"  latency ms: p50 {_percentile(ms, 0.50):.1f}  p90 {_percentile(ms, 0.90):.1f}"
            f"  p99 {_percentile(ms, 0.99):.1f}  max {max(ms):.1f}  mean {statistics.fmean(ms):.1f}"
        )
    print(f"  database: {database_url}")
    print(f"Bot Connector client built per turn (the SDK's default): {built_ms:.2f} ms of CPU each; Chaperone reuses one per service URL")
    return 0 if failures == 0 else 1


async def _drive(url: str, service_url: str, token: str, events: int, concurrency: int) -> tuple[list[float], int, float]:
    teams = TeamsSimulator(url, service_url)
    lessons = max(1, events // PEOPLE_PER_LESSON)
    organizer = Person("Bench Teacher", "bench-teacher")
    meetings = [Meeting(f"19:meeting_bench-{n}@thread.v2", f"Bench lesson {n}", organizer) for n in range(lessons)]
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    activities = [
        teams.join(meetings[n % lessons], [Person(f"Pupil {n}", f"bench-pupil-{n}")], now)
        for n in range(events)
    ]
    headers = {"Authorization": f"Bearer {token}"}
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for activity in activities:
        queue.put_nowait(activity)
    latencies: list[float] = []
    failures = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while True:
            try:
                activity = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            async with session.post(f"{url}/api/messages", json=activity, headers=headers) as response:
                await response.read()
                if response.status == 200:
                    latencies.append(time.perf_counter() - start)
                else:
                    failures += 1

    async with aiohttp.ClientSession() as session:
        # Warm-up: the first request fetches the signing keys.
        warm = teams.join(meetings[0], [organizer], now)
        async with session.post(f"{url}/api/messages", json=warm, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"warm-up request failed: {response.status} {await response.text()}")
        began = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return latencies, failures, elapsed
