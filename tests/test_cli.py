"""The admin commands, run as an IT lead would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import POLICY, SLT, TEACHER

pytestmark = pytest.mark.e2e  # each test runs app.py in a subprocess

ROOT = Path(__file__).parent.parent


def run(args: list[str], database: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHAPERONE_DEV_MODE": "1", "CHAPERONE_DATABASE_URL": database, "CHAPERONE_POLICY_FILE": str(POLICY)}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_rules_lists_every_rule_with_clause_and_whether_it_is_on(tmp_path, sqlite_url):
    result = run(["rules"], sqlite_url, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 24
    # Reading staff sign-in logs and chat lists is for the school to switch on; everything else is on.
    assert [line.split()[1] for line in lines if not line.startswith("[on ]")] == ["managed-device", "staff-pupil-chats"]
    assert "[on ] meeting-chat           info" in result.stdout
    assert '"Appropriate privacy and safety settings will be used to manage access and interactions. This includes: Use of waiting rooms"' in result.stdout


def test_a_timetable_with_bad_rows_imports_nothing(tmp_path, sqlite_url):
    bad = tmp_path / "tt.csv"
    bad.write_text("organizer,class,subject,day,start,end\na@b,7B,Maths,Monday,09:00,09:50\na@b,7C,Maths,Monday,25:00,09:50\n")
    result = run(["import-timetable", str(bad)], sqlite_url, tmp_path)
    assert result.returncode == 2
    assert "nothing imported" in result.stderr and "line 3: start '25:00' is not a time" in result.stderr
    good = tmp_path / "good.csv"
    good.write_text("organizer,class,subject,day,start,end\na@b,7B,Maths,Monday,09:00,09:50\n")
    result = run(["import-timetable", str(good)], sqlite_url, tmp_path)
    assert result.returncode == 0 and "imported 1 timetable entries" in result.stdout


def test_only_slt_or_the_dsl_can_approve_an_exception(tmp_path, sqlite_url):
    base = ["exceptions", "add", "--rule", "two-staff", "--meeting", "MCMx", "--reason", "TA on a course", "--expires", "2099-12-18"]
    refused = run([*base, "--approver", TEACHER.aad_object_id], sqlite_url, tmp_path)
    assert refused.returncode == 2 and "is not SLT or the DSL" in refused.stderr
    approved = run([*base, "--approver", SLT.aad_object_id], sqlite_url, tmp_path)
    assert approved.returncode == 0 and "approved by Roland Gooding" in approved.stdout
    listed = run(["exceptions", "list"], sqlite_url, tmp_path)
    assert "#1 two-staff series MCMx by Roland Gooding (until 2099-12-19 00:00): TA on a course" in listed.stdout


def test_the_staff_pupil_chats_report_says_it_is_off_until_the_school_turns_it_on(tmp_path, sqlite_url):
    result = run(["report", "staff-pupil-chats"], sqlite_url, tmp_path)
    assert result.returncode == 2 and "[rules.staff-pupil-chats] enabled = true" in result.stderr
    assert "Traceback" not in result.stderr
