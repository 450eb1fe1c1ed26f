"""What the school's monitoring reads: `CHAPERONE_LOG_FORMAT=json` (one JSON object per line,
correlation ids per activity and per lesson, ids and never names) from the real `serve`
process, and `/metrics` scraped before and after a lesson runs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from standins.server import free_port
from standins.teams import TeamsSimulator

from .helpers import END, MATHS, PUPIL_A, PUPIL_B, T0, TA, TEACHER, dev_env, lobby_off_lesson, minutes, run_app, script

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parent.parent
NAMES = (TEACHER.name, TA.name, PUPIL_A.name, PUPIL_B.name, MATHS.title)


async def answering(url: str, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{url} did not answer")
            await asyncio.sleep(0.2)


async def test_json_logs_are_one_object_per_line_with_activity_and_lesson_ids_and_no_names(database_url, connector, graph, tmp_path):
    script(graph, connector)
    port = free_port()
    env = {**os.environ, **dev_env(database_url, graph.base_url), "PORT": str(port), "CHAPERONE_LOG_FORMAT": "json",
           "CHAPERONE_LOG_LEVEL": "DEBUG"}
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "serve"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        await answering(url + "/healthz")
        teams = TeamsSimulator(url, connector.url)
        for activity in (teams.meeting_start(MATHS, T0, activity_id="act-start-1"),
                         teams.join(MATHS, [TEACHER, PUPIL_A, PUPIL_B], T0 + minutes(1)),
                         teams.meeting_end(MATHS, END, activity_id="act-end-1")):
            status, body = await teams.post(activity)
            assert status == 200, body
        # The end's follow-up (Graph, the rules, the lesson record) has run once the record is sent.
        async def record_sent():
            return any("lesson record" in json.dumps(c.body) or c.body for c in connector.requests("POST"))
        for _ in range(100):
            if await record_sent():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) > 10
    entries = [json.loads(l) for l in lines]  # every line parses on its own
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    assert any(e.get("activity_id") == "act-start-1" for e in entries), "a line of the start's turn carries its activity id"
    lesson_lines = [e for e in entries if "lesson_id" in e]
    assert lesson_lines and all(isinstance(e["lesson_id"], int) for e in lesson_lines)
    assert {e["lesson_id"] for e in lesson_lines} == {1}
    for name in NAMES:
        assert name not in stderr, f"{name!r} must not be logged"
    # No SQL (whose parameters carry names and concerns), even at DEBUG.
    assert not any(re.search(r"\b(INSERT INTO|SELECT .* FROM)\b", e["message"]) for e in entries)


def samples(text: str, name: str) -> dict[str, float]:
    """{labels: value} of one metric family's samples in Prometheus text format."""
    found = {}
    for row in text.splitlines():
        match = re.fullmatch(rf"{name}(\{{.*\}})? (\S+)", row)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


async def scrape(app) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{app.url}/metrics") as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


def moved(before: str, after: str, name: str, labels: str) -> float:
    return samples(after, name).get(labels, 0) - samples(before, name).get(labels, 0)


async def test_metrics_move_when_a_lesson_runs(database_url, connector, graph):
    async with run_app(dev_env(database_url, graph.base_url), connector.url) as app:
        before = await scrape(app)
        await lobby_off_lesson(app, connector, graph)  # start, four joins, the SLT channel set
        await app.post_all([app.teams.meeting_end(MATHS, END)])
        after = await scrape(app)

    assert moved(before, after, "chaperone_events_received_total", '{kind="meetingStart"}') == 1
    assert moved(before, after, "chaperone_events_received_total", '{kind="meetingParticipantJoin"}') == 2
    assert moved(before, after, "chaperone_events_received_total", '{kind="meetingEnd"}') == 1
    assert moved(before, after, "chaperone_events_received_total", '{kind="message"}') == 1  # set alert channel
    assert moved(before, after, "chaperone_http_request_duration_seconds_count",
                 '{method="POST",route="/api/messages",status="200"}') == 5
    assert moved(before, after, "chaperone_graph_requests_total", '{status="200"}') >= 4
    assert moved(before, after, "chaperone_cards_total", '{kind="slt-alert",outcome="sent"}') == 1
    assert moved(before, after, "chaperone_cards_total", '{kind="reminder",outcome="sent"}') == 1
    assert moved(before, after, "chaperone_verdicts_total", '{rule="waiting-room",status="fail"}') >= 1
    assert moved(before, after, "chaperone_verdicts_total", '{rule="two-staff",status="pass"}') >= 1
    job_runs = {k: v for k, v in samples(after, "chaperone_job_duration_seconds_count").items()}
    assert any('kind="deliver"' in k and v >= 2 for k, v in job_runs.items())
    # Jobs waiting now (the attendance report's second look, the daily purge), counted in the database.
    assert sum(samples(after, "chaperone_jobs").values()) >= 1
    assert 'state="queued"' in after


async def test_graph_throttling_is_counted(database_url, connector, graph):
    async with run_app(dev_env(database_url, graph.base_url), connector.url) as app:
        graph.fail_next("GET", "/users/", 429)
        before = await scrape(app)
        await lobby_off_lesson(app, connector, graph)
        after = await scrape(app)
    assert moved(before, after, "chaperone_graph_throttled_total", "") == 1
    assert moved(before, after, "chaperone_graph_requests_total", '{status="429"}') == 1


async def test_the_privacy_notice_and_terms_pages_name_what_why_how_long_and_whom_to_ask(dev_app):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{dev_app.url}/privacy") as response:
            assert response.status == 200 and response.content_type == "text/html"
            privacy = await response.text()
        async with session.get(f"{dev_app.url}/terms") as response:
            assert response.status == 200
            terms = await response.text()
    policy = dev_app.services.policy
    assert "The data controller is Valence School" in privacy and "dpo@valence.example" in privacy
    assert "Data Protection Officer" in privacy
    for days in (policy.retention.lessons_days, policy.retention.concerns_days, policy.retention.signatures_days):
        assert f"<td>{days} days</td>" in privacy
    assert "Attendance" in privacy and "Safeguarding concerns" in privacy and "does not record" in privacy
    assert "Staff will record the length, time, date, and attendance" in privacy
    assert "Valence School" in terms and "dpo@valence.example" in terms and "/privacy" in terms
