"""The Bot Connector client's HTTP, over aiohttp.

botframework-connector's async client (msrest's `ServiceClientAsync`) sends every request
with `requests`, in the event loop's thread pool: at a 09:00 peak each card was a thread hop,
a `requests` session merging the environment (it reads ~/.netrc on every request) and
urllib3's connection pool, about a sixth of the worker's CPU. msrest's pipeline takes any
`AsyncHTTPSender`; this one sends through the application's aiohttp session (its connection
pool, its timeout). The SDK's own policies stay: the user agent, the app's credentials
(asked for the token as msrest's requests pipeline asks them), the body deserialiser, the
HTTP logger. A request that cannot be made raises msrest's `ClientRequestError`, as its
requests sender does; an answer with an error status is the operation's to judge, as before.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import aiohttp
from msrest.authentication import Authentication
from msrest.exceptions import ClientRequestError
from msrest.pipeline import AsyncHTTPSender, AsyncPipeline, Request, Response, SansIOHTTPPolicy
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http.aiohttp import AioHttpClientResponse


class AiohttpSender(AsyncHTTPSender):
    """Sends msrest's request on a shared aiohttp session, the whole answer read."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> "AiohttpSender":
        return self

    async def __aexit__(self, *exc_details) -> None:
        # The session is the application's: closed with it, not with one client.
        return None

    def build_context(self) -> Any:
        return None

    async def send(self, request: Request, **config: Any) -> Response:
        http = request.http_request
        headers = dict(http.headers)
        body = http.data
        if isinstance(body, str):
            body = body.encode("utf-8")
            # msrest counted characters; aiohttp counts the bytes it sends.
            headers.pop("Content-Length", None)
        try:
            async with self._session.request(http.method, http.url, headers=headers, data=body) as answer:
                response = AioHttpClientResponse(http, answer)
                response._body = await answer.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ClientRequestError(f"Error occurred in request. {type(exc).__name__}: {exc}") from exc
        return Response(request, response)


class AppCredentialsHeader(SansIOHTTPPolicy):
    """The Authorization header the SDK's credentials give (none when they give none: an
    anonymous bot in dev mode), as they give it to msrest's requests session."""

    def __init__(self, credentials: Authentication) -> None:
        self._credentials = credentials

    def on_request(self, request: Request, **kwargs: Any) -> None:
        # AppCredentials.signed_session only sets or removes headers on the session it is handed.
        signed = self._credentials.signed_session(SimpleNamespace(headers={}))
        token = signed.headers.get("Authorization")
        if token:
            request.http_request.headers["Authorization"] = token
        else:
            request.http_request.headers.pop("Authorization", None)


def send_with_aiohttp(client: Any, session: aiohttp.ClientSession) -> None:
    """Give an msrest async client (botframework's ConnectorClient) its pipeline over `session`."""
    config = client.config
    policies = [config.user_agent_policy, RawDeserializer(), config.http_logger_policy]
    if config.credentials is not None:
        policies.insert(1, AppCredentialsHeader(config.credentials))
    config.pipeline = AsyncPipeline(policies, AiohttpSender(session))
