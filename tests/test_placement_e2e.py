"""Which school a trust's lesson belongs to (service/placement.py), through the real app on
SQLite and PostgreSQL: staff group first, then the class team, then the timetable; what none
settles is 'school unknown', kept under and judged by the trust's default policy. The answer
and why are kept in the lesson's record."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from domain.findings import Status
from domain.messages import MessageKind
from domain.placement import Placement
from domain.school import TimetableEntry
from standins.teams import Meeting

from .helpers import (
    BROOK_EDU_SCHOOL, BROOK_PUPIL, BROOK_READING, BROOK_TEACHER, MATHS, PUPIL_A, PUPIL_B, SHARED_TEACHER, T0, TEACHER,
    all_text, minutes,
)

pytestmark = pytest.mark.e2e

# 16:00 on a Monday: inside Valence's hours (08:00-17:00) and the trust default's (08:00-17:00),
# after Brook's (08:30-15:30): the operating-hours verdict says whose policy judged a lesson.
AFTERNOON = T0 + timedelta(hours=7)

# The shared teacher's lessons: a channel meeting of a Brook class team, and a meeting chat.
BROOK_CLASS_TEAM = "6b1e0c55-0000-4000-8000-0000000c1a55"
SHARED_CHANNEL_LESSON = Meeting("19:meeting_shared_brook_art@thread.v2", "Year 4 Art (class team)", SHARED_TEACHER,
                                team_id="19:brook-class-4a@thread.tacv2", channel_id="19:brook-class-4a-general@thread.tacv2",
                                team_group_id=BROOK_CLASS_TEAM)
BROOK_CHANNEL_LESSON = Meeting("19:meeting_brook_music@thread.v2", "Year 4 Music (class team)", BROOK_TEACHER,
                               team_id="19:brook-class-4a@thread.tacv2", channel_id="19:brook-class-4a-general@thread.tacv2",
                               team_group_id=BROOK_CLASS_TEAM)
SHARED_CHAT_LESSON = Meeting("19:meeting_shared_maths_club@thread.v2", "Maths club", SHARED_TEACHER)


async def run_lesson(app, connector, meeting: Meeting, at, pupils) -> object:
    connector.add_meeting(meeting.id, meeting.info(at, at + minutes(40)))
    teams = app.teams
    await app.post_all([teams.meeting_start(meeting, at), teams.join(meeting, [meeting.organizer, *pupils], at + minutes(1))])
    return next(l for l in await app.services.lessons.list_lessons() if l.meeting_id == meeting.id)


async def verdict(app, lesson, rule_id: str):
    return {f.rule_id: f for f in await app.services.findings.for_lesson(lesson.id)}[rule_id]


async def reminder_text(app, lesson) -> str:
    [reminder] = [m for m in await app.services.outbox.all(lesson.id) if m.kind is MessageKind.reminder]
    return all_text(reminder.card)


async def test_each_teacher_in_one_staff_group_places_the_lesson_in_that_school(any_trust_app, connector):
    maths = await run_lesson(any_trust_app, connector, MATHS, T0, [PUPIL_A])
    reading = await run_lesson(any_trust_app, connector, BROOK_READING, T0, [BROOK_PUPIL])
    assert (maths.school_id, maths.placement, maths.placement_reason) == (
        "valence", Placement.staff_group, "the organizer is in Valence School's staff group")
    assert (reading.school_id, reading.placement, reading.placement_reason) == (
        "brook", Placement.staff_group, "the organizer is in Brook Primary School's staff group")
    assert "Brook Primary School online lesson expectations" in await reminder_text(any_trust_app, reading)


async def test_the_shared_teachers_channel_meeting_is_placed_by_its_class_team(any_trust_app, connector, graph):
    graph.class_schools[BROOK_CLASS_TEAM] = [BROOK_EDU_SCHOOL]
    lesson = await run_lesson(any_trust_app, connector, SHARED_CHANNEL_LESSON, AFTERNOON, [BROOK_PUPIL])
    assert lesson.class_team_id == BROOK_CLASS_TEAM
    assert (lesson.school_id, lesson.placement, lesson.placement_reason) == (
        "brook", Placement.class_team, "the lesson's class team is Brook Primary School's")
    # Brook's policy judges it: 16:00 is after Brook's hours.
    assert (await verdict(any_trust_app, lesson, "operating-hours")).status is Status.failed
    assert graph.requests("GET", f"/v1.0/education/classes/{BROOK_CLASS_TEAM}/schools")


async def test_without_a_class_team_the_shared_teachers_lesson_is_placed_by_one_schools_timetable(any_trust_app, connector):
    # Valence's timetable has the shared teacher's Monday 09:00 club; Brook's has only other lessons.
    services = any_trust_app.services
    club = TimetableEntry(organizer=SHARED_TEACHER.aad_object_id, class_name="Club", subject="Maths", weekday=0,
                          starts=time(9, 0), ends=time(9, 40))
    elsewhere = TimetableEntry(organizer=SHARED_TEACHER.aad_object_id, class_name="4A", subject="Art", weekday=2,
                               starts=time(13, 0), ends=time(14, 0))
    await services.school_data.replace_timetable([(club, "line 2")], "test", "valence.csv", school_id="valence")
    await services.school_data.replace_timetable([(elsewhere, "line 2")], "test", "brook.csv", school_id="brook")
    lesson = await run_lesson(any_trust_app, connector, SHARED_CHAT_LESSON, T0, [PUPIL_A])
    assert (lesson.school_id, lesson.placement, lesson.placement_reason) == (
        "valence", Placement.timetable, "the lesson is on Valence School's timetable")


async def test_a_lesson_nothing_places_is_school_unknown_under_the_trust_default(any_trust_app, connector):
    lesson = await run_lesson(any_trust_app, connector, SHARED_CHAT_LESSON, AFTERNOON, [PUPIL_B])
    assert (lesson.school_id, lesson.placement) == ("trust", Placement.unknown)
    assert lesson.placement_reason == ("the organizer is in the staff groups of Brook Primary School, Valence School; "
                                       "no school's timetable has it")
    # Judged by the trust's default policy: its reminder, and its hours (Brook's would fail 16:00).
    assert "Riverside Learning Trust online lesson expectations" in await reminder_text(any_trust_app, lesson)
    assert (await verdict(any_trust_app, lesson, "operating-hours")).status is Status.passed
    # Read back from the database, as the tab and exports read it.
    [stored] = [l for l in await any_trust_app.services.lessons.list_lessons() if l.id == lesson.id]
    assert (stored.school_id, stored.placement) == ("trust", Placement.unknown)


async def test_graph_down_for_the_staff_groups_falls_back_to_the_class_team(any_trust_app, connector, graph):
    # Brook's own teacher, in Brook's class team: with Graph up, her staff group places it.
    graph.class_schools[BROOK_CLASS_TEAM] = [BROOK_EDU_SCHOOL]
    graph.fail_next("POST", f"/users/{BROOK_TEACHER.aad_object_id}/checkMemberGroups", *[503] * 10)
    lesson = await run_lesson(any_trust_app, connector, BROOK_CHANNEL_LESSON, AFTERNOON, [BROOK_PUPIL])
    assert (lesson.school_id, lesson.placement) == ("brook", Placement.class_team)
    assert graph.requests("POST", f"/v1.0/users/{BROOK_TEACHER.aad_object_id}/checkMemberGroups")


async def test_graph_down_with_no_other_evidence_leaves_the_lesson_unknown_and_says_why(any_trust_app, connector, graph):
    graph.fail_next("POST", f"/users/{BROOK_TEACHER.aad_object_id}/checkMemberGroups", *[503] * 10)
    lesson = await run_lesson(any_trust_app, connector, BROOK_READING, AFTERNOON, [BROOK_PUPIL])
    assert (lesson.school_id, lesson.placement) == ("trust", Placement.unknown)
    assert lesson.placement_reason.startswith("staff groups could not be read (")
    assert lesson.placement_reason.endswith("no school's timetable has it")
    # Still followed and judged (by the default policy), never a crash.
    assert (await verdict(any_trust_app, lesson, "operating-hours")).status is Status.passed


async def test_a_single_school_deployments_lessons_are_its_only_school(any_dev_app, connector, graph):
    graph.add_person(TEACHER.aad_object_id, primary_role="teacher", name=TEACHER.name)
    lesson = await run_lesson(any_dev_app, connector, MATHS, T0, [PUPIL_A])
    assert (lesson.school_id, lesson.placement, lesson.placement_reason) == (
        "school", Placement.only_school, "the deployment serves one school")
    # Nothing asked of Graph about schools: one school needs no placing.
    assert not graph.requests("POST", f"/v1.0/users/{TEACHER.aad_object_id}/checkMemberGroups")
    assert not [c for c in graph.requests("GET", "/v1.0/education/classes/")]
