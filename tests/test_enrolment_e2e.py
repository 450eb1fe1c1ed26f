"""Issue 16: Chaperone joins each lesson by itself (a calendar sweep installs it in the meeting
chat through Graph), listens for calendar changes through Graph change notifications, and keeps
its subscriptions renewed. The real app, the real msgraph-sdk and database; Graph, Teams and the
Bot Connector are the local stand-ins."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from domain.enrolment import EnrolmentStatus, SubscriptionPurpose
from standins.teams import Meeting

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
    enrolling_app,
    minutes,
    rows,
    script,
    sign_aup,
    staff_and_pupils,
)

pytestmark = pytest.mark.e2e

STAFF_MEETING = Meeting("19:meeting_staffbriefing@thread.v2", "Staff briefing", TEACHER)
SCIENCE = Meeting("19:meeting_science8c@thread.v2", "Year 8 Science", TEACHER)


def _school(graph, connector) -> None:
    script(graph, connector)  # Year 7 Maths at T0, the TA and two pupils invited
    staff_and_pupils(graph, staff=(TEACHER, TA), pupils=(PUPIL_A, PUPIL_B))


async def test_one_sweep_enrols_tomorrows_lesson_and_its_start_gets_the_usual_reminder_and_verdicts(any_database_url, connector, graph):
    _school(graph, connector)
    # A staff-only meeting the same morning: not a lesson under "pupils-invited".
    graph.add_meeting(TEACHER.aad_object_id, STAFF_MEETING.online_meeting(T0 - minutes(60), T0 - minutes(30)))
    graph.calendars[TEACHER.aad_object_id].append(STAFF_MEETING.calendar_event(T0 - minutes(60), T0 - minutes(30), attendees=(TA,)))
    async with enrolling_app(any_database_url, connector, graph) as app:
        report = await app.services.enrolment.sweep(now=T0 - timedelta(hours=20))  # the afternoon before

        by_subject = {e.subject: e for e in report.enrolments}
        assert by_subject["Year 7 Maths"].status is EnrolmentStatus.enrolled
        assert by_subject["Year 7 Maths"].chat_id == MATHS.thread_id
        assert by_subject["Staff briefing"].status is EnrolmentStatus.skipped
        assert "no pupils invited" in by_subject["Staff briefing"].reason
        # The stand-in received the install, in the meeting's chat, of Chaperone's catalog app.
        install = [c for c in graph.requests("POST", "/v1.0/chats/") if c.path.endswith("/installedApps")]
        assert [c.path for c in install] == [f"/v1.0/chats/{MATHS.thread_id}/installedApps"]
        assert install[0].body["teamsApp@odata.bind"].endswith("/appCatalogs/teamsApps/" + graph.teamwork.catalog[app.services.settings.teams_app_id])
        assert ("chats", STAFF_MEETING.thread_id) not in graph.teamwork.installed
        # Staff, SLT and the DSL in personal scope.
        assert ("users", TEACHER.aad_object_id) in graph.teamwork.installed and ("users", SLT.aad_object_id) in graph.teamwork.installed

        # A second sweep changes nothing and installs nothing again.
        graph.clear()
        again = await app.services.enrolment.sweep(now=T0 - timedelta(hours=19))
        assert {e.subject: e.status for e in again.enrolments}["Year 7 Maths"] is EnrolmentStatus.already
        assert not [c for c in graph.requests("POST", "/v1.0/chats/")]

        # The lesson starts: Teams now sends Chaperone its events; the usual reminder and verdicts.
        await sign_aup(app, TEACHER, TA)
        teams = app.teams
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
                            teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(1))])
        [lesson] = await app.services.lessons.list_lessons()
        reminders = [m for m in await app.services.outbox.all() if m.kind == "reminder"]
        assert len(reminders) == 1 and reminders[0].lesson_id == lesson.id
        assert any("expectations" in str(a).lower() for a in connector.sent_activities(MATHS.thread_id))
        verdicts = {f.rule_id: f.status.value for f in await app.services.findings.for_lesson(lesson.id)}
        assert verdicts["two-staff"] == "pass" and verdicts["waiting-room"] == "pass"


async def test_a_meeting_the_staff_member_cannot_be_enrolled_in_is_recorded_with_why(database_url, connector, graph):
    _school(graph, connector)
    graph.add_meeting(TEACHER.aad_object_id, SCIENCE.online_meeting(T0 + minutes(60), T0 + minutes(110)))
    graph.calendars[TEACHER.aad_object_id].append(SCIENCE.calendar_event(T0 + minutes(60), T0 + minutes(110), attendees=(PUPIL_A,)))
    graph.teamwork.refuse_install.add(("chats", SCIENCE.thread_id))
    async with enrolling_app(database_url, connector, graph) as app:
        report = await app.services.enrolment.sweep(now=T0 - timedelta(hours=1))
        by_subject = {e.subject: e for e in report.enrolments}
        assert by_subject["Year 7 Maths"].status is EnrolmentStatus.enrolled
        failed = by_subject["Year 8 Science"]
        assert failed.status is EnrolmentStatus.failed and "Graph denied access" in failed.reason
        stored = {r["subject"]: r for r in await rows(app.services.engine, "enrolments")}
        assert stored["Year 8 Science"]["status"] == "failed" and "could not be installed" in stored["Year 8 Science"]["reason"]


async def _subscriptions(app):
    held = await app.services.subscriptions.held()
    return {s.purpose: s for s in held}


async def test_a_calendar_change_notification_enrols_a_meeting_created_after_the_sweep(any_database_url, connector, graph):
    _school(graph, connector)
    async with enrolling_app(any_database_url, connector, graph) as app:
        await app.services.enrolment.sweep(now=T0 - timedelta(hours=1))
        made = await app.services.subscriptions.maintain()
        assert len(made) == 3, made  # call records, and the two staff members' calendars
        # Graph validated Chaperone's endpoint before answering (the handshake, echoed as text/plain).
        assert graph.teamwork.validations and all(ok for _, ok in graph.teamwork.validations)
        calendar = graph.subscription_for(f"users/{TEACHER.aad_object_id}/events")
        assert calendar is not None and calendar["changeType"] == "created,updated,deleted"
        assert calendar["clientState"] and calendar["lifecycleNotificationUrl"] == calendar["notificationUrl"]

        # After the sweep, the teacher books Science (starting soon) with a pupil invited.
        start = datetime.now(timezone.utc) + timedelta(hours=2)
        graph.add_meeting(TEACHER.aad_object_id, SCIENCE.online_meeting(start, start + minutes(50)))
        graph.calendars[TEACHER.aad_object_id].append(SCIENCE.calendar_event(start, start + minutes(50), attendees=(PUPIL_B,)))
        status = await graph.notify(calendar["id"], resource=f"Users/{TEACHER.aad_object_id}/Events/AAMk-science",
                                    resource_data={"@odata.type": "#Microsoft.Graph.Event", "id": "AAMk-science"})
        assert status == 202
        await app.idle()
        assert ("chats", SCIENCE.thread_id) in graph.teamwork.installed
        enrolment = await app.services.enrolment._store.get(TEACHER.aad_object_id, SCIENCE.calendar_event(start, start).get("id"))
        assert enrolment.status is EnrolmentStatus.enrolled


async def test_a_notification_with_the_wrong_client_state_is_refused_and_changes_nothing(database_url, connector, graph):
    _school(graph, connector)
    async with enrolling_app(database_url, connector, graph) as app:
        await app.services.subscriptions.maintain()
        calendar = graph.subscription_for(f"users/{TEACHER.aad_object_id}/events")
        start = datetime.now(timezone.utc) + timedelta(hours=2)
        graph.add_meeting(TEACHER.aad_object_id, SCIENCE.online_meeting(start, start + minutes(50)))
        graph.calendars[TEACHER.aad_object_id].append(SCIENCE.calendar_event(start, start + minutes(50), attendees=(PUPIL_B,)))
        jobs_before = len(await rows(app.services.engine, "jobs"))
        graph.clear()

        status = await graph.notify(calendar["id"], resource=f"Users/{TEACHER.aad_object_id}/Events/x", resource_data={"id": "x"},
                                    client_state="not-the-secret")
        assert status == 403
        lifecycle = await graph.notify_lifecycle(calendar["id"], "subscriptionRemoved", client_state="")
        assert lifecycle == 403
        await app.idle()
        assert len(await rows(app.services.engine, "jobs")) == jobs_before  # nothing queued
        assert graph.requests() == []  # nothing read from Graph, nothing renewed or installed
        assert ("chats", SCIENCE.thread_id) not in graph.teamwork.installed
        assert (await _subscriptions(app))[SubscriptionPurpose.calendar].id in graph.teamwork.subscriptions

        # Not JSON, or not a notification collection: 400, never a 500.
        async with aiohttp.ClientSession() as http:
            for body in (b"{", b'{"value": "x"}', b'{"value": [{"clientState": "x"}]}'):
                async with http.post(f"{app.url}/api/graph/notifications", data=body) as answer:
                    assert answer.status == 400
            async with http.post(f"{app.url}/api/graph/notifications", params={"validationToken": "abc def"}) as answer:
                assert answer.status == 200 and answer.content_type == "text/plain" and await answer.text() == "abc def"
            for token in ("", "x" * 5000):
                async with http.post(f"{app.url}/api/graph/notifications", params={"validationToken": token}) as answer:
                    assert answer.status == 400
            # A notification for a subscription Chaperone does not hold: refused too.
            stranger = {"value": [{"subscriptionId": "not-ours", "clientState": "x", "changeType": "created", "resource": "x"}]}
            async with http.post(f"{app.url}/api/graph/notifications", json=stranger) as answer:
                assert answer.status == 403


async def test_a_subscription_near_expiry_is_renewed_and_reauthorization_required_renews(any_database_url, connector, graph):
    _school(graph, connector)
    async with enrolling_app(any_database_url, connector, graph) as app:
        await app.services.subscriptions.maintain()
        records = (await _subscriptions(app))[SubscriptionPurpose.call_records]
        first_expiry = records.expires_at
        # Nothing is due yet: a look now renews nothing.
        graph.clear()
        assert await app.services.subscriptions.renew_due() == []
        assert graph.requests("PATCH") == []
        # A day and a half later (as the renewal job would see it), less than a day is left: renewed.
        renewed = await app.services.subscriptions.renew_due(now=datetime.now(timezone.utc) + timedelta(hours=36))
        assert len(renewed) == 3 and all(r.startswith("renewed") for r in renewed)
        assert {c.path for c in graph.requests("PATCH")} == {f"/v1.0/subscriptions/{s}" for s in graph.teamwork.subscriptions}
        stored = (await _subscriptions(app))[SubscriptionPurpose.call_records]
        assert stored.renewed_at is not None and stored.expires_at >= first_expiry

        # Graph asks for reauthorization: the notification queues a renewal, which any instance runs.
        graph.clear()
        status = await graph.notify_lifecycle(records.id, "reauthorizationRequired")
        assert status == 202
        await app.idle()
        assert [c.path for c in graph.requests("PATCH")] == [f"/v1.0/subscriptions/{records.id}"]

        # Graph removed a subscription: it is made again (a new id, validated again).
        calendar = (await _subscriptions(app))[SubscriptionPurpose.calendar]
        assert await graph.notify_lifecycle(calendar.id, "subscriptionRemoved") == 202
        await app.idle()
        held = {s.resource: s for s in await app.services.subscriptions.held()}
        remade = held[calendar.resource]
        assert remade.id != calendar.id and remade.id in graph.teamwork.subscriptions and calendar.id not in graph.teamwork.subscriptions

        # The renewal is a scheduled job kept in the database (any instance claims it).
        scheduled = [j for j in await rows(app.services.engine, "jobs") if j["kind"] == "graph-subscriptions"]
        assert scheduled


async def test_a_missed_lifecycle_notification_sweeps_that_calendar_again(database_url, connector, graph):
    _school(graph, connector)
    async with enrolling_app(database_url, connector, graph) as app:
        await app.services.subscriptions.maintain()
        calendar = graph.subscription_for(f"users/{TEACHER.aad_object_id}/events")
        start = datetime.now(timezone.utc) + timedelta(hours=3)
        graph.add_meeting(TEACHER.aad_object_id, SCIENCE.online_meeting(start, start + minutes(50)))
        graph.calendars[TEACHER.aad_object_id].append(SCIENCE.calendar_event(start, start + minutes(50), attendees=(PUPIL_A,)))
        # Graph could not deliver some notifications: it says so, without saying which.
        assert await graph.notify_lifecycle(calendar["id"], "missed") == 202
        await app.idle()
        assert ("chats", SCIENCE.thread_id) in graph.teamwork.installed
