"""`python app.py enrol`, `python app.py subscriptions` and `python app.py coverage --from --to`,
run as the operator runs them, against the Graph stand-in and the database the app wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from standins.teams import Meeting

from .helpers import (
    APP_ID,
    END,
    MATHS,
    POLICY,
    PUPIL_A,
    PUPIL_B,
    T0,
    TA,
    TEACHER,
    enrolling_app,
    minutes,
    script,
    sign_aup,
    staff_and_pupils,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parent.parent
SCIENCE = Meeting("19:meeting_science8c@thread.v2", "Year 8 Science", TEACHER)
ART = Meeting("19:meeting_art9a@thread.v2", "Year 9 Art", TEACHER)


def cli(database_url: str, graph, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHAPERONE_DEV_MODE": "1", "CHAPERONE_POLICY_FILE": str(POLICY), "CHAPERONE_DATABASE_URL": database_url,
           "CHAPERONE_GRAPH_BASE_URL": graph.base_url, "CHAPERONE_TEAMS_APP_ID": APP_ID, "CHAPERONE_GRAPH_TIMEOUT_SECONDS": "5"}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


async def test_enrol_prints_what_one_sweep_did(database_url, connector, graph, tmp_path):
    script(graph, connector)
    staff_and_pupils(graph, staff=(TEACHER, TA), pupils=(PUPIL_A, PUPIL_B))
    soon = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=3)
    for meeting, start, invited in ((SCIENCE, soon, (PUPIL_A,)), (ART, soon + timedelta(hours=1), (TA,))):
        graph.add_meeting(TEACHER.aad_object_id, meeting.online_meeting(start, start + minutes(50)))
        graph.calendars[TEACHER.aad_object_id].append(meeting.calendar_event(start, start + minutes(50), attendees=invited))
    graph.publish_app(APP_ID)

    first = cli(database_url, graph, "enrol", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert any(line.startswith("enrolled") and "Year 8 Science" in line and "1 pupil(s) invited" in line for line in lines), first.stdout
    assert any(line.startswith("skipped") and "Year 9 Art" in line and "no pupils invited" in line for line in lines), first.stdout
    assert "1 enrolled, 0 already there, 1 skipped, 0 could not enrol" in first.stdout
    assert ("chats", SCIENCE.thread_id) in graph.teamwork.installed

    again = cli(database_url, graph, "enrol", cwd=tmp_path)
    assert again.returncode == 0 and "0 enrolled, 1 already there, 1 skipped" in again.stdout
    assert any(line.startswith("already there") and "Year 8 Science" in line for line in again.stdout.splitlines())

    # A meeting Chaperone may not be installed in: said, and the exit status says so.
    graph.teamwork.refuse_install.add(("chats", ART.thread_id))
    graph.calendars[TEACHER.aad_object_id][-1] = ART.calendar_event(soon + timedelta(hours=1), soon + timedelta(hours=2),
                                                                     attendees=(PUPIL_B,))
    refused = cli(database_url, graph, "enrol", cwd=tmp_path)
    assert refused.returncode == 1
    assert any(line.startswith("could not enrol") and "Year 9 Art" in line and "Graph denied access" in line
               for line in refused.stdout.splitlines()), refused.stdout


async def test_subscriptions_and_coverage_report_what_the_database_holds(database_url, connector, graph, tmp_path):
    script(graph, connector)
    staff_and_pupils(graph, staff=(TEACHER, TA), pupils=(PUPIL_A, PUPIL_B))
    graph.add_meeting(TEACHER.aad_object_id, SCIENCE.online_meeting(T0 + minutes(60), T0 + minutes(110)))
    graph.calendars[TEACHER.aad_object_id].append(SCIENCE.calendar_event(T0 + minutes(60), T0 + minutes(110), attendees=(PUPIL_A,)))
    graph.teamwork.refuse_install.add(("chats", SCIENCE.thread_id))
    record = "2f1a1ad5-0000-4000-8000-0000000000d5"
    start, end = T0 + minutes(300), T0 + minutes(320)
    graph.add_call_record(record, kind="peerToPeer", organizer=(TEACHER.aad_object_id, TEACHER.name, TEACHER.tenant_id),
                          start=start, end=end, participants=[(p.aad_object_id, p.name, p.tenant_id, start, end) for p in (TEACHER, PUPIL_B)])
    async with enrolling_app(database_url, connector, graph) as app:
        await app.services.enrolment.sweep(now=T0 - timedelta(hours=2))
        await sign_aup(app, TEACHER, TA)
        teams = app.teams
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
                            teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(1)), teams.meeting_end(MATHS, END)])
        await app.services.subscriptions.maintain()
        assert await app.services.unmonitored.process(record) is not None
        held = await app.services.subscriptions.held()

    listed = cli(database_url, graph, "subscriptions", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    for s in held:
        assert any(s.id in line and s.resource in line and f"expires {s.expires_at:%Y-%m-%d %H:%M} UTC" in line
                   for line in listed.stdout.splitlines()), listed.stdout
    assert "call-records" in listed.stdout and f"users/{TEACHER.aad_object_id}/events" in listed.stdout

    report = cli(database_url, graph, "coverage", "--from", "2026-11-23", "--to", "2026-11-23", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    [row] = [line for line in report.stdout.splitlines() if line.startswith("2026-11-23")]
    assert row.split()[-4:] == ["2", "1", "1", "1"] and TEACHER.name in row  # with pupils, live, afterwards, could not enrol
    assert "could not enrol: Year 8 Science: Chaperone could not be installed: " in report.stdout
    empty = cli(database_url, graph, "coverage", "--from", "2026-11-24", "--to", "2026-11-30", cwd=tmp_path)
    assert empty.stdout.splitlines()[-1].split()[-4:] == ["0", "0", "0", "0"]
    backwards = cli(database_url, graph, "coverage", "--from", "2026-11-24", "--to", "2026-11-01", cwd=tmp_path)
    assert backwards.returncode == 2 and "--to is before --from" in backwards.stderr
