"""Installs are recorded; SLT choose the alert channel; alerts reach it proactively, after a
restart too."""

from __future__ import annotations

import pytest
from botbuilder.schema import Activity

from domain.conversations import AlertPurpose

from .helpers import SLT, SLT_CHANNEL, TEACHER, dev_env, row_counts, rows, run_app

pytestmark = pytest.mark.e2e

TEAM = "19:team-general-0001@thread.tacv2"


async def test_installs_in_team_and_personal_scope_are_recorded_with_tenant(dev_app):
    teams = dev_app.teams
    for activity in (teams.installation(SLT, team_id=TEAM), teams.installation(TEACHER)):
        status, _ = await teams.post(activity)
        assert status == 200
    personal, team_install = sorted(await rows(dev_app.services.engine, "conversations"), key=lambda c: c["scope"])
    assert personal["scope"] == "personal" and team_install["scope"] == "team"
    assert team_install["team_id"] == TEAM and team_install["installed"]
    for conversation in (team_install, personal):
        assert conversation["reference"]["conversation"]["tenantId"] == teams.tenant_id

    status, _ = await teams.post(teams.installation(TEACHER, action="remove"))
    assert status == 200
    removed = await dev_app.services.conversations.get(personal["conversation_id"])
    assert not removed.installed and removed.removed_at is not None


async def test_only_slt_can_set_the_alert_channel(dev_app, connector):
    teams = dev_app.teams
    status, _ = await teams.post(teams.channel_message("set alert channel", TEACHER, team_id=TEAM, channel_id=SLT_CHANNEL))
    assert status == 200
    assert await dev_app.services.conversations.alert_destination(AlertPurpose.slt) is None
    [refusal] = connector.sent_activities()
    assert "Only the senior leaders" in refusal["text"] and "Nothing was changed" in refusal["text"]
    assert (await row_counts(dev_app.services))["alert_destinations"] == 0


async def test_the_alert_channel_survives_a_restart_and_receives_alerts(any_database_url, connector):
    # A restart: the channel must be in the database, on both.
    async with run_app(dev_env(any_database_url), connector.url) as first:
        teams = first.teams
        status, _ = await teams.post(teams.channel_message("set   Alert Channel ", SLT, team_id=TEAM, channel_id=SLT_CHANNEL))
        assert status == 200
        [confirmation] = connector.sent_activities()
        assert "will be posted in this channel" in confirmation["text"]

    connector.clear()
    async with run_app(dev_env(any_database_url), connector.url) as second:
        destination = await second.services.conversations.alert_destination(AlertPurpose.slt)
        assert destination.set_by_aad_id == SLT.aad_object_id
        await second.services.notifier.send_alert(AlertPurpose.slt, Activity(type="message", text="Test breach alert"))

    # A new post in the channel itself, not a reply in the thread where the command was typed.
    [call] = connector.requests("POST", "/v3/conversations")
    assert call.path == "/v3/conversations"
    assert call.body["channelData"]["channel"]["id"] == SLT_CHANNEL
    # botbuilder's schema spells the top-level key "tenantID"; Teams reads channelData.tenant.id.
    assert call.body["channelData"]["tenant"]["id"] == second.teams.tenant_id
    assert call.body["tenantID"] == second.teams.tenant_id and call.body["isGroup"] is True
    assert call.body["activity"]["text"] == "Test breach alert"


async def test_help_and_unknown_commands_answer_in_the_chat(dev_app, connector):
    teams = dev_app.teams
    await teams.post(teams.personal_message("help", TEACHER))
    await teams.post(teams.personal_message("make me a sandwich", TEACHER))
    help_reply, unknown_reply = connector.sent_activities()
    assert "set alert channel" in help_reply["text"]
    assert "I don't know the command 'make me a sandwich'" in unknown_reply["text"]
