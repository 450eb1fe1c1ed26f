"""Authentication, refusals and bad input at /api/messages: each has a defined answer and
writes nothing."""

from __future__ import annotations

import pytest

from config.startup import StartupError, read_settings
from standins.identity import ChannelIdentityStandIn

from .helpers import MATHS, T0, TEACHER, dev_env, row_counts, run_app

APP_ID = "3f6a5c1e-1111-4222-8333-944455556666"
EMPTY = {"lessons": 0, "attendance": 0, "processed_activities": 0, "conversations": 0, "alert_destinations": 0}


@pytest.fixture
def identity():
    with ChannelIdentityStandIn() as standin:
        yield standin


def auth_env(sqlite_url: str, identity: ChannelIdentityStandIn, **extra: str) -> dict[str, str]:
    env = dev_env(
        sqlite_url,
        CHAPERONE_DEV_MODE="0",
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword="not-used-by-these-tests",
        MicrosoftAppTenantId="5f1b3a1e-0000-4000-8000-5c8001000001",
        CHAPERONE_BOT_OPENID_METADATA_URL=identity.metadata_url,
        CHAPERONE_BOT_TOKEN_ISSUER=identity.issuer,
        CHAPERONE_ALLOWED_SERVICE_HOSTS="127.0.0.1",
    )
    env.update(extra)
    return env


@pytest.mark.e2e
async def test_with_an_app_id_a_request_without_a_token_gets_401_and_writes_nothing(sqlite_url, identity, connector):
    async with run_app(auth_env(sqlite_url, identity), connector.url) as app:
        status, _ = await app.teams.post(app.teams.meeting_start(MATHS, T0))
        assert status == 401
        status, _ = await app.teams.post(app.teams.meeting_start(MATHS, T0), authorization="Bearer not-a-jwt")
        assert status == 401
        assert await row_counts(app.services) == EMPTY


@pytest.mark.e2e
async def test_a_token_signed_by_the_channel_is_accepted(sqlite_url, identity, connector):
    async with run_app(auth_env(sqlite_url, identity), connector.url, token=lambda url: identity.token(APP_ID, url)) as app:
        status, body = await app.teams.post(app.teams.join(MATHS, [TEACHER], T0))
        assert status == 200, body
        await app.idle()  # acknowledged means logged; the register is derived from the log
        [lesson] = await app.services.lessons.list_lessons()
        assert [a.display_name for a in lesson.attendance] == [TEACHER.name]


@pytest.mark.e2e
@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda identity, url: identity.token("some-other-bot", url), id="wrong-audience"),
        pytest.param(lambda identity, url: identity.token(APP_ID, "https://attacker.example/"), id="serviceurl-mismatch"),
        pytest.param(lambda identity, url: identity.token(APP_ID, url, issuer="https://attacker.example"), id="wrong-issuer"),
        pytest.param(lambda identity, url: identity.token(APP_ID, url, lifetime=-3600), id="expired"),
        pytest.param(lambda identity, url: ChannelIdentityStandIn().token(APP_ID, url), id="unknown-key"),
    ],
)
async def test_forged_tokens_get_401(sqlite_url, identity, connector, forge):
    async with run_app(auth_env(sqlite_url, identity), connector.url, token=lambda url: forge(identity, url)) as app:
        status, _ = await app.teams.post(app.teams.join(MATHS, [TEACHER], T0))
        assert status == 401
        assert await row_counts(app.services) == EMPTY


@pytest.mark.e2e
async def test_a_service_url_off_the_allow_list_is_refused_before_anything_is_stored(sqlite_url, identity, connector):
    env = auth_env(sqlite_url, identity, CHAPERONE_ALLOWED_SERVICE_HOSTS="smba.trafficmanager.net")
    async with run_app(env, connector.url, token=lambda url: identity.token(APP_ID, url)) as app:
        status, body = await app.teams.post(app.teams.meeting_start(MATHS, T0))
        assert status == 403 and "not in CHAPERONE_ALLOWED_SERVICE_HOSTS" in body["error"]
        assert await row_counts(app.services) == EMPTY
        assert connector.requests() == []


@pytest.mark.e2e
async def test_dev_mode_refuses_non_loopback_service_urls(sqlite_url, connector):
    async with run_app(dev_env(sqlite_url), "https://smba.trafficmanager.net/emea/") as app:
        status, body = await app.teams.post(app.teams.meeting_start(MATHS, T0))
        assert status == 403 and "loopback" in body["error"]
        assert await row_counts(app.services) == EMPTY


@pytest.mark.e2e
@pytest.mark.parametrize(
    "body, reason",
    [
        ("this is not json", "not JSON"),
        ("[1, 2, 3]", "JSON object"),
        ('{"text": "no type"}', "no type"),
    ],
)
async def test_a_body_that_is_not_an_activity_gets_400_and_writes_nothing(dev_app, body, reason):
    status, answer = await dev_app.teams.post(body)
    assert status == 400 and reason in answer["error"]
    assert await row_counts(dev_app.services) == EMPTY


@pytest.mark.e2e
async def test_malformed_meeting_events_get_400_with_the_reason(dev_app):
    teams = dev_app.teams
    no_meeting = teams.meeting_start(MATHS, T0)
    del no_meeting["channelData"]["meeting"]
    no_time = teams.meeting_start(MATHS, T0)
    del no_time["value"]["StartTime"]
    no_members = teams.join(MATHS, [TEACHER], T0)
    no_members["value"] = {"members": []}
    for activity, reason in [
        (no_meeting, "channelData.meeting.id is missing"),
        (no_time, "StartTime"),
        (no_members, "members"),
    ]:
        status, answer = await teams.post(activity)
        assert status == 400 and reason in answer["error"], answer
    assert await row_counts(dev_app.services) == EMPTY


@pytest.mark.e2e
async def test_unknown_events_are_accepted_and_ignored(dev_app):
    activity = dev_app.teams.meeting_start(MATHS, T0)
    activity["name"] = "application/vnd.microsoft.meetingReactionReceived"
    status, _ = await dev_app.teams.post(activity)
    assert status == 200
    assert await row_counts(dev_app.services) == EMPTY


@pytest.mark.e2e
async def test_card_actions_get_200_with_a_json_body_not_the_sdk_500(dev_app):
    activity = dev_app.teams.personal_message("", TEACHER)
    activity.update(type="invoke", name="adaptiveCard/action", value={"action": {"type": "Action.Execute", "verb": "noSuchVerb", "data": {}}})
    status, body = await dev_app.teams.post(activity)
    assert status == 200
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.activity.message"
    assert "noSuchVerb" in body["value"]


# Not e2e: these two read the settings only; the fast lane runs them.
def test_the_service_will_not_start_with_authentication_off_unless_dev_mode_is_chosen(monkeypatch):
    for name in ("MicrosoftAppId", "CHAPERONE_DEV_MODE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(StartupError, match="CHAPERONE_DEV_MODE=1"):
        read_settings(_env_file=None)
    monkeypatch.setenv("CHAPERONE_DEV_MODE", "1")
    assert read_settings(_env_file=None).auth_enabled is False


def test_an_openid_override_must_be_https_off_loopback(monkeypatch):
    monkeypatch.setenv("MicrosoftAppId", APP_ID)
    monkeypatch.setenv("MicrosoftAppTenantId", "5f1b3a1e-0000-4000-8000-5c8001000001")
    monkeypatch.setenv("CHAPERONE_BOT_OPENID_METADATA_URL", "http://keys.example/openid")
    monkeypatch.setenv("CHAPERONE_BOT_TOKEN_ISSUER", "https://issuer.example")
    with pytest.raises(StartupError, match="https"):
        read_settings(_env_file=None)


@pytest.mark.e2e
async def test_healthz_reports_the_database(dev_app):
    import aiohttp

    from store.db import create_engine, ping

    async with aiohttp.ClientSession() as session, session.get(f"{dev_app.url}/healthz") as response:
        assert response.status == 200
        body = await response.json()
    assert body["database"] == "ok" and body["authentication"] == "off (dev mode)"
    dead = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        assert (await ping(dead)).startswith("ConnectionRefusedError")
    finally:
        await dead.dispose()
