"""School data as schools export it, through the command line: `import-timetable --dry-run`
says what would change and changes nothing, an import says what it replaced, and people are
given by email/UPN as well as by object id (looked up in the Graph stand-in)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import POLICY

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parent.parent
SLT_ID = "00000000-0000-4000-8000-00000000a001"


def run(tmp_path: Path, database: str, *args: str, graph_url: str = "http://127.0.0.1:9/v1.0") -> subprocess.CompletedProcess:
    env = {**os.environ, "CHAPERONE_DEV_MODE": "1", "CHAPERONE_DATABASE_URL": database, "CHAPERONE_POLICY_FILE": str(POLICY),
           "CHAPERONE_GRAPH_BASE_URL": graph_url}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)


def test_a_dry_run_says_what_would_change_then_the_import_says_what_it_replaced(tmp_path, sqlite_url):
    first = tmp_path / "autumn.csv"
    first.write_text("Organiser,Group,Subject,Day,Start Time,End Time\n"
                     "t1@valence.example,7B,Maths,Mon,09:00,09:50\nt1@valence.example,8C,Maths,Tue,10:00,10:50\n")
    imported = run(tmp_path, sqlite_url, "import-timetable", str(first))
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 timetable entries" in imported.stdout and "2 added, 0 removed, 0 unchanged (of 0 entries in place)" in imported.stdout

    second = tmp_path / "spring.csv"
    second.write_text("Teacher,Class,Subject,Day of Week,Start,End\n"
                      "t1@valence.example,7B,Maths,Monday,09:00,09:50\nt2@valence.example,9A,PSHE,Thu,13:00,13:45\n")
    dry = run(tmp_path, sqlite_url, "import-timetable", str(second), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "1 added, 1 removed, 1 unchanged (of 2 entries in place)" in dry.stdout and "Nothing was changed" in dry.stdout
    assert "+ t2@valence.example every Thursday 13:00-13:45 9A PSHE" in dry.stdout
    assert "- t1@valence.example every Tuesday 10:00-10:50 8C Maths" in dry.stdout
    replaced = run(tmp_path, sqlite_url, "import-timetable", str(second))
    assert "1 added, 1 removed, 1 unchanged (of 2 entries in place)" in replaced.stdout
    again = run(tmp_path, sqlite_url, "import-timetable", str(second), "--dry-run")
    assert "0 added, 0 removed, 2 unchanged" in again.stdout


def test_exceptions_take_people_by_email(tmp_path, sqlite_url, graph):
    graph.add_person(SLT_ID, primary_role="teacher", name="Roland Gooding", upn="roland.gooding@valence.example")
    graph.add_person("aad-ta-0002", primary_role="teacher", name="Tom Hale", upn="tom.hale@valence.example")
    added = run(tmp_path, sqlite_url, "exceptions", "add", "--rule", "two-staff", "--person", "Tom.Hale@valence.example",
                "--reason", "covers alone on Fridays", "--approver", "roland.gooding@valence.example", "--expires", "2099-07-21",
                graph_url=graph.base_url)
    assert added.returncode == 0, added.stderr
    assert "approved by Roland Gooding" in added.stdout
    listed = run(tmp_path, sqlite_url, "exceptions", "list")
    assert "person aad-ta-0002" in listed.stdout
    unknown = run(tmp_path, sqlite_url, "exceptions", "revoke", "1", "--by", "nobody@valence.example", graph_url=graph.base_url)
    assert unknown.returncode == 2 and "cannot find nobody@valence.example in the directory" in unknown.stderr
    revoked = run(tmp_path, sqlite_url, "exceptions", "revoke", "1", "--by", "roland.gooding@valence.example", graph_url=graph.base_url)
    assert revoked.returncode == 0 and "withdrawn" in revoked.stdout
