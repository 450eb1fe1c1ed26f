"""Issue 16: the sessions Chaperone missed. Graph's call record of a call with staff and pupils
that Chaperone did not follow live becomes an unmonitored session in the register, with its own
verdicts and one SLT alert; a direct call between a teacher and one pupil is a one-to-one session;
a call record of a lesson followed live adds nothing twice."""

from __future__ import annotations

import pytest

from domain.enrolment import SubscriptionPurpose

from .helpers import (
    END,
    MATHS,
    PUPIL_A,
    PUPIL_B,
    SLT,
    SLT_CHANNEL,
    SLT_TEAM,
    T0,
    TA,
    TEACHER,
    all_text,
    alert_posts,
    enrolling_app,
    minutes,
    rows,
    script,
    sign_aup,
    staff_and_pupils,
)

pytestmark = pytest.mark.e2e

TENANT = TEACHER.tenant_id
MEET_NOW = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_meetnow42%40thread.v2/0?context=%7b%7d"


def _people(graph, connector):
    script(graph, connector)
    staff_and_pupils(graph, staff=(TEACHER, TA), pupils=(PUPIL_A, PUPIL_B))


def _who(person, joined, left):
    return (person.aad_object_id, person.name, person.tenant_id, joined, left)


async def _call_ended(app, graph, record_id: str) -> int:
    """Graph's change notification that a call record exists, to Chaperone's endpoint."""
    held = {s.purpose: s for s in await app.services.subscriptions.held()}
    if SubscriptionPurpose.call_records not in held:
        await app.services.subscriptions.maintain()
        held = {s.purpose: s for s in await app.services.subscriptions.held()}
    sub = held[SubscriptionPurpose.call_records]
    status = await graph.notify(sub.id, resource=f"communications/callRecords/{record_id}",
                                resource_data={"@odata.type": "#Microsoft.Graph.callrecord",
                                               "@odata.id": f"communications/callRecords/{record_id}", "id": record_id})
    await app.idle()
    return status


async def _set_slt_channel(app):
    await app.post_all([app.teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL)])


async def test_a_meet_now_call_with_two_pupils_chaperone_never_saw_is_an_unmonitored_session_with_verdicts_and_one_alert(
        any_database_url, connector, graph):
    _people(graph, connector)
    record = "2f1a1ad5-0000-4000-8000-00000000ca11"
    start, end = T0 + minutes(120), T0 + minutes(155)  # Monday 11:00 to 11:35
    graph.add_call_record(record, kind="groupCall", organizer=(TEACHER.aad_object_id, TEACHER.name, TENANT), start=start, end=end,
                          join_url=MEET_NOW, participants=[_who(TEACHER, start, end), _who(PUPIL_A, start + minutes(1), end),
                                                           _who(PUPIL_B, start + minutes(2), end - minutes(2))])
    async with enrolling_app(any_database_url, connector, graph) as app:
        await sign_aup(app, TEACHER, TA)
        await _set_slt_channel(app)
        assert await _call_ended(app, graph, record) == 202

        [lesson] = await app.services.lessons.list_lessons()
        assert lesson.origin.value == "call-record" and lesson.call_record_id == record
        assert (lesson.actual_start, lesson.actual_end, lesson.length_seconds) == (start, end, 35 * 60)
        register = {a.display_name: (a.classification.value, a.joined_at, a.left_at, a.source.value) for a in lesson.attendance}
        assert register == {TEACHER.name: ("staff", start, end, "call-record"),
                            PUPIL_A.name: ("pupil", start + minutes(1), end, "call-record"),
                            PUPIL_B.name: ("pupil", start + minutes(2), end - minutes(2), "call-record")}

        verdicts = {f.rule_id: f for f in await app.services.findings.for_lesson(lesson.id)}
        assert verdicts["two-staff"].status.value == "fail"  # one adult with two pupils
        assert verdicts["operating-hours"].status.value == "pass"
        assert verdicts["one-to-one"].status.value == "pass"
        assert verdicts["school-accounts-only"].status.value == "pass"
        # What only a live lesson shows is not known: never a pass.
        for rule in ("waiting-room", "meeting-chat", "presenters-restricted"):
            assert verdicts[rule].status.value == "could-not-verify", rule
            assert "not followed live" in (verdicts[rule].reason or ""), rule

        # One SLT alert, saying what it is.
        alerts = [m for m in await app.services.outbox.all() if m.kind == "slt-alert"]
        assert len(alerts) == 1 and alerts[0].finding_ids == [verdicts["two-staff"].id]
        assert alerts[0].status.value == "sent", alerts[0].last_error
        [posted] = alert_posts(connector)
        words = all_text(posted["activity"]["attachments"][0]["content"])
        assert "Unmonitored session" in words and "did not follow this session live" in words

        # The notification again (Graph may send one twice): nothing added.
        assert await _call_ended(app, graph, record) == 202
        assert len(await app.services.lessons.list_lessons()) == 1
        assert len([m for m in await app.services.outbox.all() if m.kind == "slt-alert"]) == 1


async def test_a_direct_call_between_a_teacher_and_one_pupil_without_approval_is_a_one_to_one_breach(database_url, connector, graph):
    _people(graph, connector)
    record = "2f1a1ad5-0000-4000-8000-0000000000b2"
    start, end = T0 + minutes(400), T0 + minutes(420)  # Monday 15:40 to 16:00
    graph.add_call_record(record, kind="peerToPeer", organizer=(TEACHER.aad_object_id, TEACHER.name, TENANT), start=start, end=end,
                          participants=[_who(TEACHER, start, end), _who(PUPIL_A, start, end)])
    async with enrolling_app(database_url, connector, graph) as app:
        await sign_aup(app, TEACHER, TA)
        await _set_slt_channel(app)
        assert await _call_ended(app, graph, record) == 202
        [lesson] = await app.services.lessons.list_lessons()
        assert lesson.title.startswith("Direct call")
        verdicts = {f.rule_id: f for f in await app.services.findings.for_lesson(lesson.id)}
        one_to_one = verdicts["one-to-one"]
        assert one_to_one.status.value == "fail" and "without prior SLT approval" in one_to_one.message
        assert one_to_one.severity.value == "breach"
        [alert] = [m for m in await app.services.outbox.all() if m.kind == "slt-alert"]
        assert one_to_one.id in alert.finding_ids
        [posted] = alert_posts(connector)
        assert "one-to-one session" in all_text(posted["activity"]["attachments"][0]["content"])

        # The day's coverage summary to SLT names the unmonitored session.
        assert await app.services.coverage_summary.send(T0.date()) is not None
        assert await app.services.coverage_summary.send(T0.date()) is None  # once a day
        await app.idle()
        summary = [p for p in alert_posts(connector) if p["activity"]["summary"].startswith("Coverage")]
        assert len(summary) == 1
        words = all_text(summary[0]["activity"]["attachments"][0]["content"])
        assert "1 session(s) with pupils: 0 followed live, 1 seen only afterwards (unmonitored)" in words
        assert f"Direct call (not followed live), organised by {TEACHER.name}, at 15:40 (lesson #{lesson.id})" in words


async def test_a_direct_call_with_slts_prior_approval_is_not_a_breach(database_url, connector, graph):
    _people(graph, connector)
    record = "2f1a1ad5-0000-4000-8000-0000000000b3"
    start, end = T0 + minutes(400), T0 + minutes(420)
    graph.add_call_record(record, kind="peerToPeer", organizer=(TEACHER.aad_object_id, TEACHER.name, TENANT), start=start, end=end,
                          participants=[_who(TEACHER, start, end), _who(PUPIL_A, start, end)])
    async with enrolling_app(database_url, connector, graph) as app:
        # SLT approved one-to-one sessions with this pupil the week before.
        await app.services.exceptions.approve(rule_id="one-to-one", person_id=PUPIL_A.aad_object_id, reason="weekly music lesson",
                                              approver_id=SLT.aad_object_id, approver_name=SLT.name,
                                              approved_at=T0 - minutes(60 * 24 * 7))
        assert await _call_ended(app, graph, record) == 202
        [lesson] = await app.services.lessons.list_lessons()
        one_to_one = {f.rule_id: f for f in await app.services.findings.for_lesson(lesson.id)}["one-to-one"]
        assert one_to_one.status.value == "pass" and "approved" in one_to_one.message


async def test_a_call_record_of_a_lesson_chaperone_followed_live_adds_nothing_twice(any_database_url, connector, graph):
    _people(graph, connector)
    record = "2f1a1ad5-0000-4000-8000-0000000000c4"
    async with enrolling_app(any_database_url, connector, graph) as app:
        await sign_aup(app, TEACHER, TA)
        await _set_slt_channel(app)
        teams = app.teams
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
                            teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(1)), teams.meeting_end(MATHS, END)])
        [live] = await app.services.lessons.list_lessons()
        messages_before = len(await app.services.outbox.all())
        graph.add_call_record(record, kind="groupCall", organizer=(TEACHER.aad_object_id, TEACHER.name, TENANT), start=T0, end=END,
                              join_url=MATHS.join_url, participants=[_who(p, T0, END) for p in (TEACHER, TA, PUPIL_A, PUPIL_B)])
        assert await _call_ended(app, graph, record) == 202

        assert [lesson.id for lesson in await app.services.lessons.list_lessons()] == [live.id]
        assert len(await app.services.outbox.all()) == messages_before
        [seen] = await rows(app.services.engine, "call_records")
        assert (seen["id"], seen["outcome"], seen["lesson_id"]) == (record, "followed-live", live.id)


async def test_a_meet_now_call_the_teacher_held_during_a_followed_lesson_is_still_unmonitored(database_url, connector, graph):
    """Matched by join URL, not by organizer and time alone: a second meeting is a second session."""
    _people(graph, connector)
    record = "2f1a1ad5-0000-4000-8000-0000000000c5"
    async with enrolling_app(database_url, connector, graph) as app:
        teams = app.teams
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
                            teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(1)), teams.meeting_end(MATHS, END)])
        [live] = await app.services.lessons.list_lessons()
        assert live.join_url == MATHS.join_url
        start, end = T0 + minutes(10), T0 + minutes(25)
        graph.add_call_record(record, kind="groupCall", organizer=(TEACHER.aad_object_id, TEACHER.name, TENANT), start=start, end=end,
                              join_url=MEET_NOW, participants=[_who(TEACHER, start, end), _who(PUPIL_A, start, end)])
        assert await _call_ended(app, graph, record) == 202
        lessons = await app.services.lessons.list_lessons()
        assert [lesson.origin.value for lesson in lessons] == ["live", "call-record"]


async def test_a_call_record_whose_notification_was_lost_is_found_by_the_catch_up(database_url, connector, graph):
    _people(graph, connector)
    record = "2f1a1ad5-0000-4000-8000-0000000000f7"
    start, end = T0 + minutes(400), T0 + minutes(420)
    graph.add_call_record(record, kind="peerToPeer", organizer=(TEACHER.aad_object_id, TEACHER.name, TENANT), start=start, end=end,
                          participants=[_who(TEACHER, start, end), _who(PUPIL_A, start, end)])
    async with enrolling_app(database_url, connector, graph) as app:
        # Chaperone was down when Graph tried to deliver the notification: nothing came.
        assert await app.services.unmonitored.catch_up(now=end + minutes(60)) == 1
        await app.idle()
        [lesson] = await app.services.lessons.list_lessons()
        assert lesson.call_record_id == record
        # Looked at again: nothing new to read.
        assert await app.services.unmonitored.catch_up(now=end + minutes(120)) == 0
        # A `missed` lifecycle notification on the call-records subscription looks now too.
        await app.services.subscriptions.maintain()
        held = {s.purpose: s for s in await app.services.subscriptions.held()}
        graph.clear()
        assert await graph.notify_lifecycle(held[SubscriptionPurpose.call_records].id, "missed") == 202
        await app.idle()
        assert graph.requests("GET", "/v1.0/communications/callRecords")
        assert len(await app.services.lessons.list_lessons()) == 1
