"""Escalation in a trust: a school's breach alert nobody acts on within the trust's limit goes,
once, to the trust's leads (the trust's alert channel and each lead 1:1); an acknowledged alert
is not escalated; a single school has no escalation at all."""

from __future__ import annotations

import asyncio

import pytest

from domain.messages import MessageKind

from .helpers import (
    MATHS, TRUST_CHANNEL, TRUST_LEAD, TRUST_TEAM, VALENCE_CHANNEL, VALENCE_SLT, VALENCE_TEAM, act_on_alert, alerts_of, all_text,
    channel_posts, lobby_off_lesson, minutes, personal_posts, rows, run_lessons, say,
)

pytestmark = pytest.mark.e2e


async def _valence_alert(app, connector):
    """Valence's after-hours lesson, its alert sent to Valence's channel; the trust's channel set."""
    await say(app, connector, "set alert channel", VALENCE_SLT, VALENCE_TEAM, VALENCE_CHANNEL)
    await say(app, connector, "set alert channel trust", TRUST_LEAD, TRUST_TEAM, TRUST_CHANNEL)
    lessons = await run_lessons(app, connector, MATHS)
    alerts = await alerts_of(app, lessons[MATHS.id])
    assert alerts and all(a.status.value == "sent" and a.school_id == "valence" for a in alerts)
    return alerts


def _escalations(connector) -> tuple[list[str], list[str]]:
    """Escalation cards in the trust's channel, and in the lead's 1:1 chat."""
    def escalated(activities):
        texts = [all_text(a["attachments"][0]["content"]) for a in activities if a.get("attachments")]
        return [t for t in texts if t.startswith("Escalated")]
    return escalated(channel_posts(connector, TRUST_CHANNEL)), escalated(personal_posts(connector, TRUST_LEAD.aad_object_id))


async def test_an_alert_left_unacknowledged_past_the_limit_reaches_the_trust_lead_once(any_trust_app, connector):
    app = any_trust_app
    alerts = await _valence_alert(app, connector)
    escalation = app.services.escalation
    sent = max(a.sent_at for a in alerts)

    # 29 minutes after: within the trust's 30, nothing.
    assert await escalation.sweep(sent + minutes(29)) == []
    await app.idle()
    assert _escalations(connector) == ([], [])

    # 31 minutes after: each alert escalated once, to the trust's channel and to Helen Ward 1:1;
    # two instances sweeping at the same moment still escalate each alert once.
    first, second = await asyncio.gather(escalation.sweep(sent + minutes(31)), escalation.sweep(sent + minutes(31)))
    await app.idle()
    assert len(first) + len(second) == len(alerts)
    in_channel, to_lead = _escalations(connector)
    assert len(in_channel) == len(alerts) and len(to_lead) == len(alerts)
    for words in in_channel + to_lead:
        assert "Valence School" in words and "Year 7 Maths" in words and "Within operating hours" in words
        assert "Unacknowledged for" in words and "minutes" in words
    assert any("31 minutes" in w for w in in_channel)
    stored = [m for m in await app.services.outbox.all() if m.kind is MessageKind.escalation]
    assert len(stored) == len(alerts) and {(m.school_id, m.status.value) for m in stored} == {("valence", "sent")}

    # Later sweeps (and the scheduled job) do not escalate it again.
    assert await escalation.sweep(sent + minutes(45)) == []
    assert await escalation.sweep(sent + minutes(24 * 60)) == []
    await app.idle()
    assert tuple(map(len, _escalations(connector))) == (len(alerts), len(alerts))
    # The school's own channel never sees the escalation.
    assert not [a for a in channel_posts(connector, VALENCE_CHANNEL) if all_text(a).startswith("Escalated")]


async def test_an_acknowledged_alert_is_not_escalated(any_trust_app, connector):
    app = any_trust_app
    alerts = await _valence_alert(app, connector)
    for alert in alerts:
        done = await act_on_alert(app, "acknowledge", alert, VALENCE_SLT)
        assert "Acknowledged by Roland Gooding" in all_text(done["value"])
    sent = max(a.sent_at for a in alerts)
    assert await app.services.escalation.sweep(sent + minutes(31)) == []
    await app.idle()
    assert _escalations(connector) == ([], [])
    assert not [m for m in await app.services.outbox.all() if m.kind is MessageKind.escalation]


async def test_the_acting_lead_acknowledges_from_the_escalation(trust_app, connector):
    alerts = await _valence_alert(trust_app, connector)
    sent = max(a.sent_at for a in alerts)
    [escalation_id, *_] = await trust_app.services.escalation.sweep(sent + minutes(31))
    await trust_app.idle()
    escalated = await trust_app.services.outbox.get(escalation_id)
    ack = next(a for a in escalated.card["actions"] if a["verb"] == "acknowledge")
    teams = trust_app.teams
    status, body = await teams.post(teams.card_action("acknowledge", ack["data"], TRUST_LEAD, conversation_id=escalated.conversation_id,
                                                      conversation_type="channel", reply_to_id=escalated.activity_id))
    assert status == 200 and "Acknowledged by Helen Ward" in all_text(body["value"])
    # The card in Valence's channel is updated too, where it was posted.
    await trust_app.idle()
    acked = next(a for a in alerts if str(a.id) == str(ack["data"]["alertId"]))
    puts = [c for c in connector.requests("PUT", "/v3/conversations/") if c.path.endswith(f"/activities/{acked.activity_id}")]
    assert puts and "Acknowledged by Helen Ward" in all_text(puts[-1].body)
    [entry] = [r for r in await rows(trust_app.services.engine, "audit_log") if r["action"] == "alert.acknowledge"]
    assert (entry["actor"], entry["school_id"]) == (TRUST_LEAD.aad_object_id, "valence")


async def test_the_sweep_is_scheduled_in_a_trust(trust_app):
    [sweep] = [j for j in await rows(trust_app.services.engine, "jobs") if j["kind"] == "escalation-sweep"]
    # Every three minutes for the trust's 30-minute limit: never more than a few minutes late.
    assert sweep["done_at"] is None and 170 <= (sweep["due_at"] - sweep["created_at"]).total_seconds() <= 181


async def test_a_single_school_has_no_escalation(dev_app, connector, graph):
    await lobby_off_lesson(dev_app, connector, graph)
    [alert, *_] = [m for m in await dev_app.services.outbox.all() if m.kind is MessageKind.slt_alert]
    assert alert.status.value == "sent" and alert.school_id == "school"
    assert not [j for j in await rows(dev_app.services.engine, "jobs") if j["kind"] == "escalation-sweep"]
    assert await dev_app.services.escalation.sweep(alert.sent_at + minutes(24 * 60)) == []
    assert not [m for m in await dev_app.services.outbox.all() if m.kind is MessageKind.escalation]
