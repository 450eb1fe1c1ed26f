"""Counting every answer Graph gives, the retried ones included, for /metrics.

The SDK's retry handler waits out 429s inside the HTTP client, so only a middleware placed
after it (nearest the network) sees each throttled try.
"""

from __future__ import annotations

import httpx
from httpx_aiohttp import HttpxAiohttpClient
from kiota_http.kiota_client_factory import DEFAULT_CONNECTION_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, KiotaClientFactory
from kiota_http.middleware import BaseMiddleware
from msgraph_core import GraphClientFactory

from telemetry import metrics


class CountAnswers(BaseMiddleware):
    async def send(self, request: httpx.Request, transport: httpx.AsyncBaseTransport) -> httpx.Response:
        response = await super().send(request, transport)
        await metrics.graph_response(response)
        return response


def metered_client(options: dict, connections: int = 32) -> httpx.AsyncClient:
    """GraphClientFactory.create_with_default_middleware's client, with CountAnswers last."""
    middleware = KiotaClientFactory.get_default_middleware(options)
    middleware.append(GraphClientFactory._get_telemetry_handler(options))  # the SDK's own version header
    middleware.append(CountAnswers())
    # The SDK's default client and timeouts, sending through aiohttp's connection pool (the
    # maintained httpx-aiohttp transport) rather than httpcore's: httpcore looks at every
    # pooled connection on each request and each answer, which cost an eighth of a roster
    # check's CPU over HTTP/1.1 (measured in README's "Latest figures"). aiohttp speaks
    # HTTP/1.1 only, so each request in flight has a connection of its own: at most
    # `connections`, all kept alive between requests; requests beyond them wait for one.
    timeout = httpx.Timeout(DEFAULT_REQUEST_TIMEOUT, connect=DEFAULT_CONNECTION_TIMEOUT)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    client = HttpxAiohttpClient(timeout=timeout, limits=limits)
    return GraphClientFactory._load_middleware_to_client(client, middleware)


async def close_metered(client: httpx.AsyncClient) -> None:
    """Close the client and the aiohttp transports under the SDK's middleware transport, which
    does not close what it wraps (left open, each leaves its connections and a warning)."""
    await client.aclose()
    for outer in [client._transport, *client._mounts.values()]:
        if (inner := getattr(outer, "transport", None)) is not None:
            await inner.aclose()
