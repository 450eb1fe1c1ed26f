"""The rest of the AUP, end to end through /api/messages with the Teams, Bot Connector and Graph
stand-ins (issue 18): recording kept, invited only, invitation sent, drop-in possible, the pupil
AUP and image consent registers, and who may approve an exception to what."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.findings import Severity, Status
from domain.school import Consent
from standins.teams import Person

from .helpers import (
    END, GUEST, MATHS, PUPIL_A, PUPIL_B, SLT, SLT_CHANNEL, SLT_TEAM, T0, TA, TEACHER, alert_posts, all_text, dev_env, minutes,
    only_lesson, policy_with, run_app, script, sign_aup,
)

pytestmark = pytest.mark.e2e

DSL = Person("Lisa Kavanagh", "00000000-0000-4000-8000-00000000a003")
STRANGER = Person("Pupil Cass", "aad-pupil-0009")


async def verdicts(app, lesson_id: int) -> dict:
    return {f.rule_id: f for f in await app.services.findings.for_lesson(lesson_id)}


async def one_to_one(app, graph):
    teams = app.teams
    await app.post_all([teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL),
                        teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
                        teams.join(MATHS, [PUPIL_A], T0 + minutes(1)), teams.meeting_end(MATHS, T0 + minutes(30))])


@pytest.mark.parametrize("kept", [True, False])
async def test_a_one_to_one_session_needs_a_recording_graph_lists(database_url, connector, graph, kept):
    script(graph, connector)
    if kept:
        graph.add_recording(MATHS.graph_id, TEACHER.aad_object_id, T0 + minutes(31), tenant_id=connector_tenant())
    env = dev_env(database_url, graph.base_url, CHAPERONE_ATTENDANCE_REPORT_DELAYS="0,0.2,0.2")
    async with run_app(env, connector.url) as app:
        await one_to_one(app, graph)
        lesson = await only_lesson(app)
        await app.services.worker.wait_idle(horizon_seconds=2)
        finding = (await verdicts(app, lesson.id))["recording-kept"]
        assert len(graph.requests("GET", f"/v1.0/users/{TEACHER.aad_object_id}/onlineMeetings/{MATHS.graph_id}/recordings")) >= 1
        if kept:
            assert finding.status is Status.passed and "kept in the school's tenant" in finding.message
        else:
            # Looked for again while Teams might still be processing it, then a breach.
            assert finding.status is Status.failed and finding.severity is Severity.breach
            assert "no recording of the lesson was kept; one-to-one sessions must be recorded" in finding.message
            assert any("Required recording kept" in all_text(a) for a in alert_posts(connector))


def connector_tenant() -> str:
    from standins.teams import DEFAULT_TENANT

    return DEFAULT_TENANT


async def test_a_class_lesson_reads_no_recordings(dev_app, connector, graph):
    script(graph, connector)
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0),
                            teams.meeting_end(MATHS, END)])
    lesson = await only_lesson(dev_app)
    assert (await verdicts(dev_app, lesson.id))["recording-kept"].status is Status.passed
    assert graph.requests("GET", f"/v1.0/users/{TEACHER.aad_object_id}/onlineMeetings/{MATHS.graph_id}/recordings") == []


async def test_a_pupil_who_was_not_invited_is_named_but_staff_dropping_in_are_not(dev_app, connector, graph):
    script(graph, connector)
    graph.add_person(STRANGER.aad_object_id, primary_role="student", name=STRANGER.name)
    head_of_year = Person("Mrs Hope Barker", "aad-staff-hoy")
    graph.add_person(head_of_year.aad_object_id, primary_role="teacher", name=head_of_year.name)
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0),
                            teams.join(MATHS, [head_of_year], T0 + minutes(10))])
    lesson = await only_lesson(dev_app)
    assert (await verdicts(dev_app, lesson.id))["invited-only"].status is Status.passed
    await dev_app.post_all([teams.join(MATHS, [STRANGER, GUEST], T0 + minutes(12))])
    finding = (await verdicts(dev_app, lesson.id))["invited-only"]
    assert finding.status is Status.failed and finding.message == "2 people joined without being invited: Guest Visitor, Pupil Cass"


async def test_an_invitation_without_the_sessions_expectations_is_flagged(dev_app, connector, graph):
    script(graph, connector)
    graph.calendars[TEACHER.aad_object_id] = [MATHS.calendar_event(T0, END, attendees=(TA, PUPIL_A, PUPIL_B), body="")]
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0)])
    lesson = await only_lesson(dev_app)
    finding = (await verdicts(dev_app, lesson.id))["invitation-sent"]
    assert finding.status is Status.failed and "says nothing about the session's expectations" in finding.message
    assert finding.severity is Severity.warning


@pytest.mark.parametrize("lobby, slt_invited, status", [("organizer", False, Status.failed), ("invited", True, Status.passed),
                                                         ("organizationExcludingGuests", False, Status.passed)])
async def test_slt_and_the_dsl_can_drop_in(dev_app, connector, graph, lobby, slt_invited, status):
    script(graph, connector, lobby=lobby)
    if slt_invited:
        people = dev_app.services.policy.people
        graph.change_meeting(TEACHER.aad_object_id, MATHS.graph_id, participants={"attendees": [
            {"identity": {"user": {"id": p.aad_object_id}}, "role": "attendee"} for p in [*people.slt, *people.dsl]]})
    await dev_app.post_all([dev_app.teams.meeting_start(MATHS, T0)])
    finding = (await verdicts(dev_app, (await only_lesson(dev_app)).id))["drop-in-possible"]
    assert finding.status is status and finding.severity is Severity.info


async def test_the_pupil_aup_and_image_registers(dev_app, connector, graph):
    script(graph, connector)  # records automatically
    data = dev_app.services.school_data
    await data.replace_consents([(Consent(person=PUPIL_A.aad_object_id, kind="pupil-aup"), "test")], "test", "pupil-aup.csv",
                                kinds={"pupil-aup"})
    await data.replace_consents([(Consent(person=PUPIL_B.aad_object_id, kind="image"), "test")], "test", "image.csv", kinds={"image"})
    assert await data.consent_kinds() == {"pupil-aup", "image"}  # one register did not replace the other
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0)])
    found = await verdicts(dev_app, (await only_lesson(dev_app)).id)
    assert found["pupil-aup-agreement"].status is Status.failed and found["pupil-aup-agreement"].message.endswith("for Pupil Bea")
    assert found["image-consent"].status is Status.failed and found["image-consent"].message == (
        "recorded with no image consent on file for Pupil Alex")


async def test_only_the_dsl_approves_a_personal_account_exception_from_the_alert(dev_app, connector, graph):
    script(graph, connector)
    await sign_aup(dev_app, TEACHER, TA)
    teams = dev_app.teams
    await dev_app.post_all([teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL),
                            teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0),
                            teams.join(MATHS, [GUEST], T0 + minutes(5))])
    [alert] = [m for m in await dev_app.services.outbox.all() if m.kind == "slt-alert"]
    data = {"alertId": alert.id, "lessonId": alert.lesson_id, "reason": "Parent joining from work account", "expires": "2099-12-18"}
    channel = dict(conversation_id=alert.conversation_id, conversation_type="channel")
    status, refused = await teams.post(teams.card_action("recordException", data, SLT, **channel))
    assert status == 200 and "Only the DSL can approve an exception to school-accounts-only" in refused["value"]
    assert await dev_app.services.exceptions.list() == []
    status, recorded = await teams.post(teams.card_action("recordException", data, DSL, **channel))
    assert status == 200 and "Approved exception #1 recorded by Lisa Kavanagh" in all_text(recorded["value"])
    [exception] = await dev_app.services.exceptions.list()
    assert (exception.rule_id, exception.approved_by) == ("school-accounts-only", DSL.aad_object_id)


@pytest.mark.parametrize("managed, status", [(True, Status.passed), (False, Status.failed)])
async def test_the_organizers_device_from_the_sign_in_logs_when_the_school_checks_it(database_url, connector, graph, tmp_path, managed, status):
    script(graph, connector)
    graph.add_sign_in(TEACHER.aad_object_id, T0 - minutes(20), managed=managed)
    policy = tmp_path / "policy.toml"
    policy.write_text(Path(policy_with(tmp_path)).read_text() + "\n[rules.managed-device]\nenabled = true\n")
    async with run_app(dev_env(database_url, graph.base_url, CHAPERONE_POLICY_FILE=str(policy)), connector.url) as app:
        await app.post_all([app.teams.meeting_start(MATHS, T0), app.teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0)])
        finding = (await verdicts(app, (await only_lesson(app)).id))["managed-device"]
        assert finding.status is status and finding.severity is Severity.info
        assert ("does not manage" in finding.message) is (not managed)


async def test_sign_in_logs_are_not_read_unless_the_school_turns_the_rule_on(dev_app, connector, graph):
    script(graph, connector)
    await dev_app.post_all([dev_app.teams.meeting_start(MATHS, T0)])
    assert graph.requests("GET", "/v1.0/auditLogs/signIns") == []
    assert "managed-device" not in await verdicts(dev_app, (await only_lesson(dev_app)).id)


async def test_the_dsl_gets_the_weekly_list_of_staff_pupil_chats_without_their_content(database_url, connector, graph, tmp_path):
    from datetime import datetime, timedelta, timezone

    staff_group = "00000000-0000-4000-8000-00000000e002"  # the example policy's All Staff group
    for person in (TEACHER, TA):
        graph.add_person(person.aad_object_id, primary_role="teacher", name=person.name, groups=(staff_group,))
    graph.add_person(PUPIL_A.aad_object_id, primary_role="student", name=PUPIL_A.name)
    now = datetime.now(timezone.utc)
    graph.add_chat("19:chat-okafor-alex", now - timedelta(days=20), now - timedelta(days=1),
                   (TEACHER.aad_object_id, TEACHER.name), (PUPIL_A.aad_object_id, PUPIL_A.name))
    graph.add_chat("19:chat-okafor-hale", now - timedelta(days=20), now - timedelta(days=1),
                   (TEACHER.aad_object_id, TEACHER.name), (TA.aad_object_id, TA.name))  # two staff: not listed
    text = Path(policy_with(tmp_path)).read_text()
    policy = tmp_path / "policy.toml"
    policy.write_text(text + "\n[rules.staff-pupil-chats]\nenabled = true\n")
    async with run_app(dev_env(database_url, graph.base_url, CHAPERONE_POLICY_FILE=str(policy)), connector.url) as app:
        await app.post_all([app.teams.installation(TEACHER)])  # installed somewhere: a Bot Connector address to write from
        finding = await app.services.chats_report.send()
        await app.services.worker.wait_idle()
    assert finding.status is Status.failed and [(c["staff"], c["pupil"]) for c in finding.details["chats"]] == [(TEACHER.name, PUPIL_A.name)]
    [report] = [a for a in connector.sent_activities() if "One-to-one chats between staff and pupils" in all_text(a)]
    text = all_text(report)
    assert f"{TEACHER.name} and {PUPIL_A.name}" in text and TA.name not in text and "never what was said" in text
    # Only ever the chat list: Chaperone asks for no messages.
    assert not [c for c in graph.requests() if "/messages" in c.path]
