"""The trust view (the trust's leads only) and the per-school exports of the command line, in
the example two-school trust run for real: each school's lessons, breaches by rule, alerts and
how fast they were acknowledged, what could not be verified, and coverage, side by side with the
trust's totals, checked against what the database holds; the lessons no school claimed listed
with why; the CSV of the same; `export` and `coverage` per school with --school."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections import Counter
from html import escape
from pathlib import Path

import pytest

from .helpers import (
    BROOK_DSL, SHARED_TEACHER, TRUST_FILE, TRUST_LEAD, rows, run_app, run_app_with_tab, script_trust_people, seed_two_schools,
    tab_get as get, tab_settings, tab_token, trust_env,
)

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parent.parent
# Alerts and concerns are dated when they were written (now), lessons on the lesson clock (2026-11-23).
MONTH = "from=2026-11-01&to=2028-12-31"


@pytest.fixture
async def trust_tab(database_url, connector, graph, entra):
    script_trust_people(graph)
    async with run_app_with_tab(trust_env(database_url, graph.base_url), connector.url, tab_settings(entra)) as running:
        running.lesson_ids = await seed_two_schools(running, connector, graph, unknown=True)
        yield running


async def held(app) -> dict[str, dict]:
    """Each school's figures as the database holds them, counted here from the raw rows."""
    engine = app.services.engine
    lessons = {l["id"]: l for l in await rows(engine, "lessons")}
    out: dict[str, dict] = {}
    for lesson in lessons.values():
        out.setdefault(lesson["school_id"], {"lessons": 0, "breaches": Counter(), "alerts": 0, "unverified": 0})["lessons"] += 1
    for f in await rows(engine, "findings"):
        school = out[lessons[f["lesson_id"]]["school_id"]]
        if f["status"] == "fail" and f["severity"] == "breach":
            school["breaches"][f["rule_id"]] += 1
        if f["status"] == "could-not-verify":
            school["unverified"] += 1
    for m in await rows(engine, "messages"):
        if m["kind"] == "slt-alert":
            out[lessons[m["lesson_id"]]["school_id"]]["alerts"] += 1
    return out


async def test_the_trust_view_puts_each_school_beside_the_trusts_totals(trust_tab, entra):
    app = trust_tab
    lessons = {l["school_id"]: l for l in await rows(app.services.engine, "lessons")}
    assert lessons["trust"]["placement"] == "unknown" and lessons["trust"]["title"] == "Saturday Robotics Club"
    # The trust lead acknowledges Valence's alert (an acting lead may), so Valence has a time to acknowledge.
    valence_alert = next(m for m in await rows(app.services.engine, "messages")
                         if m["kind"] == "slt-alert" and m["lesson_id"] == lessons["valence"]["id"])
    answered, _ = await app.teams.post(app.teams.card_action("acknowledge", {"alertId": valence_alert["id"]}, TRUST_LEAD,
                                                             conversation_id="19:trust-leads@thread.tacv2", conversation_type="channel"))
    assert answered == 200
    [state] = [s for s in await rows(app.services.engine, "alert_states") if s["alert_id"] == valence_alert["id"]]
    assert state["acknowledged_at"] is not None

    lead = tab_token(entra, TRUST_LEAD.aad_object_id, TRUST_LEAD.name)
    status, body, _ = await get(app, f"/tab/api/trust?{MONTH}", lead)
    assert status == 200 and "Riverside Learning Trust" in body
    assert "School unknown (1)" in body and "Saturday Robotics Club" in body and escape(lessons["trust"]["placement_reason"]) in body

    status, text, headers = await get(app, f"/tab/api/trust.csv?{MONTH}", lead)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    got = list(csv.DictReader(io.StringIO(text)))

    def figure(school: str, measure: str, item: str = "") -> str:
        [row] = [r for r in got if r["school_id"] == school and r["measure"] == measure and r["item"] == item]
        return row["value"]

    expected = await held(app)
    assert set(expected) == {"valence", "brook", "trust"}
    for school, facts in expected.items():
        assert int(figure(school, "lessons")) == facts["lessons"] == 1
        assert {r["item"]: int(r["value"]) for r in got if r["school_id"] == school and r["measure"] == "breaches by rule"} == dict(facts["breaches"])
        assert int(figure(school, "slt alerts")) == facts["alerts"]
        assert int(figure(school, "could not verify", "findings")) == facts["unverified"]
        assert (figure(school, "coverage", "sessions with pupils"), figure(school, "coverage", "followed live")) == ("1", "1")
    assert expected["valence"]["breaches"]["waiting-room"] == 1 and expected["valence"]["alerts"] >= 1
    ack = (state["acknowledged_at"] - valence_alert["created_at"]).total_seconds() / 60
    assert float(figure("valence", "minutes to acknowledge", "median")) == pytest.approx(ack, abs=0.1)
    assert float(figure("valence", "minutes to acknowledge", "p90")) == pytest.approx(ack, abs=0.1)
    assert figure("brook", "minutes to acknowledge", "median") == ""  # nobody acknowledged Brook's
    assert int(figure("(trust)", "lessons")) == 3
    assert int(figure("(trust)", "slt alerts")) == sum(f["alerts"] for f in expected.values())
    assert {r["item"]: int(r["value"]) for r in got if r["school_id"] == "(trust)" and r["measure"] == "breaches by rule"} == dict(
        sum((f["breaches"] for f in expected.values()), Counter()))
    [unknown] = [r for r in got if r["measure"] == "school unknown"]
    assert unknown["school_id"] == "trust" and "Saturday Robotics Club" in unknown["item"]
    [download] = [r for r in await rows(app.services.engine, "audit_log") if r["action"] == "tab.download"]
    assert download["target"] == "export:trust" and download["actor"] == TRUST_LEAD.aad_object_id


async def test_only_the_trusts_leads_open_the_trust_view(trust_tab, entra):
    for person in (BROOK_DSL, SHARED_TEACHER):
        token = tab_token(entra, person.aad_object_id, person.name)
        for path in (f"/tab/api/trust?{MONTH}", f"/tab/api/trust.csv?{MONTH}"):
            status, body, _ = await get(trust_tab, path, token)
            assert status == 403 and "Year 7 Maths" not in body and "Saturday Robotics Club" not in body, (person.name, path)


def cli(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHAPERONE_DEV_MODE": "1", "CHAPERONE_POLICY_FILE": str(TRUST_FILE), "CHAPERONE_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


async def test_the_command_line_exports_one_school_at_a_time(database_url, connector, graph, tmp_path):
    # The record is made by the app, which is then stopped: the commands run as an operator would, on its database.
    script_trust_people(graph)
    async with run_app(trust_env(database_url, graph.base_url), connector.url) as app:
        await seed_two_schools(app, connector, graph, unknown=True)
    day = ("--from", "2026-11-23", "--to", "2026-11-23")
    for school, title, other in (("valence", "Year 7 Maths", "Year 3 Reading"), ("brook", "Year 3 Reading", "Year 7 Maths")):
        result = cli(database_url, "export", "lessons", *day, "--school", school, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        [row] = list(csv.DictReader(io.StringIO(result.stdout)))
        assert row["title"] == title and other not in result.stdout
        result = cli(database_url, "export", "concerns", "--from", "2026-11-01", "--to", "2028-12-31", "--school", school, cwd=tmp_path)
        [concern] = list(csv.DictReader(io.StringIO(result.stdout)))
        assert concern["lesson_title"] == title
        result = cli(database_url, "coverage", *day, "--school", school, cwd=tmp_path)
        assert result.returncode == 0 and ("Ms Amara Okafor" in result.stdout) == (school == "valence")
        assert ("Mrs Nia Evans" in result.stdout) == (school == "brook") and "Mr Drew Visiting" not in result.stdout
    result = cli(database_url, "export", "lessons", *day, cwd=tmp_path)
    assert result.returncode == 2 and "say which with --school (valence, brook)" in result.stderr and result.stdout == ""
    result = cli(database_url, "export", "lessons", *day, "--school", "atlantis", cwd=tmp_path)
    assert result.returncode == 2 and "--school atlantis: not one of" in result.stderr and result.stdout == ""
    async with run_app(trust_env(database_url, graph.base_url), connector.url) as app:
        exports = [r for r in await rows(app.services.engine, "audit_log") if r["action"] == "cli.export"]
    assert [(r["school_id"], r["details"]["school"]) for r in exports] == [("valence", "valence")] * 2 + [("brook", "brook")] * 2
