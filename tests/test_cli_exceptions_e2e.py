"""`exceptions add` and `revoke` refuse bad input with one line and exit 2, and the audit
names the operating-system user who ran them as well as the approver (app.py as a subprocess)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from store.db import create_engine

from .helpers import POLICY, SLT, rows

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parent.parent
OS_USER = "it-lead-jo"


def run(args: list[str], database: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHAPERONE_DEV_MODE": "1", "CHAPERONE_DATABASE_URL": database, "CHAPERONE_POLICY_FILE": str(POLICY),
           "LOGNAME": OS_USER, "USER": OS_USER}
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def add(*scope: str, reason: str = "TA on a course", expires: str | None = "2099-12-18") -> list[str]:
    args = ["exceptions", "add", "--rule", "two-staff", *scope, "--reason", reason, "--approver", SLT.aad_object_id]
    return args + (["--expires", expires] if expires else [])


def audit_rows(database: str) -> list[dict]:
    async def read() -> list[dict]:
        engine = create_engine(database)
        try:
            return await rows(engine, "audit_log")
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.mark.parametrize(
    "args, words",
    [
        pytest.param(add("--lesson", "42"), "there is no lesson 42", id="missing-lesson"),
        pytest.param(add("--lesson", str(2**40)), "there is no lesson", id="lesson-id-out-of-range"),
        pytest.param(add("--meeting", "not-a-meeting"), "not a Teams meeting id", id="unknown-meeting"),
        pytest.param(add("--meeting", "MCMx", reason="   "), "--reason is empty", id="empty-reason"),
        pytest.param(add("--meeting", "MCMx", expires="2020-01-01"), "has passed", id="expiry-in-the-past"),
        pytest.param(add("--person", SLT.aad_object_id, expires=None), "give it an end with --expires", id="person-without-expiry"),
        # The policy reserves personal-account exceptions for the DSL ([exceptions] dsl_only).
        pytest.param([a if a != "two-staff" else "school-accounts-only" for a in add("--person", SLT.aad_object_id)],
                     "only the DSL can approve an exception to school-accounts-only", id="slt-approving-what-only-the-dsl-may"),
    ],
)
def test_exceptions_add_refuses_bad_input_in_one_line_with_exit_2(tmp_path, sqlite_url, args, words):
    result = run(args, sqlite_url, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and words in result.stderr and "Traceback" not in result.stderr
    listed = run(["exceptions", "list"], sqlite_url, tmp_path)
    assert listed.stdout == ""


def test_revoking_an_unknown_exception_exits_non_zero(tmp_path, sqlite_url):
    result = run(["exceptions", "revoke", "7", "--by", SLT.aad_object_id], sqlite_url, tmp_path)
    assert result.returncode == 2 and "there is no exception #7" in result.stderr and result.stderr.count("\n") == 1


def test_the_audit_names_the_os_user_as_well_as_the_approver(tmp_path, sqlite_url):
    approved = run(add("--meeting", "MCMx"), sqlite_url, tmp_path)
    assert approved.returncode == 0, approved.stderr
    revoked = run(["exceptions", "revoke", "1", "--by", SLT.aad_object_id], sqlite_url, tmp_path)
    assert revoked.returncode == 0 and "withdrawn" in revoked.stdout
    again = run(["exceptions", "revoke", "1", "--by", SLT.aad_object_id], sqlite_url, tmp_path)
    assert again.returncode == 1 and "already withdrawn" in again.stderr
    entries = [r for r in audit_rows(sqlite_url) if r["action"].startswith("exception.")]
    assert [(r["action"], r["actor"], r["actor_name"], r["details"]["os_user"]) for r in entries] == [
        ("exception.approve", SLT.aad_object_id, "Roland Gooding", OS_USER),
        ("exception.revoke", SLT.aad_object_id, "Roland Gooding", OS_USER),
    ]
