"""`python app.py bench --quick` runs to the end and prints every figure issue 14 asks for.

Only that the figures are there is checked, never their values: speed is measured by the
benchmark, not asserted in a timed test."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

pytestmark = pytest.mark.e2e  # the benchmark starts Chaperone, a bare server, the stand-ins and load generators

ROOT = Path(__file__).parent.parent


def bench(*args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), "bench", "--quick", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_the_quick_bench_prints_every_figure_for_bare_aiohttp_and_chaperone(any_database_url):
    # Stored events are counted with SQL: on both databases (the overload phase once).
    overload = "postgresql" not in any_database_url
    out = bench(*(["--overload"] if overload else []), "--database", any_database_url)
    for line in (
        "authentication ON",
        "Graph requests per lesson start: ",
        "Graph requests per new person: ",
        "meetingStart -> SLT alert (",
        "== events/s: max throughput, closed loop",
        "  bare aiohttp ",
        "  chaperone    ",
        " events/s (",
        "ratio chaperone/bare: ",
        "== fixed rate: 40 events/s offered for 3 s, open loop",
        "chaperone CPU ms/event: ",
        "chaperone stored: ",
        "RSS: chaperone ",
        "client CPU ",
        "other processes on this machine: ",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"
    # Each server's latency line at the fixed rate: percentiles, errors and timeouts.
    for server in ("bare aiohttp p50 ", "chaperone    p50 "):
        assert server in out
    assert out.count(" timeouts (> 15 s)") >= 4
    if overload:
        for line in ("== overload: ", "bare aiohttp recovery: ", "chaperone    recovery: ", "chaperone    per-second p99 (ms): "):
            assert line in out, f"missing {line!r} in:\n{out}"


def test_the_quick_0900_scenario_prints_alert_latency_stored_events_and_rss():
    out = bench("--trust")
    for line in (
        "09:00: 6 lessons of 30",
        " 50 school(s) in one trust (each lesson's staff in its school's staff group)",
        "  placement: 6 of 6 lessons placed in their own school by staff group\n",
        "  HTTP: p50 ",
        "meetingStart -> SLT alert (during the 09:00 scenario)",
        "  where the time went (database clock): meetingStart logged -> lesson derived p50 ",
        " over 6 starts; derived -> SLT alert queued p50 ",
        "  waves: ",
        "  stored: ",
        "  CPU ms/event: ",
        "  Graph requests: ",
        "  RSS: chaperone ",
        "  other processes on this machine: ",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"


async def test_the_quick_0900_scenario_runs_with_separate_worker_processes(postgres_database):
    """`--workers`: the HTTP front only answers Teams; the worker process derives, places, judges
    and alerts (every breaching lesson's alert timed, every event stored)."""
    conn = await asyncpg.connect(postgres_database)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")  # other tests' rows would be counted
    finally:
        await conn.close()
    database = postgres_database.replace("postgresql://", "postgresql+asyncpg://", 1)
    out = await asyncio.to_thread(bench, "--trust", "--workers", "1", "--database", database)
    for line in (
        "1 worker process(es) beside the HTTP front (CHAPERONE_RUN_WORKER=0)",
        "  placement: 6 of 6 lessons placed in their own school by staff group\n",
        "over 3 breaching lessons",
        " over 6 starts; derived -> SLT alert queued p50 ",
        "every acknowledged event stored",
        "  RSS: chaperone ",
        "(front ",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"


async def test_the_quick_lesson_starts_phase_prints_the_workers_cpu_per_start(postgres_database):
    """`--starts N`: the lessons' starts logged with the worker stopped, then the worker let go:
    its CPU per start until every breaching lesson's SLT alert arrived."""
    conn = await asyncpg.connect(postgres_database)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")  # a fresh schema, as a deployment's
    finally:
        await conn.close()
    database = postgres_database.replace("postgresql://", "postgresql+asyncpg://", 1)
    out = await asyncio.to_thread(bench, "--starts", "3", "--workers", "1", "--database", database)
    for line in (
        "lesson starts: 3 breaching lessons' meetingStarts logged with the worker stopped, then the worker let go; 50 schools",
        "  acknowledged 3 of 3 meetingStarts; SLT alerts for 3 of 3 lessons, the last ",
        "  worker CPU per lesson start: ",
        "  PostgreSQL transactions per lesson start: ",
        "  Graph requests per lesson start: ",
    ):
        assert line in out, f"missing {line!r} in:\n{out}"
    assert "a lower bound" not in out
