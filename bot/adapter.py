"""The Bot Framework CloudAdapter, with the botbuilder 4.17 defects worked around.

What this adds to the SDK's CloudAdapter.process:

- a body that is not a JSON object, or not an activity, gets 400 with a reason (the SDK
  answers 500 or crashes);
- authentication runs first, then the activity's serviceUrl is checked against the
  allow-list, both before the bot sees the activity, so nothing is stored or sent for a
  refused request;
- invoke responses whose body is already a dict (Adaptive Card Action.Execute) are returned
  as they are (the SDK serialises them a second time and answers 500);
- connector clients are reused per (serviceUrl, audience): msrest builds each one's retry
  table with a quadratic list comprehension (about 9 ms of CPU), and a new client also
  means a new HTTP session and TLS handshake per turn;
- a reused client copies a card through the json module rather than msrest's key-by-key
  serialiser (`_JsonObjects`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import OrderedDict
from typing import Protocol

import aiohttp
import requests
from aiohttp import web
from botbuilder.core import Bot, InvokeResponse, TurnContext, serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ResourceResponse
from botframework.connector.aio import ConnectorClient
from msrest.serialization import Serializer
from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
)

from config.settings import Settings
from domain.events import EventKind
from telemetry import metrics
from telemetry.context import bind_activity

from .connector_transport import send_with_aiohttp
from .envelope import BadBody, MalformedActivity, read_envelope, to_activity
from .events import meeting_event_kind

log = logging.getLogger(__name__)


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


# Teams retries a 503; a second is long enough for a burst's backlog to drain.
RETRY_AFTER_SECONDS = 1


def busy_response(message: str) -> web.Response:
    """Not acknowledged: Teams delivers the activity again after Retry-After."""
    response = error_response(503, message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class _JsonObjects(Serializer):
    """msrest serialises an `object` attribute (a card, channelData, an invoke's value) key by
    key in Python: at a 09:00 peak that was most of a card's send. Plain JSON, which is every
    card Chaperone composes, gives the same result copied through the json module; anything
    else (a model, a date) takes msrest's own path."""

    def serialize_object(self, attr, **kwargs):
        if type(attr) in (dict, list):
            try:
                return json.loads(json.dumps(attr, allow_nan=False))
            except (TypeError, ValueError):
                pass
        return super().serialize_object(attr, **kwargs)


def _with_json_objects(client: ConnectorClient) -> ConnectorClient:
    serializer = _JsonObjects(client._serialize.dependencies)
    # botbuilder's schema models declare no constraints, so msrest's validation pass walked every
    # activity and found nothing (about a third of the serialiser's time in a worker profile); a
    # missing URL part still raises.
    serializer.client_side_validation = False
    client._serialize = client.conversations._serialize = client.attachments._serialize = serializer
    return client


class _ReusedConnectorFactory(ConnectorFactory):
    def __init__(self, inner: ConnectorFactory, cache: "OrderedDict[tuple[str, str | None], ConnectorClient]", limit: int,
                 http: aiohttp.ClientSession):
        self._inner = inner
        self._cache = cache
        self._limit = limit
        self._http = http

    async def create(self, service_url: str, audience: str = None) -> ConnectorClient:
        key = (service_url, audience)
        client = self._cache.get(key)
        if client is None:
            client = _with_json_objects(await self._inner.create(service_url, audience))
            send_with_aiohttp(client, self._http)
            self._cache[key] = client
            while len(self._cache) > self._limit:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return client


class ReusingAuthentication(BotFrameworkAuthentication):
    """Delegates to the SDK's authentication; hands out connector factories that reuse clients.

    The bot has one app id, so (serviceUrl, audience) identifies a client completely. Each
    client sends over the application's aiohttp session (bot/connector_transport.py).
    """

    def __init__(self, inner: BotFrameworkAuthentication, http: aiohttp.ClientSession, limit: int = 64) -> None:
        self._inner = inner
        self._http = http
        self._clients: OrderedDict[tuple[str, str | None], ConnectorClient] = OrderedDict()
        self._limit = limit
        self._user_token_client = None

    def _wrap(self, factory: ConnectorFactory | None) -> ConnectorFactory | None:
        return factory and _ReusedConnectorFactory(factory, self._clients, self._limit, self._http)

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_request(activity, auth_header)
        result.connector_factory = self._wrap(result.connector_factory)
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str):
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._wrap(self._inner.create_connector_factory(claims_identity))

    async def create_user_token_client(self, claims_identity: ClaimsIdentity):
        # Built on every turn by the SDK (another msrest client, another ~7 ms retry table);
        # Chaperone never signs users in, and one app id means one client will do.
        if self._user_token_client is None:
            self._user_token_client = await self._inner.create_user_token_client(claims_identity)
        return self._user_token_client

    def create_bot_framework_client(self):
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self._inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)


class KeepsReplies(Protocol):
    """Where a reply goes when it cannot be sent in the turn (store.outbox.Outbox)."""

    async def queue_reply(self, *, reference: dict, activity: dict, service_url: str | None) -> int: ...


_INBOUND_TURN = "chaperone.inbound-turn"


class ReceivesMeetingEvents(Protocol):
    """Where an authenticated meeting event goes in its turn (bot.ingest.MeetingEventIngest)."""

    async def receive(self, body: dict, raw: bytes, kind: EventKind) -> web.Response: ...


class ChaperoneAdapter(CloudAdapter):
    def __init__(self, settings: Settings, authentication: BotFrameworkAuthentication, http: aiohttp.ClientSession,
                 replies: KeepsReplies | None = None) -> None:
        super().__init__(ReusingAuthentication(authentication, http))
        self._settings = settings
        self._replies = replies
        self._ingest: ReceivesMeetingEvents | None = None
        self._tokens = ValidatedTokens()
        self._in_flight = 0

    def ingest_meeting_events(self, ingest: ReceivesMeetingEvents) -> None:
        """Meeting events take the ingest path: authenticated, appended to the log, answered."""
        self._ingest = ingest

    async def _authenticate(self, body: dict, activity: Activity | None, auth_header: str | None) -> AuthenticateRequestResult:
        """The SDK's authentication, remembered until the token expires: the same token for
        the same channel and serviceUrl is the same answer (the SDK checks both against it)."""
        key = (auth_header, body.get("channelId"), body.get("serviceUrl"))
        known = self._tokens.get(key)
        if known is not None:
            return known
        result = await self.bot_framework_authentication.authenticate_request(activity or to_activity(body), auth_header)
        self._tokens.keep(key, result)
        return result

    @functools.lru_cache(maxsize=256)
    def _service_url_refusal(self, service_url: str | None) -> str | None:
        return self._settings.service_url_refusal(service_url)

    async def send_activities(self, context: TurnContext, activities: list[Activity]) -> list[ResourceResponse]:
        """Replies in a turn that cannot be sent now (the Bot Connector or Entra is down) are
        queued in the outbox and retried by the worker, so the activity is still acknowledged
        and nothing is lost. Proactive sends (the outbox's own deliveries) raise as before, so
        the worker counts the attempt."""
        if not context.turn_state.get(_INBOUND_TURN) or self._replies is None:
            return await super().send_activities(context, activities)
        responses = []
        for activity in activities:
            try:
                responses.extend(await super().send_activities(context, [activity]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - msrest, requests, aiohttp and msal errors alike
                if activity.type != "message":
                    raise
                reference = TurnContext.get_conversation_reference(context.activity).serialize()
                queued = await self._replies.queue_reply(
                    reference=reference, activity=activity.serialize(), service_url=context.activity.service_url
                )
                log.warning("could not reply in the turn (%s: %s); reply queued for retry as message %s",
                            type(exc).__name__, str(exc)[:160].replace("\n", " "), queued)
                responses.append(ResourceResponse(id=""))
        return responses

    async def process(self, request: web.Request, bot: Bot, ws_response=None) -> web.Response:
        if self._in_flight >= self._settings.max_in_flight:
            # A bound on what one process holds, refused before anything costly (the token, the
            # JSON). Not load shedding: each refusal comes back after Retry-After (docs/deploy.md).
            return busy_response(f"Chaperone is answering {self._in_flight} activities; retry this one shortly")
        self._in_flight += 1
        try:
            return await self._process(request, bot)
        finally:
            self._in_flight -= 1

    async def _process(self, request: web.Request, bot: Bot) -> web.Response:
        if request.method != "POST":
            return error_response(405, "POST an activity to this endpoint")
        if request.content_type != "application/json":
            return error_response(415, "the body must be application/json")
        try:
            async with asyncio.timeout(self._settings.body_timeout_seconds):
                raw = await request.read()
        except TimeoutError:
            log.info("client too slow: no whole body within %.0f s; cut off", self._settings.body_timeout_seconds)
            return error_response(408, "the body did not arrive in time")
        except ConnectionError as exc:
            # The client hung up mid-body: nobody is left to answer, and nothing was read.
            log.info("client closed the connection before the whole body arrived (%s)", type(exc).__name__)
            return error_response(400, "the connection closed before the whole body arrived")
        try:
            body = read_envelope(raw)
            kind = meeting_event_kind(body) if self._ingest is not None else None
            activity = None if kind is not None else to_activity(body)
        except BadBody as exc:
            return error_response(400, str(exc))

        # The SDK treats "" and None differently in its parameterized path; None means absent.
        auth_header = request.headers.get("Authorization") or None
        try:
            auth = await self._authenticate(body, activity, auth_header)
        except PermissionError as exc:  # (a subclass of OSError, so first)
            log.warning("refused unauthenticated activity: %s", exc)
            return error_response(401, "unauthorized")
        except BadBody as exc:
            return error_response(400, str(exc))
        except (OSError, requests.RequestException) as exc:
            # The channel's signing keys could not be fetched: not the sender's fault.
            log.error("cannot verify tokens now: %s", exc)
            return error_response(503, "cannot verify the request's token right now; retry later")
        except Exception as exc:  # noqa: BLE001 - the SDK raises PermissionError, jwt errors and bare Exception
            log.warning("refused unauthenticated activity: %s: %s", type(exc).__name__, exc)
            return error_response(401, "unauthorized")

        service_url = body.get("serviceUrl")
        refusal = self._service_url_refusal(service_url if isinstance(service_url, str) else None)
        if refusal:
            log.warning("refused activity %r: %s", body.get("id"), refusal)
            return error_response(403, refusal)
        if kind is not None:
            bind_activity(body.get("id") if isinstance(body.get("id"), str) else None)
            metrics.event_received("event", body.get("name") if isinstance(body.get("name"), str) else None)
            try:
                return await self._ingest.receive(body, raw, kind)
            except MalformedActivity as exc:
                log.warning("malformed %s event %r: %r", kind.value, body.get("id"), str(exc))
                return error_response(400, str(exc))
        bind_activity(activity.id)
        metrics.event_received(activity.type, activity.name)

        try:
            invoke_response = await self.process_activity(auth, activity, _inbound(bot))
        except MalformedActivity as exc:
            log.warning("malformed %r activity %r: %r", activity.type, activity.id, str(exc))
            return error_response(400, str(exc))
        except PermissionError as exc:
            log.warning("refused activity %r: %s", activity.id, exc)
            return error_response(401, "unauthorized")
        except Exception:  # noqa: BLE001 - the channel retries a 5xx; our handlers are idempotent
            log.exception("failed to process %r activity %r", activity.type, activity.id)
            return error_response(500, "internal error; the activity can be redelivered safely")

        if invoke_response:
            return _invoke_http_response(invoke_response)
        return web.Response(status=200)


class ValidatedTokens:
    """Bot Framework tokens already validated, until their `exp` (bounded, least recently used
    first out). A token without an expiry, or the anonymous dev-mode answer, is not kept."""

    def __init__(self, limit: int = 1024, clock=time.time) -> None:
        self._known: OrderedDict[tuple, tuple[float, AuthenticateRequestResult]] = OrderedDict()
        self._limit = limit
        self._clock = clock

    def get(self, key: tuple) -> AuthenticateRequestResult | None:
        found = self._known.get(key)
        if found is None:
            return None
        if found[0] <= self._clock():
            del self._known[key]
            return None
        self._known.move_to_end(key)
        return found[1]

    def keep(self, key: tuple, result: AuthenticateRequestResult) -> None:
        claims = getattr(result.claims_identity, "claims", None) or {}
        expires = claims.get("exp")
        if key[0] is None or not isinstance(expires, (int, float)) or not getattr(result.claims_identity, "is_authenticated", False):
            return
        self._known[key] = (float(expires), result)
        while len(self._known) > self._limit:
            self._known.popitem(last=False)


def _inbound(bot: Bot):
    async def turn(turn_context: TurnContext) -> None:
        turn_context.turn_state[_INBOUND_TURN] = True
        await bot.on_turn(turn_context)

    return turn


def _invoke_http_response(invoke_response: InvokeResponse) -> web.Response:
    body = invoke_response.body
    if body is not None and not isinstance(body, (dict, list, str, int, float, bool)):
        body = serializer_helper(body)
    return web.json_response(body, status=int(invoke_response.status or 200))
