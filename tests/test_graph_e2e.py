"""Graph, end to end: the real msgraph-sdk client against the Graph stand-in, driven by
Teams events posted to the real app. Runs on SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.lesson import AttendanceSource, PersonClass
from domain.lookups import Lookup, LookupOutcome
from domain.meeting import ChatMode, LobbyScope, Presenters
from standins.teams import Person, attendance_report

from .helpers import (
    END, MATHS, PUPIL_A, PUPIL_B, T0, TEACHER, dev_env, eventually, minutes, only_lesson, rows, run_app, script,
)

pytestmark = pytest.mark.e2e


async def test_meeting_settings_and_calendar_are_read_into_the_lesson(dev_app, connector, graph):
    script(graph, connector, lobby="everyone")
    await dev_app.post_all([dev_app.teams.meeting_start(MATHS, T0)])
    lesson = await only_lesson(dev_app)
    settings = lesson.meeting_settings
    assert lesson.settings_lookup == Lookup.ok()
    assert settings.lobby_scope is LobbyScope.everyone
    assert settings.allowed_presenters is Presenters.organizer and settings.chat is ChatMode.limited
    assert settings.attendee_mic_allowed is False and settings.record_automatically is True
    assert lesson.calendar_lookup == Lookup.ok() and lesson.calendar_event.categories == ("Timetabled lesson",)
    assert lesson.calendar_event.is_recurring
    # By the Graph id from Bot Framework's meeting details, with the Prefer header, as the app.
    [call] = graph.requests("GET", f"/v1.0/users/{TEACHER.aad_object_id}/onlineMeetings/")
    assert call.headers["Prefer"] == "include-unknown-enum-members"
    assert call.headers["Authorization"] == "Bearer chaperone-local-graph-token"
    assert call.raw_path.endswith(MATHS.graph_id.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D"))


async def test_an_invited_only_lobby_is_read_as_invited_not_unknown(dev_app, connector, graph):
    # Graph hides `invited` behind unknownFutureValue unless the request asks for it.
    script(graph, connector, lobby="invited")
    await dev_app.post_all([dev_app.teams.meeting_start(MATHS, T0)])
    assert (await only_lesson(dev_app)).meeting_settings.lobby_scope is LobbyScope.invited


async def test_unknown_enum_values_stay_unknown(dev_app, connector, graph):
    script(graph, connector, lobby="somethingMicrosoftAddsNextYear", allowedPresenters="aNewKind")
    await dev_app.post_all([dev_app.teams.meeting_start(MATHS, T0)])
    settings = (await only_lesson(dev_app)).meeting_settings
    assert settings.lobby_scope is LobbyScope.unknown and settings.allowed_presenters is Presenters.unknown


async def test_the_join_url_finds_the_meeting_when_the_graph_id_is_unknown(dev_app, connector, graph):
    script(graph, connector)
    info = MATHS.info(T0, END)
    del info["details"]["msGraphResourceId"]
    connector.add_meeting(MATHS.id, info)
    await dev_app.post_all([dev_app.teams.meeting_start(MATHS, T0)])
    assert (await only_lesson(dev_app)).meeting_settings.lobby_scope is LobbyScope.organizer
    [call] = graph.requests("GET", f"/v1.0/users/{TEACHER.aad_object_id}/onlineMeetings")
    assert call.query["$filter"] == f"JoinWebUrl eq '{MATHS.join_url}'"


async def test_throttling_with_retry_after_is_waited_out(dev_app, connector, graph):
    script(graph, connector, lobby="everyone")
    graph.fail_next("GET", f"/users/{TEACHER.aad_object_id}/onlineMeetings", 429, headers={"Retry-After": "1"})
    await dev_app.post_all([dev_app.teams.meeting_start(MATHS, T0)])
    lesson = await only_lesson(dev_app)
    assert lesson.settings_lookup == Lookup.ok() and lesson.meeting_settings.lobby_scope is LobbyScope.everyone
    assert len(graph.requests("GET", f"/v1.0/users/{TEACHER.aad_object_id}/onlineMeetings/")) == 2


@pytest.mark.parametrize(
    "status, reason",
    [
        (403, "meeting settings: Graph denied access (admin consent for the application permission, or the Teams application access policy"),
        (404, "meeting settings by join URL: Graph has no such object"),
    ],
)
async def test_403_and_404_are_could_not_verify_with_the_reason(dev_app, connector, graph, status, reason):
    script(graph, connector)
    # By id, then (after a 404) by join URL: both fail.
    graph.fail_next("GET", f"/users/{TEACHER.aad_object_id}/onlineMeetings", status, status, headers={})
    await dev_app.post_all([dev_app.teams.meeting_start(MATHS, T0)])
    lesson = await only_lesson(dev_app)
    assert lesson.meeting_settings is None
    assert lesson.settings_lookup.outcome is LookupOutcome.could_not_verify and lesson.settings_lookup.reason.startswith(reason)
    assert lesson.settings_lookup.reason.endswith("(stand-in fault)")  # Graph's own message, from its error body


async def test_a_graph_outage_does_not_stop_attendance_logging(database_url, connector, graph):
    script(graph, connector)
    graph.slow("/", 1.5)  # slower than the 1 s budget below: every Graph call times out (and drains soon after)
    env = dev_env(database_url, graph.base_url, CHAPERONE_GRAPH_TIMEOUT_SECONDS="1")
    async with run_app(env, connector.url) as app:
        teams = app.teams
        for activity in (teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, PUPIL_A], T0 + minutes(1))):
            status, _ = await teams.post(activity)
            assert status == 200
        # The register does not wait for Graph: it is derived from the event log within a
        # second, while every Graph call is still waiting out its 1.5 s.
        async def registered():
            lessons = await app.services.lessons.list_lessons()
            return lessons and {a.display_name for a in lessons[0].attendance} == {TEACHER.name, PUPIL_A.name}

        await eventually(registered, timeout=1.0)

        async def settings_looked_up():
            lesson = await only_lesson(app)
            return lesson if lesson.settings_lookup and any(
                j["kind"] == "roster-changed" and j["last_error"] for j in await rows(app.services.engine, "jobs")
            ) else None

        lesson = await eventually(settings_looked_up)
        assert lesson.settings_lookup == Lookup.could_not_verify("meeting settings: Graph did not answer within 1 s")
        assert {a.classification for a in lesson.attendance} == {PersonClass.unknown}
        # Classification is retried later rather than guessed.
        [roster_job] = [j for j in await rows(app.services.engine, "jobs") if j["kind"] == "roster-changed"]
        assert roster_job["done_at"] is None and "not classified" in roster_job["last_error"]


async def test_thirty_pupils_joining_at_once_cost_one_role_lookup_each_and_none_within_the_ttl(dev_app, connector, graph):
    script(graph, connector)
    pupils = [Person(f"Pupil {n}", f"aad-class-pupil-{n:02d}") for n in range(30)]
    for pupil in pupils:
        graph.add_person(pupil.aad_object_id, primary_role="student", name=pupil.name)
    teams = dev_app.teams
    joins = [teams.join(MATHS, [pupil], T0 + timedelta(milliseconds=30 * n)) for n, pupil in enumerate(pupils)]
    await dev_app.post_all([teams.meeting_start(MATHS, T0), *joins])
    lesson = await only_lesson(dev_app)
    assert {a.classification for a in lesson.attendance} == {PersonClass.pupil}
    looked_up = [c.path.rsplit("/", 1)[1] for c in graph.requests("GET", "/v1.0/education/users/")]
    # One lookup per distinct person: the 30 pupils, and the organizer (for their sign-in name).
    assert len(looked_up) == len(set(looked_up)) == 31
    assert set(looked_up) == {p.aad_object_id for p in pupils} | {TEACHER.aad_object_id}

    # The same class again next lesson, within the TTL: no lookups at all.
    graph.clear()
    await dev_app.post_all([teams.meeting_end(MATHS, END), teams.meeting_start(MATHS, T0 + minutes(120))])
    later = [teams.join(MATHS, [pupil], T0 + minutes(121)) for pupil in pupils]
    await dev_app.post_all(later)
    assert graph.role_lookups() == 0
    assert {a.classification for a in (await dev_app.services.lessons.list_lessons())[-1].attendance} == {PersonClass.pupil}


async def test_after_the_end_the_register_matches_graphs_attendance_report(dev_app, connector, graph):
    script(graph, connector)
    unseen = PUPIL_B  # their join event never reaches Chaperone
    graph.reports[MATHS.graph_id] = [
        attendance_report("older-occurrence", T0 - timedelta(days=7), END - timedelta(days=7), [(PUPIL_A, T0 - timedelta(days=7), END - timedelta(days=7))]),
        attendance_report(
            "this-lesson",
            T0,
            END,
            [(TEACHER, T0, END), (PUPIL_A, T0 + minutes(2), END), (unseen, T0 + minutes(3), T0 + minutes(40))],
        ),
    ]
    teams = dev_app.teams
    await dev_app.post_all(
        [
            teams.meeting_start(MATHS, T0),
            teams.join(MATHS, [TEACHER], T0),
            teams.join(MATHS, [PUPIL_A], T0 + minutes(2)),
            teams.meeting_end(MATHS, END),
        ]
    )
    lesson = await only_lesson(dev_app)
    assert lesson.report_lookup == Lookup.ok("reconciled with Graph's report: 1 added, 0 corrected from it")
    register = {(a.person_id, a.joined_at, a.left_at, a.source) for a in lesson.attendance}
    assert register == {
        (TEACHER.aad_object_id, T0, END, AttendanceSource.live),
        (PUPIL_A.aad_object_id, T0 + minutes(2), END, AttendanceSource.live),
        (unseen.aad_object_id, T0 + minutes(3), T0 + minutes(40), AttendanceSource.graph_report),
    }
    # The added pupil is classified like everyone else.
    assert {a.person_id: a.classification for a in lesson.attendance}[unseen.aad_object_id] is PersonClass.pupil


async def test_a_report_that_is_not_there_yet_is_looked_for_again_then_given_up_on(database_url, connector, graph):
    script(graph, connector)
    env = dev_env(database_url, graph.base_url, CHAPERONE_ATTENDANCE_REPORT_DELAYS="0,0.5,0.5")
    async with run_app(env, connector.url) as app:
        teams = app.teams
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER], T0), teams.meeting_end(MATHS, END)])

        async def report(outcome):
            lesson = await only_lesson(app)
            return lesson.report_lookup if lesson.report_lookup and lesson.report_lookup.outcome is outcome else None

        assert await eventually(lambda: report(LookupOutcome.pending)) == Lookup.pending("no attendance report yet")
        graph.reports[MATHS.graph_id] = [attendance_report("late", T0, END, [(TEACHER, T0, END)])]
        assert await eventually(lambda: report(LookupOutcome.ok)) == Lookup.ok("reconciled with Graph's report: 0 added, 0 corrected from it")

        # A report that never appears: after the configured tries, it says so.
        other = MATHS.__class__("19:meeting_other@thread.v2", "Year 7 Art", TEACHER)
        connector.add_meeting(other.id, other.info(T0, END))
        graph.add_meeting(TEACHER.aad_object_id, other.online_meeting(T0, END))
        await app.post_all([teams.meeting_start(other, T0), teams.meeting_end(other, END)])

        async def given_up():
            lesson = (await app.services.lessons.list_lessons(other.id))[0]
            found = lesson.report_lookup
            return found if found and found.outcome is LookupOutcome.could_not_verify else None

        assert await eventually(given_up) == Lookup.could_not_verify("no attendance report yet after 3 tries")


async def test_channel_meetings_are_recorded_as_having_no_report(dev_app, connector, graph):
    channel_lesson = MATHS.__class__(MATHS.thread_id, MATHS.title, TEACHER, meeting_type="ChannelScheduled")
    connector.add_meeting(channel_lesson.id, channel_lesson.info(T0, END))
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(channel_lesson, T0), teams.meeting_end(channel_lesson, END)])
    lesson = await only_lesson(dev_app)
    assert lesson.report_lookup == Lookup.none("Teams keeps no attendance report for channel meetings")
    assert graph.requests("GET", "/v1.0/users/aad-teacher-0001/onlineMeetings/" + channel_lesson.graph_id + "/attendanceReports") == []


async def test_an_anonymous_joiner_in_the_report_is_the_same_person_as_in_the_live_events(dev_app, connector, graph):
    # Live, an anonymous joiner is known by their Teams id; Graph's report knows only their name.
    caller = Person("Anonymous caller", None)
    script(graph, connector)
    graph.reports[MATHS.graph_id] = [attendance_report("this-lesson", T0, END, [(TEACHER, T0, END), (caller, T0 + minutes(5), T0 + minutes(9))])]
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER], T0), teams.join(MATHS, [caller], T0 + minutes(5)),
                            teams.leave(MATHS, [caller], T0 + minutes(10)), teams.meeting_end(MATHS, END)])
    lesson = await only_lesson(dev_app)
    callers = [a for a in lesson.attendance if a.display_name == caller.name]
    assert [(a.person_id, a.joined_at, a.left_at) for a in callers] == [(caller.teams_id, T0 + minutes(5), T0 + minutes(9))]
