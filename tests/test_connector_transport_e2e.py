"""The Bot Connector client sends over aiohttp (bot/connector_transport.py): the SDK's own
ConnectorClient and operations, against a local server speaking the Bot Connector's wire
format, with the SDK's app credentials giving the token."""

from __future__ import annotations

import json

import aiohttp
import pytest
from aiohttp import web
from botbuilder.schema import Activity, ConversationAccount
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import AppCredentials
from botframework.connector.models import ErrorResponseException
from msrest.exceptions import ClientRequestError

from bot.connector_transport import send_with_aiohttp

pytestmark = pytest.mark.e2e  # a local server speaking the Bot Connector's wire format


class FixedToken(AppCredentials):
    """The SDK's credentials class with the token fetch (Entra) replaced: what it hands msrest is the SDK's."""

    def __init__(self, app_id: str, token: str) -> None:
        super().__init__(app_id=app_id)
        self.token = token
        self.asked = 0

    def get_access_token(self, force_refresh: bool = False) -> str:
        self.asked += 1
        return self.token


@pytest.fixture
async def connector_server(aiohttp_server_factory):
    seen: list[dict] = []

    async def reply(request: web.Request) -> web.Response:
        raw = await request.read()
        seen.append({"path": request.path, "headers": dict(request.headers), "raw": raw})
        if request.match_info["conversation"] == "gone":
            return web.json_response({"error": {"code": "ConversationNotFound", "message": "no such conversation"}}, status=404)
        return web.json_response({"id": "reply-1"}, status=201)

    app = web.Application()
    app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", reply)
    server = await aiohttp_server_factory(app)
    return server, seen


@pytest.fixture
async def aiohttp_server_factory():
    runners = []

    async def start(app: web.Application):
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def message(text: str) -> Activity:
    return Activity(type="message", text=text, conversation=ConversationAccount(id="19:meeting@thread.v2"))


async def test_a_reply_goes_over_aiohttp_with_the_credentials_token_and_its_whole_body(connector_server):
    url, seen = connector_server
    credentials = FixedToken("app-id", "token-1")
    on_session = []
    trace = aiohttp.TraceConfig()

    async def started(session, context, params):
        on_session.append(str(params.url))

    trace.on_request_start.append(started)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        client = ConnectorClient(credentials, base_url=url)
        send_with_aiohttp(client, http)
        # Not ASCII: msrest counts characters for Content-Length; the bytes sent are more.
        answer = await client.conversations.reply_to_activity("19:meeting@thread.v2", "a1", message("Café — l'élève"))
    assert answer.id == "reply-1"
    assert on_session == [f"{url}/v3/conversations/19:meeting@thread.v2/activities/a1"]
    [request] = seen
    assert request["headers"]["Authorization"] == "Bearer token-1"
    assert request["headers"]["x-ms-conversation-id"] == "19:meeting@thread.v2"
    assert int(request["headers"]["Content-Length"]) == len(request["raw"])
    assert json.loads(request["raw"])["text"] == "Café — l'élève"
    assert credentials.asked == 1


async def test_an_anonymous_bot_sends_no_authorization_header(connector_server):
    url, seen = connector_server
    async with aiohttp.ClientSession() as http:
        client = ConnectorClient(FixedToken("", "never-used"), base_url=url)
        send_with_aiohttp(client, http)
        await client.conversations.reply_to_activity("c", "a1", message("hello"))
    assert "Authorization" not in seen[0]["headers"]


async def test_an_error_status_is_the_operations_error_with_the_services_message(connector_server):
    url, _ = connector_server
    async with aiohttp.ClientSession() as http:
        client = ConnectorClient(FixedToken("app-id", "t"), base_url=url)
        send_with_aiohttp(client, http)
        with pytest.raises(ErrorResponseException) as raised:
            await client.conversations.reply_to_activity("gone", "a1", message("hello"))
    assert "ConversationNotFound" in str(raised.value)


async def test_a_request_that_cannot_be_made_is_msrests_client_request_error():
    async with aiohttp.ClientSession() as http:
        client = ConnectorClient(FixedToken("app-id", "t"), base_url="http://127.0.0.1:9")  # nothing listens on port 9
        send_with_aiohttp(client, http)
        with pytest.raises(ClientRequestError):
            await client.conversations.reply_to_activity("c", "a1", message("hello"))
