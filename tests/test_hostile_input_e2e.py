"""Hostile input and faults, as a school's data protection officer would try them, through
/api/messages over HTTP with the stand-ins: nobody reads what is not theirs, only the school's
tenant acts, serviceUrl is checked as it is sent to, bad input gets a 4xx and writes nothing,
note links cannot be forged, personal data stays out of logs and goes with retention, and
slow clients are cut off."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import stat
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from config.policy import Retention
from config.startup import StartupError, read_settings
from domain.messages import DeliveryStatus, MessageKind
from standins.identity import ChannelIdentityStandIn
from standins.teams import TeamsSimulator
from store.retention import purge
from store.tables import utcnow

from .helpers import (
    DSL_ID, END, MATHS, PUPIL_A, PUPIL_B, SLT, SLT_CHANNEL, SLT_TEAM, T0, TA, TEACHER, all_text, dev_env, lobby_off_lesson,
    minutes, row_counts, rows, run_app,
)

pytestmark = pytest.mark.e2e

APP_ID = "3f6a5c1e-1111-4222-8333-944455556666"
ERROR = "application/vnd.microsoft.error"
OTHER_TENANT = "9d0c0b0a-0000-4000-8000-0000000000ff"
TENANT = "5f1b3a1e-0000-4000-8000-5c8001000001"  # the example policy's, and the bot registration's (SingleTenant)
DSL = type(SLT)("Dana Shah", DSL_ID)


@pytest.fixture
def identity():
    with ChannelIdentityStandIn() as standin:
        yield standin


def auth_env(database_url: str, identity: ChannelIdentityStandIn, **extra: str) -> dict[str, str]:
    return dev_env(
        database_url, CHAPERONE_DEV_MODE="0", MicrosoftAppId=APP_ID, MicrosoftAppPassword="not-used-by-these-tests", MicrosoftAppTenantId=TENANT,
        CHAPERONE_BOT_OPENID_METADATA_URL=identity.metadata_url, CHAPERONE_BOT_TOKEN_ISSUER=identity.issuer,
        CHAPERONE_ALLOWED_SERVICE_HOSTS="127.0.0.1", **extra,
    )


def no_tracebacks(caplog) -> bool:
    return all(r.exc_info is None for r in caplog.records) and "Traceback" not in caplog.text


async def every_table(services) -> dict[str, int]:
    """Row counts of every table Chaperone has: 'nothing written' means all of them."""
    from sqlalchemy import func, select

    from store.tables import Base

    async with services.engine.connect() as conn:
        return {name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for name, table in Base.metadata.tables.items()}


# ---- 1. Nobody reads what is not theirs ------------------------------------------------------


async def test_the_organizers_note_cannot_be_read_from_another_conversation(dev_app, connector, graph):
    await lobby_off_lesson(dev_app, connector, graph)
    [warning] = [m for m in await dev_app.services.outbox.all() if m.kind is MessageKind.teacher_warning]
    teams = dev_app.teams
    # The organizer themself, and a pupil, pressing a card that names the note from their own chats.
    for person in (TEACHER, PUPIL_A):
        answered, body = await teams.post(teams.card_action("teacherView", {"warningId": warning.id}, person,
                                                            conversation_id=f"a:{person.teams_id}", conversation_type="personal"))
        assert answered == 404 and body["type"] == ERROR and "no record of that card" in body["value"]["message"]
        assert "Maths" not in str(body) and "lobby" not in str(body).lower()
    # From the lesson's own chat the organizer still sees it.
    answered, body = await teams.post(teams.card_action("teacherView", {"warningId": warning.id}, TEACHER, conversation_id=MATHS.thread_id))
    assert answered == 200 and "lobby" in all_text(body["value"]).lower()


@pytest.mark.parametrize("data", [{"warningId": 2**40}, {"warningId": 0}, {"warningId": True}, {"warningId": [1]}])
async def test_a_note_reference_of_the_wrong_shape_is_a_400(dev_app, connector, graph, data):
    await lobby_off_lesson(dev_app, connector, graph)
    answered, body = await dev_app.teams.post(dev_app.teams.card_action("teacherView", data, TEACHER, conversation_id=MATHS.thread_id))
    assert answered == 400 and body["type"] == ERROR


async def test_a_concern_naming_a_lesson_from_another_conversation_is_kept_but_not_filed_under_it(dev_app, connector, graph):
    lesson = await lobby_off_lesson(dev_app, connector, graph)
    teams = dev_app.teams
    status, _ = await teams.post(teams.card_action("reportConcern", {"lessonId": lesson.id, "concern": "I am worried about a friend"}, PUPIL_B,
                                                   conversation_id=f"a:{PUPIL_B.teams_id}", conversation_type="personal"))
    assert status == 200
    [concern] = await rows(dev_app.services.engine, "concerns")
    assert concern["lesson_id"] is None and concern["text"] == "I am worried about a friend"


async def test_an_slt_action_on_a_concern_is_refused_and_writes_nothing(dev_app, connector, graph):
    lesson = await lobby_off_lesson(dev_app, connector, graph)
    teams = dev_app.teams
    await teams.post(teams.card_action("reportConcern", {"lessonId": lesson.id, "concern": "help"}, PUPIL_A, conversation_id=MATHS.thread_id))
    [concern] = [m for m in await dev_app.services.outbox.all() if m.kind is MessageKind.concern]
    audit_before = await rows(dev_app.services.engine, "audit_log")
    for verb in ("acknowledge", "resolve", "teacherView"):
        key = "warningId" if verb == "teacherView" else "alertId"
        answered, body = await teams.post(teams.card_action(verb, {key: concern.id}, SLT, conversation_id=SLT_CHANNEL, conversation_type="channel"))
        assert answered == 400 and body["type"] == ERROR and "help" not in str(body)
    assert await rows(dev_app.services.engine, "alert_states") == []
    assert await rows(dev_app.services.engine, "audit_log") == audit_before


# ---- 2. The school's tenant, always ----------------------------------------------------------


async def test_another_tenant_carrying_the_slt_and_dsl_ids_changes_nothing(dev_app, connector, graph):
    await lobby_off_lesson(dev_app, connector, graph)
    [alert] = [m for m in await dev_app.services.outbox.all() if m.kind is MessageKind.slt_alert]
    before = await every_table(dev_app.services)
    destinations = await rows(dev_app.services.engine, "alert_destinations")
    elsewhere = TeamsSimulator(dev_app.url, connector.url, tenant_id=OTHER_TENANT)
    channel = "19:elsewhere@thread.tacv2"
    connector.clear()
    for text, person in (("set alert channel", SLT), ("set concern channel", DSL)):
        status, _ = await elsewhere.post(elsewhere.channel_message(text, person, team_id="19:team-elsewhere", channel_id=channel))
        assert status == 200
    for verb, data in (("acknowledge", {"alertId": alert.id}), ("resolve", {"alertId": alert.id}),
                       ("recordException", {"alertId": alert.id, "reason": "approved", "expires": "2099-01-01"})):
        status, body = await elsewhere.post(elsewhere.card_action(verb, data, SLT, conversation_id=channel, conversation_type="channel"))
        assert status == 200 and "only inside" in body["value"], body
    status, _ = await elsewhere.post(elsewhere.installation(SLT, team_id="19:team-elsewhere", channel_id=channel))
    assert status == 200
    assert await every_table(dev_app.services) == before
    assert await rows(dev_app.services.engine, "alert_destinations") == destinations
    replies = [a.get("text", "") for a in connector.sent_activities()]
    assert len(replies) == 2 and all("only inside Valence" in r for r in replies)


async def test_a_tenant_mismatch_inside_one_activity_is_refused(dev_app, connector):
    activity = dev_app.teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL)
    activity["conversation"]["tenantId"] = OTHER_TENANT  # channelData still names the school
    status, _ = await dev_app.teams.post(activity)
    assert status == 200
    assert await rows(dev_app.services.engine, "alert_destinations") == []


# ---- 3. serviceUrl is checked with the parser that sends -------------------------------------


def _hostile_service_urls(port: int) -> list[str]:
    return [
        f"http://evil.example\\@127.0.0.1:{port}/",
        f"http://evil.example%5C@127.0.0.1:{port}/",
        f"http://user@127.0.0.1:{port}/",
        f"http://127.0.0.1:{port}/?@evil.example/",
        f"http://127.0.0.1:{port}/#@evil.example/",
        f"http://127.0.0.%31:{port}/",
        f"ftp://127.0.0.1:{port}/",
    ]


async def test_a_service_url_parsers_disagree_on_is_refused_in_dev_mode(dev_app, connector, caplog):
    caplog.set_level(logging.INFO)
    for url in _hostile_service_urls(connector.port):
        activity = dev_app.teams.personal_message("help", TEACHER)
        activity["serviceUrl"] = url
        status, body = await dev_app.teams.post(activity)
        assert status == 403, (url, body)
    assert connector.requests() == []
    assert await row_counts(dev_app.services) == dict.fromkeys(await row_counts(dev_app.services), 0)
    assert no_tracebacks(caplog)


async def test_a_service_url_parsers_disagree_on_is_refused_with_authentication_on(database_url, identity, connector):
    token = lambda url: identity.token(APP_ID, url)  # noqa: E731 - the channel signs whatever serviceUrl it was given
    async with run_app(auth_env(database_url, identity), connector.url, token=token) as app:
        for url in [*_hostile_service_urls(connector.port), f"http://localhost.evil.example:{connector.port}/"]:
            activity = app.teams.personal_message("help", TEACHER)
            activity["serviceUrl"] = url
            status, _ = await app.teams.post(activity)
            assert status == 403, url
        assert connector.requests() == []


def test_plain_http_is_refused_outside_dev_mode_except_to_a_listed_loopback_host(monkeypatch):
    monkeypatch.setenv("MicrosoftAppId", APP_ID)
    monkeypatch.setenv("MicrosoftAppTenantId", TENANT)
    monkeypatch.setenv("CHAPERONE_ALLOWED_SERVICE_HOSTS", "smba.trafficmanager.net,127.0.0.1")
    settings = read_settings(_env_file=None)
    assert settings.service_url_refusal("http://smba.trafficmanager.net/emea/") is not None
    assert settings.service_url_refusal("https://smba.trafficmanager.net/emea/") is None
    assert settings.service_url_refusal("https://smba.trafficmanager.net.evil.example/emea/") is not None
    assert settings.service_url_refusal("http://127.0.0.1:3978/") is None


# ---- 4. No 5xx from bad input ----------------------------------------------------------------


def _bad_bodies() -> list[tuple[str, str]]:
    teams = TeamsSimulator("http://unused", "http://127.0.0.1:9/")
    message = teams.personal_message("help", TEACHER)
    start = teams.meeting_start(MATHS, T0)
    action = teams.card_action("acknowledge", {"alertId": 1}, SLT, conversation_id=SLT_CHANNEL, conversation_type="channel")
    import json

    def with_(base: dict, **changes) -> str:
        return json.dumps({**base, **changes})

    return [
        ("deep nesting", '{"type": "message", "value": ' + "[" * 50000 + "]" * 50000 + "}"),
        ("huge integer", '{"type": "message", "value": ' + "9" * 5000 + "}"),
        ("integer past 64 bits", with_(action, value={"action": {"verb": "acknowledge", "data": {"alertId": 2**70}}})),
        ("NaN", '{"type": "message", "value": NaN}'),
        ("lone surrogate in text", with_(message, text="\ud800")),
        ("lone surrogate in a key", with_(start, value={"\udc00": 1})),
        ("NUL in a name", with_(message, **{"from": {"id": "29:x", "name": "a\x00b"}})),
        ("conversation missing", with_(message, conversation=None)),
        ("conversation id a number", with_(message, conversation={"id": 5})),
        ("recipient a string", with_(message, recipient="bot")),
        ("entities a string", with_(message, entities="x")),
        ("mention of a number", with_(message, entities=[{"type": "mention", "mentioned": 5}])),
        ("channelData a string", with_(message, channelData="x")),
        ("tenant a number", with_(message, channelData={"tenant": 5})),
        ("membersAdded of numbers", with_(message, type="conversationUpdate", membersAdded=[5])),
        ("text a number", with_(message, text=5)),
        ("meeting value a list", with_(start, value=[1])),
        ("meeting start beyond year 9999", with_(start, value={**start["value"], "StartTime": "99999-01-01T00:00:00Z"})),
        ("card data a list", with_(action, value={"action": {"verb": "acknowledge", "data": [1]}})),
        ("not UTF-8", '{"type": "message", "text": "\xff"}'),
    ]


@pytest.mark.parametrize("what, body", _bad_bodies(), ids=[what for what, _ in _bad_bodies()])
async def test_bad_input_gets_a_4xx_no_traceback_and_writes_nothing(dev_app, caplog, what, body):
    caplog.set_level(logging.INFO)
    before = await every_table(dev_app.services)
    data = body.encode("latin-1") if what == "not UTF-8" else body.encode("utf-8", "surrogatepass")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{dev_app.url}/api/messages", data=data, headers={"Content-Type": "application/json"}) as response:
            status = response.status
    assert 400 <= status < 500, (what, status)
    assert no_tracebacks(caplog)
    assert await every_table(dev_app.services) == before


async def test_an_unknown_invoke_gets_a_400_with_an_error_body_not_the_sdks_501(dev_app):
    activity = dev_app.teams.card_action("noSuchVerb", {}, TEACHER, conversation_id=MATHS.thread_id)
    activity["name"] = "task/fetch"
    status, body = await dev_app.teams.post(activity)
    assert status == 400 and body["statusCode"] == 400 and body["type"] == ERROR and "task/fetch" in body["value"]["message"]


async def test_a_client_that_hangs_up_mid_body_is_logged_in_one_line(dev_app, caplog):
    caplog.set_level(logging.INFO)
    host, port = dev_app.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"type\":")
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    lines = []
    for _ in range(100):
        lines = [r for r in caplog.records if "closed the connection" in r.getMessage()]
        if lines:
            break
        await asyncio.sleep(0.05)
    assert len(lines) == 1 and "\n" not in lines[0].getMessage()
    await asyncio.sleep(0.2)
    assert no_tracebacks(caplog)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_connector_outage_while_replying_is_acknowledged_and_the_reply_queued(dev_app, connector, caplog):
    caplog.set_level(logging.INFO)
    conversation = f"a:{TEACHER.teams_id}"
    connector.fail_next("POST", f"/v3/conversations/{conversation}/activities", *([503] * 8))
    status, _ = await dev_app.teams.post(dev_app.teams.personal_message("help", TEACHER))
    assert status == 200
    [queued] = [m for m in await dev_app.services.outbox.all() if m.kind is MessageKind.reply]
    assert [r for r in caplog.records if "reply queued for retry" in r.getMessage()] and no_tracebacks(caplog)
    assert len(connector.sent_activities(conversation)) == 1  # the one refused attempt, in the turn
    connector.clear()
    connector.faults.pending.clear()  # the connector is back
    sent = []
    for _ in range(200):
        await dev_app.idle()
        sent = [a for a in connector.sent_activities(conversation) if "set alert channel" in (a.get("text") or "")]
        if sent:
            break
        await asyncio.sleep(0.05)
    assert len(sent) == 1 and sent[0].get("replyToId")
    assert (await dev_app.services.outbox.get(queued.id)).status is DeliveryStatus.sent


async def test_an_entra_token_outage_while_replying_is_acknowledged_and_the_reply_queued(database_url, identity, connector, caplog):
    # The bot's own token comes from Entra (login.microsoftonline.com), which this machine
    # cannot reach: exactly an outage of Entra as seen from Chaperone.
    caplog.set_level(logging.INFO)
    async with run_app(auth_env(database_url, identity), connector.url, token=lambda url: identity.token(APP_ID, url)) as app:
        status, _ = await app.teams.post(app.teams.personal_message("help", TEACHER))
        assert status == 200
        [queued] = [m for m in await app.services.outbox.all() if m.kind is MessageKind.reply]
        assert queued.card["activity"]["text"].startswith("Chaperone checks live lessons")
        [line] = [r for r in caplog.records if "reply queued for retry" in r.getMessage()]
        assert line.exc_info is None and "Traceback" not in caplog.text


# ---- 6. Links that cannot be forged ----------------------------------------------------------


def _public_value_signature(key_source: str, message_id: int) -> str:
    key = hashlib.sha256(key_source.encode()).digest()
    return hmac.new(key, f"note:{message_id}".encode(), hashlib.sha256).hexdigest()[:32]


async def test_a_note_link_signed_with_a_key_from_public_values_is_refused(database_url, connector, graph):
    env = dev_env(database_url, graph.base_url, CHAPERONE_PUBLIC_URL="https://chaperone.school.example")
    async with run_app(env, connector.url) as app:
        await lobby_off_lesson(app, connector, graph)
        [notification] = connector.requests("POST", "/v1/meetings/")
        url = notification.body["value"]["surfaces"][0]["content"]["value"]["url"]
        message_id = int(url.split("/notes/")[1].split("?")[0])
        async with aiohttp.ClientSession() as session:
            # What anyone could compute in dev mode (no app id, no password), or from the app id alone.
            for source in ("chaperone-links::", f"chaperone-links:{APP_ID}:"):
                forged = f"{app.url}/notes/{message_id}?sig={_public_value_signature(source, message_id)}"
                async with session.get(forged) as page:
                    assert page.status == 403
            async with session.get(app.url + url.removeprefix("https://chaperone.school.example")) as page:
                assert page.status == 200


def test_without_an_app_password_a_public_url_needs_a_link_secret(monkeypatch):
    for name in ("CHAPERONE_DEV_MODE", "MicrosoftAppPassword", "CHAPERONE_LINK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MicrosoftAppId", APP_ID)
    monkeypatch.setenv("MicrosoftAppType", "UserAssignedMSI")
    monkeypatch.setenv("MicrosoftAppTenantId", "5f1b3a1e-0000-4000-8000-5c8001000001")
    monkeypatch.setenv("CHAPERONE_PUBLIC_URL", "https://chaperone.school.example")
    with pytest.raises(StartupError, match="CHAPERONE_LINK_SECRET"):
        read_settings(_env_file=None)
    monkeypatch.setenv("CHAPERONE_LINK_SECRET", "x" * 40)
    settings = read_settings(_env_file=None)
    assert settings.link_key == hashlib.sha256(b"chaperone-links:" + b"x" * 40).digest()
    monkeypatch.delenv("CHAPERONE_PUBLIC_URL")
    monkeypatch.delenv("CHAPERONE_LINK_SECRET")
    # No links are issued without a public URL; the key still comes from no public value.
    unlinked = read_settings(_env_file=None)
    assert unlinked.link_key not in {hashlib.sha256(f"chaperone-links:{APP_ID}:".encode()).digest()}
    assert read_settings(_env_file=None).link_key != unlinked.link_key  # random, per process


# ---- 7. Personal data only where it must be ----------------------------------------------------


async def test_logs_carry_ids_not_names_concerns_or_finding_messages(dev_app, connector, graph, caplog):
    caplog.set_level(logging.INFO)  # the service's level (CHAPERONE_LOG_LEVEL)
    lesson = await lobby_off_lesson(dev_app, connector, graph)
    teams = dev_app.teams
    concern = "Pupil Bea was sent a message by a stranger"
    await teams.post(teams.card_action("reportConcern", {"lessonId": lesson.id, "concern": concern}, PUPIL_A, conversation_id=MATHS.thread_id))
    await dev_app.post_all([teams.leave(MATHS, [TA], T0 + minutes(10)), teams.meeting_end(MATHS, END)])
    findings = [f.message for f in await dev_app.services.findings.for_lesson(lesson.id)]
    assert findings
    logged = caplog.text
    for secret in (TEACHER.name, TA.name, PUPIL_A.name, PUPIL_B.name, SLT.name, MATHS.title, concern, *findings):
        assert secret not in logged, secret


async def test_retention_takes_a_concerns_card_with_the_concern_and_purges_aup_reminders(dev_app, connector, graph):
    lesson = await lobby_off_lesson(dev_app, connector, graph)
    teams = dev_app.teams
    await teams.post(teams.card_action("reportConcern", {"lessonId": lesson.id, "concern": "help"}, PUPIL_A, conversation_id=MATHS.thread_id))
    await dev_app.idle()
    await dev_app.services.signatures.reminded(TEACHER.aad_object_id, "2023-09")
    engine = dev_app.services.engine
    later = utcnow() + timedelta(days=30)
    counts = await purge(engine, Retention(concerns_days=7, messages_days=400), later, reminder_interval_days=7)
    assert await rows(engine, "concerns") == []
    assert [m for m in await dev_app.services.outbox.all() if m.kind is MessageKind.concern] == []
    assert [m for m in await dev_app.services.outbox.all() if m.kind is MessageKind.slt_alert]  # other cards keep their period
    assert counts["concern cards"] == 1
    await purge(engine, Retention(messages_days=20), later, reminder_interval_days=7)
    assert await rows(engine, "aup_reminders") == []


async def test_the_sqlite_database_its_wal_and_its_folder_are_the_service_users_only(tmp_path, connector):
    folder = tmp_path / "private" / "data"
    database = folder / "chaperone.sqlite3"
    async with run_app(dev_env(f"sqlite+aiosqlite:///{database}"), connector.url) as app:
        await app.post_all([app.teams.meeting_start(MATHS, T0)])  # something in the WAL
        wal = Path(f"{database}-wal")
        assert wal.exists()
        for path, mode in ((tmp_path / "private", 0o700), (folder, 0o700), (database, 0o600), (wal, 0o600)):
            assert stat.S_IMODE(path.stat().st_mode) == mode, path


# ---- 8. Bounded under abuse ------------------------------------------------------------------


async def test_a_client_trickling_its_headers_is_cut_off(database_url, connector):
    async with run_app(dev_env(database_url, CHAPERONE_HEADER_TIMEOUT_SECONDS="1"), connector.url) as app:
        host, port = app.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /api/messages HTTP/1.1\r\nHost: x\r\n")

        async def trickle():
            while True:
                await asyncio.sleep(0.3)
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()

        trickling = asyncio.create_task(trickle())
        try:
            closed = await asyncio.wait_for(reader.read(), timeout=5)
        finally:
            trickling.cancel()
            writer.close()
        assert closed == b""  # the server hung up, without an answer


async def test_a_client_trickling_its_body_gets_408(database_url, connector):
    async with run_app(dev_env(database_url, CHAPERONE_BODY_TIMEOUT_SECONDS="1"), connector.url) as app:
        host, port = app.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{")
        await writer.drain()
        try:
            status_line = await asyncio.wait_for(reader.readline(), timeout=5)
        finally:
            writer.close()
        assert status_line.startswith(b"HTTP/1.1 408")
        assert await row_counts(app.services) == dict.fromkeys(await row_counts(app.services), 0)
