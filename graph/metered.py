"""Counting every answer Graph gives, the retried ones included, for /metrics.

The SDK's retry handler waits out 429s inside the HTTP client, so only a middleware placed
after it (nearest the network) sees each throttled try.
"""

from __future__ import annotations

import httpx
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
    # The SDK's default client (its timeouts, HTTP/2), keeping alive every connection it may
    # open: httpx keeps 20 of its 100, so over HTTP/1.1 a burst of look-ups opened and closed a
    # connection for most of them. No more than `connections`: httpcore looks at every pooled
    # connection on each request and each answer (a readiness check per idle one, and a count
    # of them all for each idle one), and at a 09:00 peak over HTTP/1.1 a pool of 100 cost a
    # tenth of the worker's CPU. Requests beyond it wait for a connection.
    timeout = httpx.Timeout(DEFAULT_REQUEST_TIMEOUT, connect=DEFAULT_CONNECTION_TIMEOUT)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    client = httpx.AsyncClient(timeout=timeout, http2=True, limits=limits)
    return GraphClientFactory._load_middleware_to_client(client, middleware)
