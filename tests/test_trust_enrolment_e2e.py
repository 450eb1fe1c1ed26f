"""Issue 19: in a trust, enrolment, Graph subscriptions, unmonitored sessions and the daily
coverage summary each work per school. Each school's staff calendars are swept (a teacher of
two schools once) and each meeting kept under its school; a call record Chaperone did not
follow is placed like a live lesson and kept, judged and alerted under its school; each school
gets its own coverage summary, of its own sessions, at its own time."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from domain.enrolment import EnrolmentStatus, SubscriptionPurpose
from domain.findings import Status
from domain.messages import MessageKind
from domain.placement import Placement
from domain.school import TimetableEntry
from standins.teams import Meeting

from .helpers import (
    BROOK_PUPIL, BROOK_READING, BROOK_TEACHER, MATHS, PUPIL_A, PUPIL_B, SHARED_TEACHER, T0, TA, TEACHER, TRUST_FILE, all_text,
    call_participant, minutes, rows, trust_enrolling_app,
)

pytestmark = pytest.mark.e2e

MATHS_CLUB = Meeting("19:meeting_shared_maths_club@thread.v2", "Maths club", SHARED_TEACHER)  # on Valence's timetable
SHARED_TEACHER_EMAIL = "mr.sam.reid@school.example"  # the Graph stand-in's sign-in name for them
ART_CLUB = Meeting("19:meeting_shared_art_club@thread.v2", "Art club", SHARED_TEACHER)  # on no timetable


def _lesson_on_calendar(graph, meeting: Meeting, start, pupils) -> None:
    end = start + minutes(40)
    graph.add_meeting(meeting.organizer.aad_object_id, meeting.online_meeting(start, end))
    graph.calendars.setdefault(meeting.organizer.aad_object_id, []).append(meeting.calendar_event(start, end, attendees=tuple(pupils)))


async def test_each_schools_staff_calendars_are_swept_once_and_each_meeting_kept_under_its_school(any_database_url, connector, graph):
    _lesson_on_calendar(graph, MATHS, T0, [TA, PUPIL_A])
    _lesson_on_calendar(graph, BROOK_READING, T0, [BROOK_PUPIL])
    _lesson_on_calendar(graph, MATHS_CLUB, T0 + minutes(60), [PUPIL_B])
    _lesson_on_calendar(graph, ART_CLUB, T0 + minutes(240), [BROOK_PUPIL])
    async with trust_enrolling_app(any_database_url, connector, graph) as app:
        # The MIS knows the shared teacher by their sign-in name.
        club = TimetableEntry(organizer=SHARED_TEACHER_EMAIL, class_name="Club", subject="Maths", weekday=0,
                              starts=time(10, 0), ends=time(10, 40))
        await app.services.school_data.replace_timetable([(club, "line 2")], "test", "valence.csv", school_id="valence")
        report = await app.services.enrolment.sweep(now=T0 - timedelta(hours=1))

        assert not report.problems
        found = {e.subject: (e.status, e.school_id) for e in report.enrolments}
        assert found == {
            "Year 7 Maths": (EnrolmentStatus.enrolled, "valence"),
            "Year 3 Reading": (EnrolmentStatus.enrolled, "brook"),
            "Maths club": (EnrolmentStatus.enrolled, "valence"),  # the shared teacher's: Valence's timetable has it
            "Art club": (EnrolmentStatus.enrolled, "trust"),  # no school claims it: kept under the trust's default policy
        }
        stored = {r["subject"]: r["school_id"] for r in await rows(app.services.engine, "enrolments")}
        assert stored == {subject: school for subject, (_, school) in found.items()}
        # Both schools' staff groups list the shared teacher: their calendar is read once.
        assert len(graph.requests("GET", f"/v1.0/users/{SHARED_TEACHER.aad_object_id}/calendarView")) == 1
        # Each school's staff group was read.
        for group in ("00000000-0000-4000-8000-00000000e002", "00000000-0000-4000-8000-00000000e012"):
            assert graph.requests("GET", f"/v1.0/groups/{group}/transitiveMembers")


async def test_calendar_subscriptions_cover_every_schools_staff_once(database_url, connector, graph):
    async with trust_enrolling_app(database_url, connector, graph) as app:
        await app.services.subscriptions.maintain()
        held = await app.services.subscriptions.held()
        calendars = sorted(s.owner_id for s in held if s.purpose is SubscriptionPurpose.calendar)
        assert calendars == sorted([TEACHER.aad_object_id, TA.aad_object_id, BROOK_TEACHER.aad_object_id, SHARED_TEACHER.aad_object_id])
        assert [s.resource for s in held if s.purpose is SubscriptionPurpose.call_records] == ["communications/callRecords"]


async def _call_ended(app, graph, record_id: str) -> None:
    held = {s.purpose: s for s in await app.services.subscriptions.held()}
    if SubscriptionPurpose.call_records not in held:
        await app.services.subscriptions.maintain()
        held = {s.purpose: s for s in await app.services.subscriptions.held()}
    status = await graph.notify(held[SubscriptionPurpose.call_records].id, resource=f"communications/callRecords/{record_id}",
                                resource_data={"id": record_id})
    assert status == 202
    await app.idle()


async def test_a_call_record_session_is_kept_judged_and_alerted_under_its_own_school_and_in_its_coverage(any_database_url, connector, graph):
    # 16:00 to 16:20 on Monday: within Valence's hours, after Brook's (15:30).
    start, end = T0 + minutes(420), T0 + minutes(440)
    brook_call, valence_call = "2f1a1ad5-0000-4000-8000-0000000b0001", "2f1a1ad5-0000-4000-8000-0000000a0001"
    graph.add_call_record(brook_call, kind="peerToPeer", organizer=(BROOK_TEACHER.aad_object_id, BROOK_TEACHER.name, BROOK_TEACHER.tenant_id),
                          start=start, end=end, participants=[call_participant(BROOK_TEACHER, start, end), call_participant(BROOK_PUPIL, start, end)])
    graph.add_call_record(valence_call, kind="peerToPeer", organizer=(TEACHER.aad_object_id, TEACHER.name, TEACHER.tenant_id),
                          start=start, end=end, participants=[call_participant(TEACHER, start, end), call_participant(PUPIL_A, start, end)])
    async with trust_enrolling_app(any_database_url, connector, graph) as app:
        await _call_ended(app, graph, brook_call)
        await _call_ended(app, graph, valence_call)
        lessons = {l.call_record_id: l for l in await app.services.lessons.list_lessons()}
        brook, valence = lessons[brook_call], lessons[valence_call]
        assert (brook.school_id, brook.placement, brook.placement_reason) == (
            "brook", Placement.staff_group, "the organizer is in Brook Primary School's staff group")
        assert (valence.school_id, valence.placement) == ("valence", Placement.staff_group)
        # Each judged by its own school's hours.
        hours = {l.school_id: {f.rule_id: f for f in await app.services.findings.for_lesson(l.id)}["operating-hours"].status
                 for l in (brook, valence)}
        assert hours == {"brook": Status.failed, "valence": Status.passed}
        # One SLT alert for each session, on that session (whose school its delivery follows).
        for lesson in (brook, valence):
            alerts = [m for m in await app.services.outbox.all(lesson.id) if m.kind is MessageKind.slt_alert]
            assert len(alerts) == 1 and alerts[0].summary.startswith("Unmonitored session")

        # The day's coverage, per school: each names only its own session.
        assert await app.services.coverage_summary.send(T0.date(), "brook") is not None
        assert await app.services.coverage_summary.send(T0.date(), "valence") is not None
        assert await app.services.coverage_summary.send(T0.date(), "brook") is None  # once a day
        assert await app.services.coverage_summary.send(T0.date(), "trust") is None  # nothing unplaced that day
        summaries = {r["school_id"]: r for r in await rows(app.services.engine, "messages") if r["kind"] == MessageKind.coverage_summary.value}
        assert set(summaries) == {"brook", "valence"}
        brook_words, valence_words = (all_text(summaries[s]["card"]) for s in ("brook", "valence"))
        assert BROOK_TEACHER.name in brook_words and TEACHER.name not in brook_words
        assert TEACHER.name in valence_words and BROOK_TEACHER.name not in valence_words
        assert f"(lesson #{brook.id})" in brook_words and f"(lesson #{valence.id})" in valence_words


async def test_the_shared_teachers_call_record_is_placed_by_the_timetable_that_has_it(database_url, connector, graph):
    # Monday 10:00: on Valence's timetable (by sign-in name); Brook's timetable has them on Wednesdays.
    start, end = T0 + minutes(60), T0 + minutes(100)
    record = "2f1a1ad5-0000-4000-8000-0000000c0001"
    graph.add_call_record(record, kind="peerToPeer", organizer=(SHARED_TEACHER.aad_object_id, SHARED_TEACHER.name, SHARED_TEACHER.tenant_id),
                          start=start, end=end, participants=[call_participant(SHARED_TEACHER, start, end), call_participant(PUPIL_A, start, end)])
    async with trust_enrolling_app(database_url, connector, graph) as app:
        valence = TimetableEntry(organizer=SHARED_TEACHER_EMAIL, class_name="10", subject="Music", weekday=0, starts=time(10, 0), ends=time(10, 40))
        brook = TimetableEntry(organizer=SHARED_TEACHER_EMAIL, class_name="4A", subject="Art", weekday=2, starts=time(10, 0), ends=time(10, 40))
        await app.services.school_data.replace_timetable([(valence, "line 2")], "test", "valence.csv", school_id="valence")
        await app.services.school_data.replace_timetable([(brook, "line 2")], "test", "brook.csv", school_id="brook")
        await _call_ended(app, graph, record)
        [lesson] = await app.services.lessons.list_lessons()
    assert (lesson.call_record_id, lesson.school_id, lesson.placement, lesson.placement_reason) == (
        record, "valence", Placement.timetable, "the lesson is on Valence School's timetable")


async def test_each_school_and_the_trust_default_have_their_own_daily_coverage_job(database_url, connector, graph):
    async with trust_enrolling_app(database_url, connector, graph) as app:
        jobs = [j for j in await rows(app.services.engine, "jobs") if j["kind"] == "coverage-summary"]
        assert sorted(j["payload"]["school"] for j in jobs) == ["brook", "trust", "valence"]


def _trust_with_chats_report(tmp_path) -> Path:
    """The example trust, copied, with the weekly staff-pupil chats report on in both schools."""
    folder = tmp_path / "trust"
    folder.mkdir()
    (tmp_path / "policies").symlink_to(TRUST_FILE.parent.parent / "policies", target_is_directory=True)
    for source in TRUST_FILE.parent.glob("*.toml"):
        text = source.read_text()
        if source.stem in ("valence", "brook"):
            text += "\n[rules.staff-pupil-chats]\nenabled = true\n"
        (folder / source.name).write_text(text)
    return folder / TRUST_FILE.name


async def test_each_schools_dsl_gets_the_chats_report_of_its_own_staff_only(database_url, connector, graph, tmp_path):
    now = datetime.now(timezone.utc)
    graph.add_chat("19:chat-okafor-alex", now - timedelta(days=20), now - timedelta(days=1),
                   (TEACHER.aad_object_id, TEACHER.name), (PUPIL_A.aad_object_id, PUPIL_A.name))
    graph.add_chat("19:chat-evans-cai", now - timedelta(days=20), now - timedelta(days=1),
                   (BROOK_TEACHER.aad_object_id, BROOK_TEACHER.name), (BROOK_PUPIL.aad_object_id, BROOK_PUPIL.name))
    trust = _trust_with_chats_report(tmp_path)
    async with trust_enrolling_app(database_url, connector, graph, CHAPERONE_POLICY_FILE=str(trust)) as app:
        assert app.services.chats_report.enabled
        findings = {school: await app.services.chats_report.send(school_id=school) for school in ("valence", "brook")}
        reports = {r["school_id"]: r for r in await rows(app.services.engine, "messages") if r["kind"] == MessageKind.chats_report.value}
    assert [(c["staff"], c["pupil"]) for c in findings["valence"].details["chats"]] == [(TEACHER.name, PUPIL_A.name)]
    assert [(c["staff"], c["pupil"]) for c in findings["brook"].details["chats"]] == [(BROOK_TEACHER.name, BROOK_PUPIL.name)]
    assert set(reports) == {"valence", "brook"} and all(r["destination"] == "dsl" for r in reports.values())
    assert BROOK_TEACHER.name in all_text(reports["brook"]["card"]) and TEACHER.name not in all_text(reports["brook"]["card"])
