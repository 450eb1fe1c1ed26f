"""`python app.py export lessons|attendance|findings|concerns|audit --from --to`: the tab's
columns, for the whole school, compared with the database, audited; bad arguments refused."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import END, MATHS, POLICY, lobby_off_lesson, rows

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parent.parent


def export(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHAPERONE_DEV_MODE": "1", "CHAPERONE_POLICY_FILE": str(POLICY), "CHAPERONE_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), "export", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


async def test_the_exports_are_what_the_database_holds(dev_app, connector, graph, database_url, tmp_path):
    await lobby_off_lesson(dev_app, connector, graph)
    await dev_app.post_all([dev_app.teams.meeting_end(MATHS, END)])
    engine = dev_app.services.engine
    lessons, findings = await rows(engine, "lessons"), await rows(engine, "findings")

    result = export(database_url, "lessons", "--from", "2026-11-23", "--to", "2026-11-23", "--out", str(tmp_path / "l.csv"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [row] = list(csv.DictReader((tmp_path / "l.csv").open(encoding="utf-8")))
    assert int(row["lesson_id"]) == lessons[0]["id"] and row["title"] == "Year 7 Maths" and row["verdict"] == "breach"
    assert set(row["failed_rules"].split()) == {f["rule_id"] for f in findings if f["status"] == "fail"} != set()
    assert (row["staff"], row["pupils"]) == ("2", "2")

    result = export(database_url, "findings", "--from", "2026-11-23", "--to", "2026-11-23", cwd=tmp_path)
    got = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted((r["rule"], r["status"]) for r in got) == sorted((f["rule_id"], f["status"]) for f in findings)
    assert export(database_url, "findings", "--from", "2026-11-24", "--to", "2026-11-30", cwd=tmp_path).stdout.count("\n") == 1  # header only

    audited = [r for r in await rows(engine, "audit_log") if r["action"] == "cli.export"]
    assert [(a["target"], a["details"]["rows"]) for a in audited] == [("export:lessons", 1), ("export:findings", len(findings)), ("export:findings", 0)]


def test_an_export_without_its_dates_is_refused_in_one_line(tmp_path, sqlite_url):
    result = export(sqlite_url, "attendance", cwd=tmp_path)
    assert result.returncode == 2 and "needs --from and --to" in result.stderr and result.stderr.count("\n") == 1
    result = export(sqlite_url, "audit", "--from", "2026-11-23", "--to", "2026-11-01", cwd=tmp_path)
    assert result.returncode == 2 and "--to is before --from" in result.stderr
