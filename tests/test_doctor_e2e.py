"""`python app.py doctor` against the stand-ins: each kind of missing piece is named in plain
words with what to fix, and the exit status is non-zero when something needed is missing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import SLT, SLT_CHANNEL, SLT_TEAM, TEACHER, dev_env, run_app, trust_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parent.parent
TEACHER_UPN = "ms.amara.okafor@school.example"  # as the Graph stand-in names her


async def doctor(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # In a thread: the app under test runs on this test's event loop and must keep answering.
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, str(ROOT / "app.py"), "doctor", *args], env={**os.environ, **env}, cwd=cwd,
        capture_output=True, text=True, timeout=120,
    )


def line(output: str, check: str) -> str:
    [found] = [l for l in output.splitlines() if f"] {check}:" in l]
    return found


@pytest.fixture
def school(graph):
    graph.add_person(TEACHER.aad_object_id, primary_role="teacher", name=TEACHER.name)
    return graph


async def complete(app, graph, database_url) -> dict[str, str]:
    """A deployment with everything in place (dev mode apart): the SLT channel set, the public URL answering."""
    await app.post_all([app.teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL)])
    return dev_env(database_url, graph.base_url, CHAPERONE_PUBLIC_URL=app.url)


async def test_a_complete_deployment_passes_and_says_what_it_checked(database_url, connector, school, tmp_path):
    async with run_app(dev_env(database_url, school.base_url), connector.url) as app:
        result = await doctor(await complete(app, school, database_url), tmp_path, "--organizer", TEACHER_UPN)
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("database", "graph permissions", "teams access policy", "public url", "slt alert channel", "policy file"):
        assert line(result.stdout, check).startswith("[ok  ]"), check
    assert "migrated" in line(result.stdout, "database")
    assert line(result.stdout, "bot credentials").startswith("[WARN]")  # dev mode is said out loud
    assert "0 problem(s)" in result.stdout


async def test_a_missing_graph_permission_is_named_with_where_to_grant_it(database_url, connector, school, tmp_path):
    # (ReadWrite would cover Read, so both go.)
    school.entra.granted -= {"OnlineMeetings.ReadWrite.All", "OnlineMeetings.Read.All", "Calendars.Read"}
    async with run_app(dev_env(database_url, school.base_url), connector.url) as app:
        result = await doctor(await complete(app, school, database_url), tmp_path, "--organizer", TEACHER_UPN)
    assert result.returncode == 1
    said = line(result.stdout, "graph permissions")
    assert said.startswith("[FAIL]") and "lacks 2 application permission(s)" in said
    assert "Calendars.Read" in said and "OnlineMeetings.Read.All" in said and "EduRoster" not in said
    assert "Grant admin consent" in result.stdout
    assert "1 problem(s)" in result.stdout


async def test_a_missing_access_policy_for_the_organizer_is_named_with_the_powershell_to_fix_it(database_url, connector, school, tmp_path):
    school.denied.add(TEACHER.aad_object_id)
    async with run_app(dev_env(database_url, school.base_url), connector.url) as app:
        result = await doctor(await complete(app, school, database_url), tmp_path, "--organizer", TEACHER_UPN)
    assert result.returncode == 1
    said = line(result.stdout, "teams access policy")
    assert said.startswith("[FAIL]") and f"no Teams application access policy lets Chaperone read {TEACHER_UPN}'s meetings" in said
    assert "Grant-CsApplicationAccessPolicy" in result.stdout and "-Group" in result.stdout
    assert line(result.stdout, "graph permissions").startswith("[ok  ]")  # the permission is there; the policy is not


async def test_a_database_that_is_down_is_named_and_the_exit_status_is_non_zero(graph, tmp_path):
    # Nothing listens on port 1: the database is down.
    env = dev_env("postgresql+asyncpg://chaperone@127.0.0.1:1/chaperone", graph.base_url)
    result = await doctor(env, tmp_path)
    assert result.returncode == 1
    said = line(result.stdout, "database")
    assert said.startswith("[FAIL]") and "cannot reach the database at 127.0.0.1:1/chaperone" in said
    assert "fix: start the database, or fix CHAPERONE_DATABASE_URL" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


async def test_a_database_never_migrated_is_named(graph, tmp_path):
    result = await doctor(dev_env(f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3", graph.base_url), tmp_path)
    assert result.returncode == 1
    assert "has no Chaperone schema yet" in line(result.stdout, "database") and "python app.py migrate" in result.stdout


async def test_a_trust_is_checked_school_by_school(database_url, connector, graph, tmp_path):
    """Each school's alert channel is its own: doctor names the schools whose SLT have not set one."""
    async with run_app(trust_env(database_url, graph.base_url), connector.url) as app:
        result = await doctor(trust_env(database_url, graph.base_url, CHAPERONE_PUBLIC_URL=app.url), tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Riverside Learning Trust: 2 schools (Valence School, Brook Primary School)" in line(result.stdout, "policy file")
    for school in ("Valence School", "Brook Primary School", "Riverside Learning Trust"):
        found = line(result.stdout, f"slt alert channel ({school})")
        assert found.startswith("[FAIL]") and "no channel receives breach alerts" in found
    assert line(result.stdout, "placement").startswith("[ok  ]")
