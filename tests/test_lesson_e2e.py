"""End to end: Teams-shaped activities POSTed to the real app; assertions on the connector
stand-in and the database. Runs on SQLite; the full lesson and the restart on PostgreSQL too."""

from __future__ import annotations

import pytest

from domain.lesson import LessonStatus, PersonClass
from domain.lookups import Lookup, LookupOutcome
from standins.teams import Meeting

from .helpers import GUEST, MATHS, PUPIL_A, PUPIL_B, T0, TA, TEACHER, dev_env, minutes, row_counts, run_app

pytestmark = pytest.mark.e2e


def full_lesson(teams):
    return [
        teams.meeting_start(MATHS, T0),
        teams.join(MATHS, [TEACHER], T0 + minutes(0.5)),
        teams.join(MATHS, [TA, PUPIL_A], T0 + minutes(1)),
        teams.join(MATHS, [PUPIL_B], T0 + minutes(2)),
        teams.leave(MATHS, [PUPIL_B], T0 + minutes(20)),
        teams.join(MATHS, [PUPIL_B], T0 + minutes(25)),  # rejoins: a second interval
        teams.leave(MATHS, [TA], T0 + minutes(40)),
        teams.meeting_end(MATHS, T0 + minutes(50)),
    ]


async def test_a_lesson_is_recorded_with_length_and_one_row_per_interval(any_dev_app, connector):
    # The one full lesson on both databases: every store path of a lesson, and redelivery.
    connector.add_meeting(MATHS.id, MATHS.info(T0, T0 + minutes(50)))
    activities = full_lesson(any_dev_app.teams)
    await any_dev_app.post_all(activities)

    [lesson] = await any_dev_app.services.lessons.list_lessons()
    assert lesson.meeting_id == MATHS.id
    assert lesson.status is LessonStatus.closed
    assert lesson.actual_start == T0 and lesson.actual_end == T0 + minutes(50)
    assert lesson.length_seconds == 50 * 60
    assert lesson.title == "Year 7 Maths"
    assert lesson.organizer_aad_id == TEACHER.aad_object_id
    assert lesson.scheduled_start == T0 and lesson.meeting_type == "Scheduled"
    assert lesson.graph_meeting_id and lesson.details_lookup == Lookup.ok()
    assert not lesson.start_event_missing and not lesson.end_event_missing

    intervals = sorted((a.display_name, a.joined_at, a.left_at) for a in lesson.attendance)
    assert intervals == sorted(
        [
            (TEACHER.name, T0 + minutes(0.5), T0 + minutes(50)),
            (TA.name, T0 + minutes(1), T0 + minutes(40)),
            (PUPIL_A.name, T0 + minutes(1), T0 + minutes(50)),
            (PUPIL_B.name, T0 + minutes(2), T0 + minutes(20)),
            (PUPIL_B.name, T0 + minutes(25), T0 + minutes(50)),
        ]
    )
    roles = {a.display_name: a.meeting_role for a in lesson.attendance}
    assert roles[TEACHER.name] == "Organizer" and roles[TA.name] == "Presenter"
    # The meeting id holds base64 characters; the details call must have escaped them.
    [details_call] = connector.requests("GET", "/v1/meetings/")
    assert details_call.raw_path.endswith(MATHS.id.replace("=", "%3D"))

    # Teams redelivers every activity: nothing changes.
    before = await row_counts(any_dev_app.services)
    await any_dev_app.post_all(activities)
    assert await row_counts(any_dev_app.services) == before
    [again] = await any_dev_app.services.lessons.list_lessons()
    assert again == lesson


async def test_redelivery_without_activity_ids_changes_nothing(dev_app, connector):
    connector.add_meeting(MATHS.id, MATHS.info())
    activities = full_lesson(dev_app.teams)
    for activity in activities:
        activity.pop("id")
    await dev_app.post_all(activities)
    before = await row_counts(dev_app.services)
    first = await dev_app.services.lessons.list_lessons()
    await dev_app.post_all(activities)
    assert await row_counts(dev_app.services) == before
    assert await dev_app.services.lessons.list_lessons() == first


async def test_camel_case_start_and_leading_space_in_name(dev_app, connector):
    start = dev_app.teams.meeting_start(MATHS, T0, camel_case=True)
    start["name"] = " " + start["name"]
    await dev_app.post_all([start])
    [lesson] = await dev_app.services.lessons.list_lessons()
    assert lesson.actual_start == T0 and lesson.title == "Year 7 Maths" and lesson.status is LessonStatus.open


async def test_leave_without_join_keeps_the_leave_with_join_unknown(dev_app, connector):
    await dev_app.post_all([dev_app.teams.meeting_start(MATHS, T0), dev_app.teams.leave(MATHS, [PUPIL_A], T0 + minutes(5))])
    [lesson] = await dev_app.services.lessons.list_lessons()
    [row] = lesson.attendance
    assert row.joined_at is None and row.left_at == T0 + minutes(5)
    assert "join time unknown" in row.note


async def test_end_without_start_records_a_closed_lesson_with_start_unknown(dev_app, connector):
    await dev_app.post_all([dev_app.teams.meeting_end(MATHS, T0 + minutes(45))])
    [lesson] = await dev_app.services.lessons.list_lessons()
    assert lesson.status is LessonStatus.closed and lesson.start_event_missing
    assert lesson.actual_start is None and lesson.actual_end == T0 + minutes(45)
    assert lesson.length_seconds is None


async def test_joins_before_the_start_event_are_adopted_by_it(dev_app, connector):
    teams = dev_app.teams
    await dev_app.post_all([teams.join(MATHS, [TEACHER], T0 + minutes(1)), teams.meeting_start(MATHS, T0)])
    [lesson] = await dev_app.services.lessons.list_lessons()
    assert lesson.actual_start == T0 and not lesson.start_event_missing
    assert [a.display_name for a in lesson.attendance] == [TEACHER.name]


async def test_events_after_the_lesson_closed(dev_app, connector):
    teams = dev_app.teams
    await dev_app.post_all(
        [
            teams.meeting_start(MATHS, T0),
            teams.join(MATHS, [TEACHER, PUPIL_A], T0 + minutes(1)),
            teams.meeting_end(MATHS, T0 + minutes(50)),
            # delivered late, but happened during the lesson: recorded against it
            teams.join(MATHS, [PUPIL_B], T0 + minutes(10)),
            teams.leave(MATHS, [PUPIL_A], T0 + minutes(30)),
        ],
    )
    [lesson] = await dev_app.services.lessons.list_lessons()
    rows = {a.display_name: a for a in lesson.attendance}
    assert rows[PUPIL_B.name].joined_at == T0 + minutes(10) and rows[PUPIL_B.name].left_at == T0 + minutes(50)
    assert rows[PUPIL_A.name].left_at == T0 + minutes(30)  # the real leave replaces "ended"

    # Something after the end is a new session of the meeting, its start unseen so far.
    await dev_app.post_all([teams.join(MATHS, [TEACHER], T0 + minutes(90))])
    first, second = await dev_app.services.lessons.list_lessons()
    assert first.id == lesson.id and second.start_event_missing and second.status is LessonStatus.open


async def test_a_second_start_closes_a_lesson_whose_end_never_came(dev_app, connector):
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [PUPIL_A], T0 + minutes(2)),
                            teams.leave(MATHS, [PUPIL_A], T0 + minutes(40)), teams.meeting_start(MATHS, T0 + minutes(24 * 60))])
    first, second = await dev_app.services.lessons.list_lessons()
    # It ended, as far as anyone can know, with the last thing that happened in it; marked inferred.
    assert first.status is LessonStatus.closed and first.end_inferred and first.actual_end == T0 + minutes(40)
    assert second.status is LessonStatus.open and second.actual_start == T0 + minutes(24 * 60)


async def test_guests_and_anonymous_joiners_are_external(dev_app, connector):
    teams = dev_app.teams
    anonymous = PUPIL_A.__class__("Anonymous caller", None)
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [GUEST, anonymous, PUPIL_A], T0)])
    [lesson] = await dev_app.services.lessons.list_lessons()
    kinds = {a.display_name: a.classification for a in lesson.attendance}
    assert kinds == {GUEST.name: PersonClass.external, "Anonymous caller": PersonClass.external, PUPIL_A.name: PersonClass.unknown}


async def test_meeting_details_failure_is_could_not_verify_and_the_lesson_still_counts(dev_app, connector):
    # Down for the first try and every retry (they come at once in tests: the retry base is 0.2 s).
    connector.fail_next("GET", "/v1/meetings/", *[503] * 6)
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER], T0)])
    [lesson] = await dev_app.services.lessons.list_lessons()
    assert lesson.details_lookup.outcome is LookupOutcome.could_not_verify
    assert lesson.details_lookup.reason.startswith("meeting details: HTTP 503")
    assert lesson.organizer_aad_id == TEACHER.aad_object_id  # from their own join, role Organizer
    assert len(lesson.attendance) == 1


async def test_restart_mid_lesson_keeps_the_register(any_database_url, connector):
    # A restart: the register must be in the database, on both.
    channel = Meeting("19:meeting_science@thread.v2", "Science 8C", TEACHER)
    async with run_app(dev_env(any_database_url), connector.url) as first:
        await first.post_all([first.teams.meeting_start(channel, T0), first.teams.join(channel, [TEACHER, PUPIL_A], T0 + minutes(1))])
    async with run_app(dev_env(any_database_url), connector.url) as second:
        await second.post_all([second.teams.leave(channel, [PUPIL_A], T0 + minutes(30)), second.teams.meeting_end(channel, T0 + minutes(40))])
        [lesson] = await second.services.lessons.list_lessons()
    assert lesson.length_seconds == 40 * 60
    assert {(a.display_name, a.left_at) for a in lesson.attendance} == {
        (TEACHER.name, T0 + minutes(40)),
        (PUPIL_A.name, T0 + minutes(30)),
    }


async def test_leaves_stamped_just_after_the_end_belong_to_the_lesson_that_ended(dev_app, connector, graph):
    # "End meeting for all": Teams' leave events can carry a time a moment after the end's.
    from .helpers import script

    script(graph, connector)
    teams = dev_app.teams
    everyone = [TEACHER, TA, PUPIL_A, PUPIL_B]
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, everyone, T0 + minutes(1)),
                            teams.meeting_end(MATHS, T0 + minutes(50)), teams.leave(MATHS, everyone, T0 + minutes(50.05))])
    [lesson] = await dev_app.services.lessons.list_lessons()  # not a second, phantom lesson
    assert {a.left_at for a in lesson.attendance} == {T0 + minutes(50)}  # nobody was in it after it ended
    reminders = [m for m in await dev_app.services.outbox.all() if m.kind == "reminder"]
    assert len(reminders) == 1


async def test_a_lesson_closed_by_the_next_start_still_gets_its_end_verdict_and_record(dev_app, connector, graph):
    from .helpers import script

    script(graph, connector)
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(1)),
                            teams.leave(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(45)),
                            teams.meeting_start(MATHS, T0 + minutes(7 * 24 * 60))])  # its meetingEnd never came
    first, _ = await dev_app.services.lessons.list_lessons()
    assert first.end_inferred and first.actual_end == T0 + minutes(45)
    assert [m.kind for m in await dev_app.services.outbox.all(first.id) if m.kind == "summary"] == ["summary"]
    assert all(f.final for f in await dev_app.services.findings.for_lesson(first.id) if f.moment in ("end", "report"))
