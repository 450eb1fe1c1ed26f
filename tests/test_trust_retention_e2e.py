"""Retention in a trust: each school's records go by its own policy's [retention]; what is kept
under the trust default policy's id, under no school, or under a school no longer in the trust
file goes by the default policy's. `purge` (the CLI) does it for every school, on each database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import async_sessionmaker

from config.trust import load_schools
from domain.lesson import LessonStatus
from store.db import create_engine, migrate
from store.register import audit
from store.retention import purge_schools
from store.signatures import SignatureRegister
from store.tables import AuditRow, SignatureRow

from .helpers import (
    BROOK_PUPIL, BROOK_READING, BROOK_TEACHER, MATHS, PUPIL_A, SHARED_TEACHER, TEACHER, dev_env, minutes, rows, run_app, run_cli,
    script_trust_people, trust_variant,
)

pytestmark = pytest.mark.e2e

SHORTER_AT_BROOK = {"brook": {"lessons_days = 400": "lessons_days = 30", "signatures_days = 2190": "signatures_days = 30"},
                    "default": {"audit_days = 2190": "audit_days = 30"}}


async def test_purge_deletes_brooks_old_lesson_and_keeps_valences_of_the_same_age(tmp_path, any_database_url, connector, graph):
    script_trust_people(graph)
    env = dev_env(any_database_url, graph.base_url, CHAPERONE_POLICY_FILE=trust_variant(tmp_path, **SHORTER_AT_BROOK))
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=60)  # older than Brook's 30 days, not Valence's 400
    async with run_app(env, connector.url) as app:
        teams = app.teams
        for meeting in (MATHS, BROOK_READING):
            connector.add_meeting(meeting.id, meeting.info(at, at + minutes(40)))
        await app.post_all([
            teams.meeting_start(MATHS, at), teams.join(MATHS, [TEACHER, PUPIL_A], at + minutes(1)), teams.meeting_end(MATHS, at + minutes(40)),
            teams.meeting_start(BROOK_READING, at), teams.join(BROOK_READING, [BROOK_TEACHER, BROOK_PUPIL], at + minutes(1)),
            teams.meeting_end(BROOK_READING, at + minutes(40)),
        ])
        lessons = {l.meeting_id: l for l in await app.services.lessons.list_lessons()}
        assert {l.school_id for l in lessons.values()} == {"valence", "brook"}
        assert {l.status for l in lessons.values()} == {LessonStatus.closed}

    # One school's purge leaves the other's records alone.
    valence_only = run_cli(["purge", "--school", "valence"], env, tmp_path)
    assert valence_only.returncode == 0, valence_only.stderr
    assert valence_only.stdout.startswith("Valence School (valence):\n") and "Brook" not in valence_only.stdout
    purged = run_cli(["purge"], env, tmp_path)
    assert purged.returncode == 0, purged.stderr
    sections = _sections(purged.stdout)
    assert list(sections) == ["Valence School (valence):", "Brook Primary School (brook):", "Riverside Learning Trust (trust):"]
    assert "     1 lessons deleted" in sections["Brook Primary School (brook):"]
    assert "     0 lessons deleted" in sections["Valence School (valence):"]

    engine = create_engine(any_database_url)
    try:
        left = await rows(engine, "lessons")
        assert [(r["meeting_id"], r["school_id"]) for r in left] == [(MATHS.id, "valence")]
        assert {r["lesson_id"] for r in await rows(engine, "attendance")} == {left[0]["id"]}  # Brook's attendance went with it
    finally:
        await engine.dispose()


def _sections(stdout: str) -> dict[str, str]:
    """`purge`'s output in a trust: a heading line per school, then its counts."""
    found: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        if not line.startswith(" "):
            current = line
            found[current] = []
        else:
            assert current is not None, stdout
            found[current].append(line)
    return {heading: "\n".join(lines) for heading, lines in found.items()}


async def test_each_schools_signatures_and_audit_by_its_own_retention(tmp_path, any_database_url):
    # A repository: on each database.
    schools = load_schools(Path(trust_variant(tmp_path, **SHORTER_AT_BROOK)))
    engine = create_engine(any_database_url)
    await migrate(engine)
    try:
        signatures = SignatureRegister(engine)
        for school_id, version in (("valence", "2022-11"), ("brook", "2023-09")):
            await signatures.sign(aad_object_id=SHARED_TEACHER.aad_object_id, tenant_id=None, name=SHARED_TEACHER.name,
                                  position="Teacher", version=version, sha256="0" * 64, school_id=school_id)
        sessions = async_sessionmaker(engine)
        async with sessions() as session, session.begin():
            # The trust's own (no school), the default policy's, a school since left the trust, and each school's.
            for school_id in (None, "trust", "left-the-trust", "valence", "brook"):
                audit(session, "tester", "test.entry", None, {"school": school_id}, school_id=school_id)
        now = datetime.now(timezone.utc)
        async with engine.begin() as conn:  # everything 60 days old
            await conn.execute(update(SignatureRow).values(signed_at=now - timedelta(days=60)))
            await conn.execute(update(AuditRow).values(at=now - timedelta(days=60)))

        counts = await purge_schools(engine, schools, now)
        assert set(counts) == {"valence", "brook", "trust"}
        assert (counts["brook"]["AUP signatures"], counts["valence"]["AUP signatures"]) == (1, 0)
        assert [(s.school_id, s.version) for s in await signatures.all("valence")] == [("valence", "2022-11")]
        assert await signatures.all("brook") == []
        # The default policy's 30 days: no school, its own id, and a school no longer in the file.
        assert counts["trust"]["audit entries"] == 3 and counts["valence"]["audit entries"] == 0 and counts["brook"]["audit entries"] == 0
        kept = {r["details"].get("school") for r in await rows(engine, "audit_log") if r["action"] == "test.entry"}
        assert kept == {"valence", "brook"}
        # Each school's purge is audited under its own id.
        purges = {r["school_id"] for r in await rows(engine, "audit_log") if r["action"] == "retention.purge"}
        assert purges == {"valence", "brook", "trust"}
    finally:
        await engine.dispose()
