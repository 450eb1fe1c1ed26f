"""Card actions name the message they act on: what a person sees when the name is missing,
unknown or of the wrong kind (a clear 4xx, nothing written), and lesson titles shown whole."""

from __future__ import annotations

import pytest

from domain.messages import MessageKind
from standins.teams import Meeting

from .helpers import (
    END, MATHS, PUPIL_A, PUPIL_B, SLT, SLT_CHANNEL, SLT_TEAM, T0, TA, TEACHER, alert_posts, all_text, lobby_off_lesson,
    minutes, rows, sign_aup,
)

pytestmark = pytest.mark.e2e

ALGEBRA = Meeting("19:meeting_algebra9@thread.v2", "Year 9: Algebra", TEACHER)
ERROR = "application/vnd.microsoft.error"


async def test_a_title_with_a_colon_is_shown_whole_on_the_slt_alert_and_the_lesson_record(dev_app, connector, graph):
    connector.add_meeting(ALGEBRA.id, ALGEBRA.info(T0, END))
    graph.add_meeting(TEACHER.aad_object_id, ALGEBRA.online_meeting(T0, END, lobby="everyone"))
    graph.calendars[TEACHER.aad_object_id] = [ALGEBRA.calendar_event(T0, END)]
    for person, role in ((TEACHER, "teacher"), (TA, "teacher"), (PUPIL_A, "student"), (PUPIL_B, "student")):
        graph.add_person(person.aad_object_id, primary_role=role, name=person.name)
    await sign_aup(dev_app, TEACHER, TA)
    teams = dev_app.teams
    await dev_app.post_all([teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL)])
    await dev_app.post_all([
        teams.meeting_start(ALGEBRA, T0), teams.join(ALGEBRA, [TEACHER, TA], T0),
        teams.join(ALGEBRA, [PUPIL_A, PUPIL_B], T0 + minutes(1)), teams.meeting_end(ALGEBRA, END),
    ])
    [alert] = alert_posts(connector)
    lines = all_text(alert["activity"]["attachments"][0]["content"]).splitlines()
    assert "Breach: Year 9: Algebra" in lines
    # The finding's own words, whole, under its rule: not "Algebra' (Ms Amara Okafor): ..."
    assert any(line.startswith("the waiting room is off: 'everyone' can bypass the lobby") for line in lines), lines
    assert not any("Algebra'" in line for line in lines)

    chats = [c.body for c in connector.requests("POST", "/v3/conversations") if c.body.get("members")]
    [record] = [c for c in chats if "Lesson record" in all_text(c["activity"])]
    text = all_text(record["activity"]["attachments"][0]["content"])
    assert "Lesson record: Year 9: Algebra" in text
    assert "Waiting room (lobby) on (breach): the waiting room is off: 'everyone' can bypass the lobby" in text
    assert "Algebra'" not in text


async def _messages(app, kind: MessageKind):
    return [m for m in await app.services.outbox.all() if m.kind is kind]


async def _nothing_written(app) -> bool:
    return await rows(app.services.engine, "alert_states") == [] and await rows(app.services.engine, "audit_log") == []


@pytest.mark.parametrize(
    "data, status, words",
    [
        pytest.param({}, 400, "missing or not valid", id="no-alert-id"),
        pytest.param({"alertId": "seven"}, 400, "missing or not valid", id="alert-id-not-a-number"),
        pytest.param({"alertId": 99999}, 404, "no record of that card", id="unknown-alert-id"),
    ],
)
async def test_an_alert_action_naming_no_alert_is_a_clear_4xx_and_writes_nothing(dev_app, connector, graph, data, status, words):
    await lobby_off_lesson(dev_app, connector, graph)
    teams = dev_app.teams
    answered, body = await teams.post(teams.card_action("acknowledge", data, SLT, conversation_id=SLT_CHANNEL, conversation_type="channel"))
    assert answered == status and body["statusCode"] == status and body["type"] == ERROR
    assert words in body["value"]["message"] and "Nothing was changed" in body["value"]["message"]
    assert await _nothing_written(dev_app)


async def test_an_alert_action_on_a_message_of_another_kind_is_refused_and_writes_nothing(dev_app, connector, graph):
    await lobby_off_lesson(dev_app, connector, graph)
    [warning] = await _messages(dev_app, MessageKind.teacher_warning)
    teams = dev_app.teams
    for verb in ("acknowledge", "resolve"):
        answered, body = await teams.post(teams.card_action(verb, {"alertId": warning.id}, SLT, conversation_id=SLT_CHANNEL,
                                                            conversation_type="channel"))
        assert answered == 400 and body["type"] == ERROR and "does not apply to this card" in body["value"]["message"]
    assert await _nothing_written(dev_app)


async def test_the_organizers_view_of_another_kind_of_message_is_refused(dev_app, connector, graph):
    await lobby_off_lesson(dev_app, connector, graph)
    [alert] = await _messages(dev_app, MessageKind.slt_alert)
    teams = dev_app.teams
    answered, body = await teams.post(teams.card_action("teacherView", {"warningId": alert.id}, TEACHER, conversation_id=MATHS.thread_id))
    assert answered == 400 and body["type"] == ERROR
    assert "Breach" not in str(body) and "waiting room" not in str(body)
    answered, body = await teams.post(teams.card_action("teacherView", {"lessonId": 1}, PUPIL_A, conversation_id=MATHS.thread_id))
    assert answered == 400 and body["type"] == ERROR and "missing or not valid" in body["value"]["message"]


async def test_a_concern_naming_a_lesson_that_is_not_a_number_is_refused(dev_app, connector, graph):
    await lobby_off_lesson(dev_app, connector, graph)
    teams = dev_app.teams
    answered, body = await teams.post(teams.card_action("reportConcern", {"lessonId": "x", "concern": "help"}, PUPIL_A,
                                                        conversation_id=MATHS.thread_id))
    assert answered == 400 and body["type"] == ERROR
    assert await rows(dev_app.services.engine, "concerns") == []
