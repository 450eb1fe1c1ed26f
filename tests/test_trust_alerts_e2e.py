"""A trust's alerts stay with their school: each school's SLT choose their own channel, each
lesson's alert goes to its school's channel, a concern to its school's DSL, and a leader of one
school (or a read-only trust lead) cannot act on another school's alert."""

from __future__ import annotations

import pytest

from domain.conversations import AlertPurpose
from domain.messages import MessageKind
from domain.placement import Placement

from .helpers import (
    BROOK_CHANNEL, BROOK_DSL, BROOK_PUPIL, BROOK_READING, BROOK_SLT, BROOK_TEACHER, BROOK_TEAM, MATHS, TRUST_CHANNEL, TRUST_FILE,
    TRUST_LEAD, TRUST_TEAM, UNPLACED, UNPLACED_TEACHER, VALENCE_CHANNEL, VALENCE_DSL, VALENCE_SLT, VALENCE_TEAM, act_on_alert,
    alerts_of, all_text, both_schools_alerting, channel_posts, personal_posts, rows, run_app, run_lessons, say, script_trust_people,
    trust_env,
)

pytestmark = pytest.mark.e2e


async def test_each_schools_alert_goes_to_its_own_channel(trust_app, connector):
    lessons = await both_schools_alerting(trust_app, connector)
    maths, reading = lessons[MATHS.id], lessons[BROOK_READING.id]
    assert (maths.school_id, reading.school_id) == ("valence", "brook")

    valence_posts = [all_text(a["attachments"][0]["content"]) for a in channel_posts(connector, VALENCE_CHANNEL)]
    brook_posts = [all_text(a["attachments"][0]["content"]) for a in channel_posts(connector, BROOK_CHANNEL)]
    assert valence_posts and brook_posts
    assert all("Year 7 Maths" in t and "Valence School" in t and "Brook" not in t for t in valence_posts), valence_posts
    assert all("Year 3 Reading" in t and "Brook Primary School" in t and "Valence" not in t for t in brook_posts), brook_posts
    assert any("Within operating hours" in t for t in brook_posts) and any("Within operating hours" in t for t in valence_posts)
    # Each alert is its school's record, and was sent.
    for lesson, school in ((maths, "valence"), (reading, "brook")):
        alerts = await alerts_of(trust_app, lesson)
        assert alerts and {(m.school_id, m.status.value) for m in alerts} == {(school, "sent")}


async def test_set_alert_channel_is_each_schools_own(any_trust_app, connector):
    app, conversations = any_trust_app, any_trust_app.services.conversations
    answer = await say(app, connector, "set alert channel", BROOK_SLT, BROOK_TEAM, BROOK_CHANNEL)
    assert "Breach alerts for Brook Primary School will be posted in this channel" in answer
    brook = await conversations.alert_destination(AlertPurpose.slt, "brook")
    assert brook.set_by_aad_id == BROOK_SLT.aad_object_id and brook.conversation.channel_id == BROOK_CHANNEL
    assert await conversations.alert_destination(AlertPurpose.slt, "valence") is None
    assert await conversations.alert_destination(AlertPurpose.slt, "trust") is None

    # Valence's SLT naming Brook is refused, and Brook's channel stays Brook's.
    answer = await say(app, connector, "set alert channel brook", VALENCE_SLT, VALENCE_TEAM, VALENCE_CHANNEL)
    assert "Only Brook Primary School's senior leaders" in answer and "Nothing was changed" in answer
    answer = await say(app, connector, "set alert channel Brook Primary School", VALENCE_SLT, VALENCE_TEAM, VALENCE_CHANNEL)
    assert "Nothing was changed" in answer
    after = await conversations.alert_destination(AlertPurpose.slt, "brook")
    assert (after.set_by_aad_id, after.conversation.conversation_id, after.set_at) == (
        brook.set_by_aad_id, brook.conversation.conversation_id, brook.set_at)
    assert await conversations.alert_destination(AlertPurpose.slt, "valence") is None
    # Naming their own school by name works.
    answer = await say(app, connector, "set alert channel valence school", VALENCE_SLT, VALENCE_TEAM, VALENCE_CHANNEL)
    assert "Breach alerts for Valence School will be posted" in answer
    assert (await conversations.alert_destination(AlertPurpose.slt, "valence")).conversation.channel_id == VALENCE_CHANNEL

    # A teacher is refused as before; a trust lead must say which school, and may choose only theirs.
    answer = await say(app, connector, "set alert channel brook", BROOK_TEACHER, BROOK_TEAM, BROOK_CHANNEL)
    assert "Only the senior leaders" in answer and "Nothing was changed" in answer
    answer = await say(app, connector, "set alert channel", TRUST_LEAD, TRUST_TEAM, TRUST_CHANNEL)
    assert "Say which school" in answer and "**trust**" in answer and "Nothing was changed" in answer
    assert await conversations.alert_destination(AlertPurpose.slt, "trust") is None
    answer = await say(app, connector, "set alert channel valence", TRUST_LEAD, TRUST_TEAM, TRUST_CHANNEL)
    assert "Only Valence School's senior leaders" in answer
    answer = await say(app, connector, "set alert channel trust", TRUST_LEAD, TRUST_TEAM, TRUST_CHANNEL)
    assert "Breach alerts for Riverside Learning Trust will be posted" in answer
    assert (await conversations.alert_destination(AlertPurpose.slt, "trust")).conversation.channel_id == TRUST_CHANNEL
    # The DSL's concern channel likewise: Brook's DSL sets Brook's.
    answer = await say(app, connector, "set concern channel", BROOK_DSL, BROOK_TEAM, BROOK_CHANNEL)
    assert "Safeguarding concerns for Brook Primary School" in answer
    assert await conversations.alert_destination(AlertPurpose.dsl, "valence") is None

    # `status` in a channel names only what that channel receives.
    status = await say(app, connector, "status", BROOK_SLT, BROOK_TEAM, BROOK_CHANNEL)
    assert "Breach alerts for Brook Primary School" in status and "Safeguarding concerns for Brook Primary School" in status
    assert "Valence" not in status and "Riverside" in status
    status = await say(app, connector, "status", VALENCE_SLT, VALENCE_TEAM, VALENCE_CHANNEL)
    assert "Breach alerts for Valence School" in status and "Brook" not in status


async def test_a_school_leader_cannot_act_on_another_schools_alert(any_trust_app, connector):
    app = any_trust_app
    lessons = await both_schools_alerting(app, connector)
    [valence_alert, *_] = await alerts_of(app, lessons[MATHS.id])
    audit_before = await rows(app.services.engine, "audit_log")

    for verb, extra in (("acknowledge", {}), ("resolve", {}), ("recordException", {"reason": "approved", "expires": "2099-12-18"})):
        for person in (BROOK_SLT, BROOK_DSL):
            refused = await act_on_alert(app, verb, valence_alert, person, **extra)
            assert refused["type"] == "application/vnd.microsoft.activity.message", refused
            assert "another school's" in refused["value"] and "Nothing was changed" in refused["value"]
    state = await app.services.outbox.alert_state(valence_alert.id)
    assert (state.acknowledged_at, state.resolved_at, state.exception_id) == (None, None, None)
    assert await rows(app.services.engine, "exceptions") == []
    refusals = [r for r in await rows(app.services.engine, "audit_log") if r not in audit_before]
    assert len(refusals) == 6 and {r["action"] for r in refusals} == {"alert.refused"}
    assert {r["actor"] for r in refusals} == {BROOK_SLT.aad_object_id, BROOK_DSL.aad_object_id}
    assert {r["school_id"] for r in refusals} == {"valence"} and {r["target"] for r in refusals} == {f"message:{valence_alert.id}"}

    # Valence's own DSL acts on it.
    done = await act_on_alert(app, "acknowledge", valence_alert, VALENCE_DSL)
    assert done["type"] == "application/vnd.microsoft.card.adaptive" and "Acknowledged by Lisa Kavanagh" in all_text(done["value"])
    [entry] = [r for r in await rows(app.services.engine, "audit_log") if r["action"] == "alert.acknowledge"]
    assert (entry["actor"], entry["school_id"]) == (VALENCE_DSL.aad_object_id, "valence")


async def test_an_acting_trust_lead_may_act_on_a_schools_alert(trust_app, connector):
    lessons = await both_schools_alerting(trust_app, connector)
    [brook_alert, *_] = await alerts_of(trust_app, lessons[BROOK_READING.id])
    done = await act_on_alert(trust_app, "acknowledge", brook_alert, TRUST_LEAD)
    assert "Acknowledged by Helen Ward" in all_text(done["value"])
    assert (await trust_app.services.outbox.alert_state(brook_alert.id)).acknowledged_by == "Helen Ward"
    # An exception is the school's to approve: Brook's policy does not name the trust lead.
    refused = await act_on_alert(trust_app, "recordException", brook_alert, TRUST_LEAD, reason="approved", expires="2099-12-18")
    assert "Only SLT and the DSL named in the policy can approve exceptions" in refused["value"]
    assert await rows(trust_app.services.engine, "exceptions") == []
    # Brook's SLT records one: kept as Brook's, under Brook's policy.
    recorded = await act_on_alert(trust_app, "recordException", brook_alert, BROOK_SLT, reason="approved by the head", expires="2099-12-18")
    assert "recorded by Priya Shah" in all_text(recorded["value"])
    exceptions = await rows(trust_app.services.engine, "exceptions")
    assert exceptions and {(r["school_id"], r["approved_by"]) for r in exceptions} == {("brook", BROOK_SLT.aad_object_id)}
    assert [e.id for e in await trust_app.services.exceptions.list("brook")] == [r["id"] for r in exceptions]


async def test_a_read_only_trust_lead_is_refused(database_url, connector, graph, tmp_path):
    trust = TRUST_FILE.read_text().replace("acts = true", "acts = false")
    for name in ("valence.toml", "brook.toml", "default.toml"):
        trust = trust.replace(f'"{name}"', f'"{TRUST_FILE.parent / name}"')
    assert "acts = false" in trust
    (tmp_path / "trust.toml").write_text(trust)
    script_trust_people(graph)
    env = trust_env(database_url, graph.base_url) | {"CHAPERONE_POLICY_FILE": str(tmp_path / "trust.toml")}
    async with run_app(env, connector.url) as app:
        lessons = await both_schools_alerting(app, connector)
        [valence_alert, *_] = await alerts_of(app, lessons[MATHS.id])
        refused = await act_on_alert(app, "acknowledge", valence_alert, TRUST_LEAD)
        assert "read the schools' records, not act on their alerts" in refused["value"] and "Nothing was changed" in refused["value"]
        assert (await app.services.outbox.alert_state(valence_alert.id)).acknowledged_at is None
        [entry] = [r for r in await rows(app.services.engine, "audit_log") if r["action"] == "alert.refused"]
        assert (entry["actor"], entry["school_id"], entry["details"]["reason"]) == (TRUST_LEAD.aad_object_id, "valence", "read-only trust lead")


async def test_a_concern_reaches_its_own_schools_dsl(trust_app, connector):
    lessons = await run_lessons(trust_app, connector, MATHS, BROOK_READING)
    reading = lessons[BROOK_READING.id]
    teams = trust_app.teams
    status, _ = await teams.post(teams.card_action("reportConcern", {"concern": "Someone keeps messaging me.", "lessonId": reading.id},
                                                   BROOK_PUPIL, conversation_id=BROOK_READING.thread_id))
    assert status == 200
    await trust_app.idle()
    [card] = [a["attachments"][0]["content"] for a in personal_posts(connector, BROOK_DSL.aad_object_id)
              if "Safeguarding concern" in all_text(a)]
    words = all_text(card)
    assert "Brook Primary School" in words and "Only Brook Primary School's DSL receives this" in words and "Year 3 Reading" in words
    for other in (VALENCE_DSL, VALENCE_SLT, TRUST_LEAD):
        assert not [a for a in personal_posts(connector, other.aad_object_id) if "Safeguarding concern" in all_text(a)]
    [concern] = await rows(trust_app.services.engine, "concerns")
    assert (concern["school_id"], concern["lesson_id"]) == ("brook", reading.id)
    [message] = [m for m in await trust_app.services.outbox.all() if m.kind is MessageKind.concern]
    assert (message.school_id, message.status.value) == ("brook", "sent")

    # Without a lesson: the reporter's school when one school names them (Brook's SLT), else the
    # trust's default policy's DSL (a pupil names no school).
    for person, dsl in ((BROOK_SLT, BROOK_DSL), (BROOK_PUPIL, TRUST_LEAD)):
        before = len(personal_posts(connector, dsl.aad_object_id))
        status, _ = await teams.post(teams.card_action("reportConcern", {"concern": "A worry."}, person, conversation_id=f"a:{person.teams_id}",
                                                       conversation_type="personal"))
        assert status == 200
        await trust_app.idle()
        assert len(personal_posts(connector, dsl.aad_object_id)) == before + 1, person
    assert [r["school_id"] for r in await rows(trust_app.services.engine, "concerns")] == ["brook", "brook", "trust"]


async def test_an_unplaced_lessons_alert_goes_to_the_trust_saying_school_unknown(trust_app, connector, graph):
    graph.add_person(UNPLACED_TEACHER.aad_object_id, primary_role="teacher", name=UNPLACED_TEACHER.name)
    await say(trust_app, connector, "set alert channel", VALENCE_SLT, VALENCE_TEAM, VALENCE_CHANNEL)
    await say(trust_app, connector, "set alert channel trust", TRUST_LEAD, TRUST_TEAM, TRUST_CHANNEL)
    lessons = await run_lessons(trust_app, connector, UNPLACED)
    lesson = lessons[UNPLACED.id]
    assert (lesson.school_id, lesson.placement) == ("trust", Placement.unknown)
    posts = [all_text(a["attachments"][0]["content"]) for a in channel_posts(connector, TRUST_CHANNEL)]
    alerts = [t for t in posts if "Holiday club" in t]
    assert alerts and all("School unknown" in t for t in alerts)
    assert any(lesson.placement_reason and lesson.placement_reason in t for t in alerts), (lesson.placement_reason, alerts)
    assert not channel_posts(connector, VALENCE_CHANNEL)


async def test_help_names_the_trust(trust_app, connector):
    teams = trust_app.teams
    status, _ = await teams.post(teams.personal_message("help", BROOK_TEACHER))
    assert status == 200
    [answer] = connector.sent_activities()
    assert "Riverside Learning Trust" in answer["text"] and "set alert channel SCHOOL" in answer["text"]


async def test_the_welcome_names_the_persons_school_or_the_trust(trust_app, connector):
    teams = trust_app.teams
    for person, name in ((BROOK_SLT, "Brook Primary School"), (BROOK_TEACHER, "Riverside Learning Trust")):
        before = len(connector.sent_activities())
        status, _ = await teams.post(teams.installation(person))
        assert status == 200
        [welcome] = connector.sent_activities()[before:]
        assert all_text(welcome["attachments"][0]["content"]).startswith(f"Chaperone for {name}\n"), person
        # Each school has its own AUP: the welcome's button opens the person's own school's.
        content = welcome["attachments"][0]["content"]
        assert "please read and sign your school's Remote Learning AUP" in all_text(content)
        [sign] = [a for a in content["actions"] if a.get("verb") == "openAup"]
    chat = teams.installation(BROOK_TEACHER)["conversation"]["id"]
    status, opened = await teams.post(teams.card_action("openAup", sign["data"], BROOK_TEACHER, conversation_id=chat))
    assert status == 200 and "Brook Primary School" in all_text(opened["value"])
