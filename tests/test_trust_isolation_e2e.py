"""Issue 19, item 5, for the record tab and its exports: no page, API or CSV of one school
returns another school's lessons, people, concerns or exceptions. Two schools that share a
teacher (SHARED_TEACHER, staff in both lessons) are seeded through the real app; each school's
DSL (SLT too) reads every surface and must find their own school's record and nothing of the
other's; the trust lead finds each school's under that school; a school that is not the viewer's
is refused before anything is read. On SQLite and PostgreSQL: the isolation is SQL."""

from __future__ import annotations

import pytest

from .helpers import (
    BROOK_CONCERN, BROOK_DSL, BROOK_SLT, BROOK_TEACHER, SHARED_TEACHER, TEACHER, TRUST_LEAD, VALENCE_CONCERN, VALENCE_DSL, VALENCE_SLT,
    rows, run_app_with_tab, script_trust_people, seed_two_schools, tab_get as get, tab_settings, tab_token, trust_env,
)

pytestmark = pytest.mark.e2e

DAY = "from=2026-11-23&to=2026-11-23"
MONTH = "from=2026-11-01&to=2026-11-30"
# What only each school's record holds: its lesson, its organiser, its pupil, its concern, its exception.
MARKS = {
    "valence": ("Year 7 Maths", "Ms Amara Okafor", "Pupil Alex", VALENCE_CONCERN, "Valence-only exception"),
    "brook": ("Year 3 Reading", "Mrs Nia Evans", "Pupil Cai", BROOK_CONCERN, "Brook-only exception"),
}
OTHER = {"valence": "brook", "brook": "valence"}
PAGES = ("/tab/api/today?date=2026-11-23", f"/tab/api/register?{DAY}", f"/tab/api/review?{MONTH}", "/tab/api/exceptions",
         "/tab/api/aup", "/tab/api/concerns")
CSVS = (f"/tab/api/register.csv?{DAY}", *(f"/tab/api/export/{k}.csv?{MONTH}" for k in ("lessons", "attendance", "findings", "concerns", "audit")),
        f"/tab/api/review.csv?{MONTH}", "/tab/api/aup.csv")
LEADERS = {"valence": VALENCE_DSL, "brook": BROOK_DSL}
AUP_VERSIONS = {"valence": "2022-11", "brook": "2023-09"}


def at(path: str, school: str | None) -> str:
    return path if school is None else path + ("&" if "?" in path else "?") + f"school={school}"


@pytest.fixture
async def two_schools(any_database_url, connector, graph, entra):
    script_trust_people(graph)
    async with run_app_with_tab(trust_env(any_database_url, graph.base_url), connector.url, tab_settings(entra)) as app:
        app.lesson_ids = await seed_two_schools(app, connector, graph)
        for school, slt in (("valence", VALENCE_SLT), ("brook", BROOK_SLT)):
            reason = MARKS[school][4]
            status, body, _ = await get(app, f"/tab/api/exceptions?school={school}", tab_token(entra, slt.aad_object_id, slt.name), "POST",
                                        {"rule": "waiting-room", "scope": "lesson", "target": str(app.lesson_ids[school]), "reason": reason})
            assert status == 200 and "recorded" in body, body
        # Each school's own teacher signs that school's AUP (a teacher in two schools signs each separately).
        for school, person in (("valence", TEACHER), ("brook", BROOK_TEACHER)):
            await app.services.signatures.sign(aad_object_id=person.aad_object_id, tenant_id=app.teams.tenant_id, name=person.name,
                                               position="Teacher", version=AUP_VERSIONS[school], sha256="0" * 64, school_id=school)
        yield app


async def everything(app, token: str, school: str | None) -> dict[str, str]:
    seen = {}
    for path in PAGES + CSVS:
        status, body, _ = await get(app, at(path, school), token)
        assert status == 200, (path, status, body[:300])
        seen[path] = body
    return seen


@pytest.mark.parametrize("school", ["valence", "brook"])
async def test_a_schools_dsl_sees_all_of_their_school_and_nothing_of_the_other(two_schools, entra, school):
    app, leader = two_schools, LEADERS[school]
    token = tab_token(entra, leader.aad_object_id, leader.name)
    seen = await everything(app, token, None)  # their own school by default: they lead only one
    own, other = app.lesson_ids[school], app.lesson_ids[OTHER[school]]
    status, lesson_page, _ = await get(app, f"/tab/api/lesson/{own}", token)
    assert status == 200
    seen[f"lesson {own}"] = lesson_page
    for mark in MARKS[OTHER[school]]:
        leaked = [path for path, body in seen.items() if mark in body]
        assert leaked == [], f"{mark!r} of {OTHER[school]} shown to {school}'s DSL on {leaked}"
    everything_seen = "\n".join(seen.values())
    for mark in MARKS[school]:
        assert mark in everything_seen, f"{school}'s own {mark!r} is missing: the test would prove nothing"
    # The other school's lesson, asked for by number: refused, nothing of it shown.
    status, body, _ = await get(app, f"/tab/api/lesson/{other}", token)
    assert status == 403 and not any(mark in body for mark in MARKS[OTHER[school]]) and OTHER[school] not in body


@pytest.mark.parametrize("school", ["valence", "brook"])
async def test_asking_for_the_other_school_is_refused_before_anything_is_read(two_schools, entra, school):
    app, leader = two_schools, LEADERS[school]
    token = tab_token(entra, leader.aad_object_id, leader.name)
    for path in PAGES + CSVS + ("/tab/api/trust",):
        status, body, _ = await get(app, at(path, OTHER[school]), token)
        assert status == 403 and not any(mark in body for mark in MARKS[OTHER[school]]), (path, status)
        status, body, _ = await get(app, at(path, "atlantis"), token)
        assert status == 404 and "no such school" in body.lower(), (path, status)
    refusals = [r for r in await rows(app.services.engine, "audit_log") if r["action"] == "tab.refused" and r["actor"] == leader.aad_object_id]
    assert len(refusals) == 2 * (len(PAGES) + len(CSVS) + 1)
    status, body, _ = await get(app, "/tab/api/trust", token)  # the trust's own record: its leads only
    assert status == 403 and "may not open trust" in body


async def test_brooks_slt_cannot_touch_valences_exceptions_or_concerns(two_schools, entra):
    app = two_schools
    token = tab_token(entra, BROOK_DSL.aad_object_id, BROOK_DSL.name)
    valence_lesson = app.lesson_ids["valence"]
    status, body, _ = await get(app, "/tab/api/exceptions", token, "POST",
                                {"rule": "waiting-room", "scope": "lesson", "target": str(valence_lesson), "reason": "cover"})
    assert status == 400 and "no lesson with that number" in body
    valence_exception = next(r["id"] for r in await rows(app.services.engine, "exceptions") if r["school_id"] == "valence")
    status, body, _ = await get(app, f"/tab/api/exceptions/{valence_exception}/withdraw", token, "POST")
    assert status == 400 and f"no exception #{valence_exception}" in body
    valence_concern = next(r["id"] for r in await rows(app.services.engine, "concerns") if r["text"] == VALENCE_CONCERN)
    status, body, _ = await get(app, f"/tab/api/concerns/{valence_concern}/seen", token, "POST")
    assert status == 404 and VALENCE_CONCERN not in body
    assert [r for r in await rows(app.services.engine, "exceptions") if r["id"] == valence_exception][0]["revoked_at"] is None
    assert await rows(app.services.engine, "concern_reviews") == []


async def test_the_trust_lead_sees_each_school_under_that_school(two_schools, entra):
    app = two_schools
    token = tab_token(entra, TRUST_LEAD.aad_object_id, TRUST_LEAD.name)
    for school in ("valence", "brook"):
        seen = "\n".join((await everything(app, token, school)).values())
        assert all(mark in seen for mark in MARKS[school]), school
        assert not any(mark in seen for mark in MARKS[OTHER[school]]), school
    status, body, _ = await get(app, f"/tab/api/trust?{MONTH}", token)
    assert status == 200 and "Valence School" in body and "Brook Primary School" in body


async def test_the_shared_teacher_sees_her_own_lessons_in_each_school_and_no_more(two_schools, entra):
    app = two_schools
    token = tab_token(entra, SHARED_TEACHER.aad_object_id, SHARED_TEACHER.name)
    for school in ("valence", "brook"):
        for path in (f"/tab/api/register?{DAY}", f"/tab/api/export/lessons.csv?{DAY}", f"/tab/api/export/attendance.csv?{DAY}"):
            status, body, _ = await get(app, at(path, school), token)
            assert status == 200 and MARKS[school][0] in body and MARKS[OTHER[school]][0] not in body, (school, path)
            assert MARKS[OTHER[school]][2] not in body  # nor the other school's pupil
        for path in ("/tab/api/concerns", "/tab/api/exceptions", "/tab/api/aup", f"/tab/api/export/audit.csv?{MONTH}"):
            assert (await get(app, at(path, school), token))[0] == 403, path
