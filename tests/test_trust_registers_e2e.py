"""A trust's registers through the command line, school by school: an import replaces only the
named school's timetable or consent forms, and its lessons read only their own school's; an
exception is in one school's register, approved by that school's SLT, and applies only to that
school's lessons. The CLI runs as a subprocess, the app is the real one, on each database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.findings import Severity, Status
from standins.teams import Meeting
from store.db import create_engine
from store.register import ExceptionRegister
from store.timetable_view import current_timetable

from .helpers import (
    BROOK_PUPIL, BROOK_READING, BROOK_SLT, BROOK_TEACHER, MATHS, POLICY, PUPIL_A, T0, TEACHER, VALENCE_SLT, minutes, run_app, run_cli,
    script_trust_people, trust_env,
)

pytestmark = pytest.mark.e2e

BROOK_ART = Meeting("19:meeting_brook_art3@thread.v2", "Year 3 Art", BROOK_TEACHER)
TIMETABLE = "organizer,class,subject,day,start,end\n"
CONSENTS = "pupil,kind,given_on,expires_on\n"


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


async def run_lessons(app, connector, lessons: list[tuple[Meeting, object, list]]) -> dict:
    """Each (meeting, start, people) started and joined; the lessons by meeting id with their findings by rule."""
    for meeting, at, _ in lessons:
        connector.add_meeting(meeting.id, meeting.info(at, at + minutes(50)))
    activities = []
    for meeting, at, people in lessons:
        activities += [app.teams.meeting_start(meeting, at), app.teams.join(meeting, people, at + minutes(1))]
    await app.post_all(activities)
    found = {}
    for lesson in await app.services.lessons.list_lessons():
        found[lesson.meeting_id] = (lesson, {f.rule_id: f for f in await app.services.findings.for_lesson(lesson.id)})
    return found


async def timetable_of(database: str, school_id: str) -> list[tuple[str, str]]:
    engine = create_engine(database)
    try:
        return sorted((e.organizer, e.class_label or "") for e in await current_timetable(engine, school_id=school_id))
    finally:
        await engine.dispose()


async def test_imports_replace_only_the_named_schools_register_and_lessons_read_their_own(tmp_path, any_database_url, connector, graph):
    script_trust_people(graph)
    env = trust_env(any_database_url, graph.base_url)
    # Valence's timetable names Brook's teacher at 14:00 (a decoy only Valence's register holds).
    valence = write(tmp_path, "valence.csv", TIMETABLE + f"{TEACHER.aad_object_id},7B,Maths,Monday,16:00,16:50\n"
                                                        f"{BROOK_TEACHER.aad_object_id},Decoy,Art,Monday,14:00,14:50\n")
    brook = write(tmp_path, "brook.csv", TIMETABLE + f"{BROOK_TEACHER.aad_object_id},3R,Reading,Monday,16:00,16:50\n")
    unnamed = run_cli(["import-timetable", brook], env, tmp_path)
    assert unnamed.returncode == 2 and "say which with --school (valence, brook)" in unnamed.stderr
    unknown = run_cli(["import-timetable", brook, "--school", "elsewhere"], env, tmp_path)
    assert unknown.returncode == 2 and "--school elsewhere: not one of Riverside Learning Trust's schools" in unknown.stderr

    done = run_cli(["import-timetable", valence, "--school", "valence"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "imported 2 timetable entries for Valence School" in done.stdout
    done = run_cli(["import-timetable", brook, "--school", "brook"], env, tmp_path)
    assert "imported 1 timetable entries for Brook Primary School" in done.stdout
    assert "1 added, 0 removed, 0 unchanged (of 0 entries in place)" in done.stdout  # Brook's own register was empty
    dry = run_cli(["import-timetable", brook, "--school", "brook", "--dry-run"], env, tmp_path)
    assert "0 added, 0 removed, 1 unchanged (of 1 entries in place)" in dry.stdout  # compared with Brook's alone
    assert await timetable_of(any_database_url, "valence") == sorted([(TEACHER.aad_object_id, "7B Maths"), (BROOK_TEACHER.aad_object_id, "Decoy Art")])
    assert await timetable_of(any_database_url, "brook") == [(BROOK_TEACHER.aad_object_id, "3R Reading")]

    # Consent forms: Valence's register has both pupils' forms, Brook's only someone else's.
    forms = write(tmp_path, "valence-consent.csv", CONSENTS + f"{PUPIL_A.aad_object_id},remote-learning,2026-09-01,\n"
                                                             f"{BROOK_PUPIL.aad_object_id},remote-learning,2026-09-01,\n")
    done = run_cli(["import-consent", forms, "--school", "valence"], env, tmp_path)
    assert done.returncode == 0 and "imported 2 consent records for Valence School" in done.stdout, done.stderr
    other = write(tmp_path, "brook-consent.csv", CONSENTS + "aad-pupil-0999,remote-learning,2026-09-01,\n")
    assert run_cli(["import-consent", other, "--school", "brook"], env, tmp_path).returncode == 0

    at4, at2 = T0 + timedelta(hours=7), T0 + timedelta(hours=5)  # Monday 16:00 and 14:00 in London
    async with run_app(env, connector.url) as app:
        found = await run_lessons(app, connector, [
            (MATHS, at4, [TEACHER, PUPIL_A]), (BROOK_READING, at4, [BROOK_TEACHER, BROOK_PUPIL]),
            (BROOK_ART, at2, [BROOK_TEACHER, BROOK_PUPIL]),
        ])
    (maths, maths_f), (reading, reading_f), (art, art_f) = found[MATHS.id], found[BROOK_READING.id], found[BROOK_ART.id]
    assert (maths.school_id, reading.school_id, art.school_id) == ("valence", "brook", "brook")
    assert maths_f["timetabled"].status is Status.passed and "7B" in maths_f["timetabled"].message
    assert reading_f["timetabled"].status is Status.passed and "3R" in reading_f["timetabled"].message
    # Valence's decoy at 14:00 is not Brook's timetable: Brook's lesson then is not timetabled.
    assert art_f["timetabled"].status is Status.failed and "not on the school's timetable" in art_f["timetabled"].message
    # Valence's form for Brook's pupil is not seen by Brook's lesson.
    assert maths_f["parental-consent"].status is Status.passed
    assert reading_f["parental-consent"].status is Status.failed and BROOK_PUPIL.name in reading_f["parental-consent"].message


async def test_an_exception_is_one_schools_approved_by_its_own_slt(tmp_path, any_database_url, connector, graph):
    script_trust_people(graph)
    env = trust_env(any_database_url, graph.base_url)
    # Operating hours, for one person: Brook's pupil, who joins a lesson at each school after hours.
    add = ["add", "--rule", "operating-hours", "--person", BROOK_PUPIL.aad_object_id, "--reason", "exam catch-up",
           "--expires", "2099-07-21"]
    unnamed = run_cli(["exceptions", *add, "--approver", VALENCE_SLT.aad_object_id], env, tmp_path)
    assert unnamed.returncode == 2 and "say which with --school" in unnamed.stderr
    refused = run_cli(["exceptions", "--school", "valence", *add, "--approver", BROOK_SLT.aad_object_id], env, tmp_path)
    assert refused.returncode == 2 and f"{BROOK_SLT.aad_object_id} is not SLT or the DSL of Valence School" in refused.stderr
    approved = run_cli(["exceptions", "--school", "valence", *add, "--approver", VALENCE_SLT.aad_object_id], env, tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "exception #1 recorded for Valence School: operating-hours, approved by Roland Gooding" in approved.stdout
    assert "#1 operating-hours" in run_cli(["exceptions", "--school", "valence", "list"], env, tmp_path).stdout
    assert run_cli(["exceptions", "--school", "brook", "list"], env, tmp_path).stdout == ""
    # Brook's SLT cannot withdraw Valence's exception through Brook's register, nor through Valence's.
    by_brook = run_cli(["exceptions", "--school", "brook", "revoke", "1", "--by", BROOK_SLT.aad_object_id], env, tmp_path)
    assert by_brook.returncode == 2 and "there is no exception #1 for Brook Primary School" in by_brook.stderr
    by_brook = run_cli(["exceptions", "--school", "valence", "revoke", "1", "--by", BROOK_SLT.aad_object_id], env, tmp_path)
    assert by_brook.returncode == 2 and "is not SLT or the DSL of Valence School" in by_brook.stderr

    at = T0 + timedelta(hours=8, minutes=30)  # Monday 17:30: after both schools' hours
    async with run_app(env, connector.url) as app:
        found = await run_lessons(app, connector, [
            (MATHS, at, [TEACHER, BROOK_PUPIL]), (BROOK_READING, at, [BROOK_TEACHER, BROOK_PUPIL]),
        ])
        # A Brook lesson cannot be named in Valence's register either.
        reading = found[BROOK_READING.id][0]
        cross = run_cli(["exceptions", "--school", "valence", "add", "--rule", "operating-hours", "--lesson", str(reading.id),
                         "--reason", "x", "--approver", VALENCE_SLT.aad_object_id], env, tmp_path)
        assert cross.returncode == 2 and f"there is no lesson {reading.id} in the register" in cross.stderr
    maths_hours, reading_hours = found[MATHS.id][1]["operating-hours"], found[BROOK_READING.id][1]["operating-hours"]
    assert maths_hours.status is Status.failed and maths_hours.severity is Severity.info
    assert "approved exception #1 by Roland Gooding" in maths_hours.reason
    # The same person in a Brook lesson: Valence's exception does not apply there.
    assert reading_hours.status is Status.failed and reading_hours.severity is not Severity.info
    assert "approved" not in (reading_hours.reason or "")

    engine = create_engine(any_database_url)
    try:
        register = ExceptionRegister(engine)
        assert [e.id for e in await register.list(school_id="valence")] == [1]
        assert [e.revoked_at for e in await register.list(school_id="valence")] == [None]
    finally:
        await engine.dispose()
    # Valence's own SLT withdraws it.
    revoked = run_cli(["exceptions", "--school", "valence", "revoke", "1", "--by", VALENCE_SLT.aad_object_id], env, tmp_path)
    assert revoked.returncode == 0 and "exception #1 withdrawn" in revoked.stdout


def test_rules_and_the_pupil_registers_take_the_school(tmp_path, database_url):
    env = trust_env(database_url)
    brook = run_cli(["rules", "--school", "brook"], env, tmp_path)
    assert brook.returncode == 0, brook.stderr
    assert brook.stdout.startswith("Brook Primary School (school brook), Riverside Learning Trust\n")
    # Brook adopted only the 2023 AUP; Valence the 2022 one.
    assert "Adopted AUP: Acceptable Use Policy for Digital Technologies" in brook.stdout and "Valence" not in brook.stdout.splitlines()[1]
    valence = run_cli(["rules", "--school", "valence"], env, tmp_path)
    assert valence.stdout.splitlines()[1] != brook.stdout.splitlines()[1]
    assert run_cli(["rules"], env, tmp_path).returncode == 2

    agreements = write(tmp_path, "pupil-aup.csv", f"pupil,given_on\n{BROOK_PUPIL.aad_object_id},2026-09-01\n")
    done = run_cli(["import-pupil-aup", agreements, "--school", "brook"], env, tmp_path)
    assert done.returncode == 0 and "imported 1 pupil/parent AUP agreements for Brook Primary School" in done.stdout, done.stderr
    images = write(tmp_path, "images.csv", f"pupil\n{PUPIL_A.aad_object_id}\n")
    done = run_cli(["import-image-consent", images, "--school", "valence"], env, tmp_path)
    assert done.returncode == 0 and "imported 1 image consents for Valence School" in done.stdout, done.stderr
    assert run_cli(["import-image-consent", images], env, tmp_path).returncode == 2

    # A single school needs no --school, and refuses another school's id.
    single = run_cli(["rules", "--school", "brook"], {**env, "CHAPERONE_POLICY_FILE": str(POLICY)}, tmp_path)
    assert single.returncode == 2 and "this deployment has one school" in single.stderr
