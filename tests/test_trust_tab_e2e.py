"""The record tab in a two-school trust, over HTTP against the real app: each view is of one
school (a picker for someone with more than one), days and times in that school's zone, a
lesson's page names its school and how it was placed, and a read-only trust lead may read but
not act (an acting one may)."""

from __future__ import annotations

import re

import pytest

from standins.teams import Meeting

from .helpers import (
    BROOK_CONCERN, BROOK_DSL, BROOK_PUPIL, BROOK_SLT, BROOK_STAFF_GROUP, END, PUPIL_B, SHARED_TEACHER, T0, TA, TRUST_LEAD,
    VALENCE_DSL, VALENCE_STAFF_GROUP, minutes, rows, run_app_with_tab, script_trust_people, seed_two_schools, tab_get as get,
    tab_settings, tab_token, trust_env, trust_variant,
)

pytestmark = pytest.mark.e2e

DAY = "from=2026-11-23&to=2026-11-23"
ART = Meeting("19:meeting_art8@thread.v2", "Year 8 Art", TA)  # Valence: TA is in Valence's staff group
READER = ("Mark Reader", "00000000-0000-4000-8000-00000000c002")
READ_ONLY_LEAD = f'''
[[trust.leads]]
name = "{READER[0]}"
role = "Trust Safeguarding Officer"
aad_object_id = "{READER[1]}"
acts = false
'''


@pytest.fixture
async def trust_tab(database_url, connector, graph, entra, tmp_path):
    # Brook keeps Tokyo's time in this copy, so its days and times cannot be mistaken for Valence's.
    trust = trust_variant(tmp_path, brook={'timezone = "Europe/London"': 'timezone = "Asia/Tokyo"'},
                          trust={"acts = true\n": "acts = true\n" + READ_ONLY_LEAD})
    script_trust_people(graph)
    env = {**trust_env(database_url, graph.base_url), "CHAPERONE_POLICY_FILE": str(trust)}
    async with run_app_with_tab(env, connector.url, tab_settings(entra)) as running:
        running.lesson_ids = await seed_two_schools(running, connector, graph)
        yield running


def picker(body: str) -> list[str]:
    form = re.search(r'<form class="filters school-picker[^>]*>(.*?)</form>', body, re.S)
    return re.findall(r'<option value="([^"]+)"', form.group(1)) if form else []


async def test_each_view_is_one_school_with_a_picker_for_those_with_more(trust_tab, entra):
    lead = tab_token(entra, TRUST_LEAD.aad_object_id, TRUST_LEAD.name)
    status, body, _ = await get(trust_tab, "/tab/api/today?date=2026-11-23", lead)
    assert status == 200 and picker(body) == ["valence", "brook", "trust"]  # every school, and the 'school unknown' lessons
    assert 'data-school="valence"' in body and "Year 7 Maths" in body and "Year 3 Reading" not in body
    assert "Trust</a>" in body  # the trust view is in a lead's navigation
    status, body, _ = await get(trust_tab, "/tab/api/today?date=2026-11-23&school=brook", lead)
    assert 'data-school="brook"' in body and "Year 3 Reading" in body and "Year 7 Maths" not in body
    assert "school=brook" in body  # links and forms stay in the school shown
    dsl = tab_token(entra, VALENCE_DSL.aad_object_id, VALENCE_DSL.name)
    status, body, _ = await get(trust_tab, "/tab/api/today?date=2026-11-23", dsl)
    assert status == 200 and picker(body) == [] and 'class="school-shown no-print" data-school="valence"' in body
    assert "Trust</a>" not in body
    shared = tab_token(entra, SHARED_TEACHER.aad_object_id, SHARED_TEACHER.name)
    status, body, _ = await get(trust_tab, f"/tab/api/register?{DAY}", shared)
    assert status == 200 and picker(body) == ["valence", "brook"]


async def test_days_and_times_are_each_schools_own(trust_tab, entra):
    lead = tab_token(entra, TRUST_LEAD.aad_object_id, TRUST_LEAD.name)
    # 09:00 UTC: 09:00 at Valence (London), 18:00 at Brook (Tokyo in this copy of the trust).
    _, valence, _ = await get(trust_tab, f"/tab/api/register?{DAY}&school=valence", lead)
    _, brook, _ = await get(trust_tab, f"/tab/api/register?{DAY}&school=brook", lead)
    assert "09:00–09:50" in valence and "18:00–18:50" in brook and "09:00–09:50" not in brook
    _, csv_text, _ = await get(trust_tab, f"/tab/api/export/lessons.csv?{DAY}&school=brook", lead)
    assert "2026-11-23T18:00:00+09:00" in csv_text and "Year 3 Reading" in csv_text


async def test_a_lessons_page_names_its_school_and_how_it_was_placed(trust_tab, entra):
    lead = tab_token(entra, TRUST_LEAD.aad_object_id, TRUST_LEAD.name)
    status, body, _ = await get(trust_tab, f"/tab/api/lesson/{trust_tab.lesson_ids['brook']}", lead)
    assert status == 200 and 'data-school="brook"' in body
    assert "Brook Primary School" in body and "placed by the organiser&#x27;s staff group" in body
    # Brook's DSL opens it too (their school), Valence's is refused.
    brook = tab_token(entra, BROOK_DSL.aad_object_id, BROOK_DSL.name)
    assert (await get(trust_tab, f"/tab/api/lesson/{trust_tab.lesson_ids['brook']}", brook))[0] == 200
    valence = tab_token(entra, VALENCE_DSL.aad_object_id, VALENCE_DSL.name)
    status, body, _ = await get(trust_tab, f"/tab/api/lesson/{trust_tab.lesson_ids['brook']}", valence)
    assert status == 403 and "Year 3 Reading" not in body


async def test_a_read_only_lead_reads_every_school_but_changes_nothing(trust_tab, entra):
    reader = tab_token(entra, READER[1], READER[0])
    status, body, _ = await get(trust_tab, "/tab/api/concerns?school=brook", reader)
    assert status == 200 and BROOK_CONCERN in body and "Mark seen" not in body
    status, body, _ = await get(trust_tab, "/tab/api/exceptions?school=brook", reader)
    assert status == 200 and "Record an approved exception" not in body and "Withdraw" not in body
    concern = next(r["id"] for r in await rows(trust_tab.services.engine, "concerns") if r["text"] == BROOK_CONCERN)
    status, _, _ = await get(trust_tab, f"/tab/api/concerns/{concern}/seen?school=brook", reader, "POST")
    assert status == 403
    status, _, _ = await get(trust_tab, "/tab/api/exceptions?school=brook", reader, "POST",
                             {"rule": "waiting-room", "scope": "lesson", "target": str(trust_tab.lesson_ids["brook"]), "reason": "x"})
    assert status == 403
    assert await rows(trust_tab.services.engine, "concern_reviews") == [] and await rows(trust_tab.services.engine, "exceptions") == []
    refused = [r for r in await rows(trust_tab.services.engine, "audit_log") if r["action"] == "tab.refused" and r["actor"] == READER[1]]
    assert len(refused) == 2 and all(r["school_id"] == "brook" for r in refused)
    # The acting lead may do what Brook's DSL may: mark the concern seen, audited as Brook's record.
    actor = tab_token(entra, TRUST_LEAD.aad_object_id, TRUST_LEAD.name)
    status, body, _ = await get(trust_tab, f"/tab/api/concerns/{concern}/seen?school=brook", actor, "POST")
    assert status == 200 and f"Concern #{concern} marked seen" in body
    [seen] = [r for r in await rows(trust_tab.services.engine, "audit_log") if r["action"] == "concern.seen"]
    assert seen["actor"] == TRUST_LEAD.aad_object_id and seen["school_id"] == "brook"


async def test_a_pupil_sees_nothing_in_any_school(trust_tab, entra):
    pupil = tab_token(entra, BROOK_PUPIL.aad_object_id, BROOK_PUPIL.name)
    for school in ("", "&school=brook", "&school=valence"):
        status, body, _ = await get(trust_tab, f"/tab/api/register?{DAY}{school}", pupil)
        assert status == 403 and "Year 3 Reading" not in body and "Year 7 Maths" not in body


async def test_slt_in_one_school_and_a_teacher_in_another_sees_the_first_whole_and_only_her_lessons_in_the_second(trust_tab, connector,
                                                                                                                    graph, entra):
    # Brook's principal also teaches at Valence: staff there, and present in Year 8 Art (not in Maths).
    graph.add_person(BROOK_SLT.aad_object_id, primary_role="teacher", name=BROOK_SLT.name, groups=(BROOK_STAFF_GROUP, VALENCE_STAFF_GROUP))
    connector.add_meeting(ART.id, ART.info(T0, END))
    graph.add_meeting(TA.aad_object_id, ART.online_meeting(T0, END))
    teams = trust_tab.teams
    await trust_tab.post_all([teams.meeting_start(ART, T0), teams.join(ART, [TA, BROOK_SLT], T0), teams.join(ART, [PUPIL_B], T0 + minutes(1)),
                              teams.meeting_end(ART, END)])
    art = next(l for l in await trust_tab.services.lessons.list_lessons() if l.meeting_id == ART.id)
    assert art.school_id == "valence"
    token = tab_token(entra, BROOK_SLT.aad_object_id, BROOK_SLT.name)
    status, body, _ = await get(trust_tab, f"/tab/api/register?{DAY}", token)
    assert status == 200 and picker(body) == ["brook", "valence"] and "Year 3 Reading" in body  # her own school first, whole
    status, body, _ = await get(trust_tab, f"/tab/api/register?{DAY}&school=valence", token)
    assert status == 200 and "Year 8 Art" in body and "Year 7 Maths" not in body and 'data-total="lessons">1<' in body
    assert (await get(trust_tab, f"/tab/api/lesson/{trust_tab.lesson_ids['valence']}", token))[0] == 403
    assert (await get(trust_tab, f"/tab/api/lesson/{art.id}", token))[0] == 200
    assert (await get(trust_tab, "/tab/api/exceptions?school=brook", token))[0] == 200
    assert (await get(trust_tab, "/tab/api/exceptions?school=valence", token))[0] == 403  # a teacher there


async def test_a_lesson_not_yet_placed_is_in_the_trusts_own_record_only(trust_tab, entra, connector):
    """Its organizer not known yet (Teams' meeting details fail), a lesson waits unplaced: the
    trust's leads see it under the trust's own record; no school's SLT sees it."""
    waiting = Meeting("19:meeting_waiting@thread.v2", "Unplaced drop-in", SHARED_TEACHER)
    connector.add_meeting(waiting.id, waiting.info(T0, T0 + minutes(30)))
    connector.fail_meeting_details(503, times=20)
    await trust_tab.post_all([trust_tab.teams.meeting_start(waiting, T0), trust_tab.teams.join(waiting, [BROOK_PUPIL], T0)])
    [pending] = [r for r in await rows(trust_tab.services.engine, "lessons") if r["meeting_id"] == waiting.id]
    assert pending["school_id"] is None and pending["placement"] == "pending"
    lead = tab_token(entra, TRUST_LEAD.aad_object_id, TRUST_LEAD.name)
    status, body, _ = await get(trust_tab, f"/tab/api/register?{DAY}&school=trust", lead)
    assert status == 200 and "Unplaced drop-in" in body
    for school, leader in (("brook", BROOK_SLT), ("valence", VALENCE_DSL)):
        status, body, _ = await get(trust_tab, f"/tab/api/register?{DAY}&school={school}", tab_token(entra, leader.aad_object_id, leader.name))
        assert status == 200 and "Unplaced drop-in" not in body
