"""The one Microsoft Graph client: msgraph-sdk over an azure-identity credential.

Every request goes through `GraphClient.send`, which bounds the total wait (the SDK's retry
handler honours Retry-After on 429/503/504 up to 3 times, but each wait may be up to 180 s)
and turns every failure into `GraphUnavailable` (graph/errors.py) with a reason a person can
act on. The reads of a lesson (`get_json`, `batch`: its meeting's options, the calendar, who is
who, the schools) go in $batches shared with whatever else is being asked (graph/batch.py),
within the same time budget for all their tries; paged reads through the SDK's models go alone.
Callers record a failure's reason as 'could not verify'; they never treat it as a pass.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.request_information import RequestInformation
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from kiota_abstractions.method import Method
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient

from config.settings import Settings, is_loopback_host

from .batch import BatchAnswer, Batcher, BatchRequest
from .errors import GRAPH_ERRORS, REASONS, GraphUnavailable
from .metered import close_metered, metered_client

log = logging.getLogger(__name__)
T = TypeVar("T")

GRAPH_SCOPE = "https://graph.microsoft.com/.default"

__all__ = ["GRAPH_ERRORS", "GRAPH_SCOPE", "REASONS", "GraphClient", "GraphUnavailable", "prefer_unknown_enums"]


class LocalToken(AsyncTokenCredential):
    """A fixed token for a Graph stand-in on loopback: no sign-in is attempted."""

    async def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        return AccessToken("chaperone-local-graph-token", int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aexit__(self, *args) -> None:
        return None


def _credential(settings: Settings) -> AsyncTokenCredential | None:
    host = urlsplit(settings.graph_base_url).hostname
    if is_loopback_host(host):
        return LocalToken()
    kind = settings.graph_credential
    if kind == "managed-identity":
        return ManagedIdentityCredential(client_id=settings.graph_client_id or None)
    if not settings.graph_tenant_id or not settings.graph_client_id:
        return None
    if kind == "certificate":
        return CertificateCredential(settings.graph_tenant_id, settings.graph_client_id, str(settings.graph_certificate_path))
    if not settings.graph_client_secret:
        return None
    return ClientSecretCredential(settings.graph_tenant_id, settings.graph_client_id, settings.graph_client_secret)


class GraphClient:
    """Holds the SDK client, its credential and HTTP client; created once, closed on shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.graph_timeout_seconds
        self._credential = _credential(settings)
        self.sdk: GraphServiceClient | None = None
        if self._credential is None:
            log.warning("Microsoft Graph is not configured: checks that need it will say 'could not verify'")
            return
        host = urlsplit(settings.graph_base_url).hostname or ""
        # The SDK's default client, with every answer (retries included) counted for /metrics.
        http = metered_client({RetryHandlerOption.get_key(): RetryHandlerOption(delay=1, max_retries=3)}, settings.graph_connections)
        auth = AzureIdentityAuthenticationProvider(self._credential, scopes=[GRAPH_SCOPE], allowed_hosts=[host])
        adapter = GraphRequestAdapter(auth, client=http)
        adapter.base_url = settings.graph_base_url.rstrip("/")
        self._http = http
        self.sdk = GraphServiceClient(request_adapter=adapter)
        self._batcher = Batcher(self._post_batch, self.timeout)

    async def send(self, request: Callable[[GraphServiceClient], Awaitable[T]]) -> T:
        """Run one Graph request (with the SDK's retries) within the time budget; a failure
        is GraphUnavailable saying why (`call` also says of which question)."""
        if self.sdk is None:
            raise GraphUnavailable("Microsoft Graph is not configured (CHAPERONE_GRAPH_* settings)")
        try:
            async with asyncio.timeout(self.timeout):
                return await request(self.sdk)
        except TimeoutError as exc:
            raise GraphUnavailable(f"Graph did not answer within {self.timeout:g} s") from exc
        except APIError as exc:
            status = exc.response_status_code
            detail = getattr(getattr(exc, "error", None), "message", None) or str(exc.message or "")
            reason = REASONS.get(status, f"Graph answered HTTP {status}")
            raise GraphUnavailable(reason + (f" ({detail[:120]})" if detail else ""), status) from exc
        except Exception as exc:  # noqa: BLE001 - network errors from httpx and friends
            raise GraphUnavailable(f"{type(exc).__name__}: {str(exc)[:160]}") from exc

    async def call(self, what: str, request: Callable[[GraphServiceClient], Awaitable[T]]) -> T:
        """Run one Graph request (with the SDK's retries) within the time budget."""
        try:
            return await self.send(request)
        except GraphUnavailable as exc:
            raise exc.about(what) from exc

    async def batch(self, requests: Sequence[BatchRequest], what: str) -> dict[str, BatchAnswer]:
        """Each request's answer, by id, sent in a $batch with whatever else is being asked
        (graph/batch.py); GraphUnavailable when Graph did not answer at all."""
        if self.sdk is None:
            raise GraphUnavailable("Microsoft Graph is not configured (CHAPERONE_GRAPH_* settings)").about(what)
        return await self._batcher.ask(requests, what)

    async def get_json(self, what: str, request: Callable[[GraphServiceClient], RequestInformation]) -> dict:
        """One request built by the SDK's request builders, its answer read as plain JSON: the
        SDK's model deserialisation costs milliseconds of CPU per object, which is what a
        trust's 09:00 peak spends its CPU on for the hot reads. A read goes in a $batch with
        whatever else is being asked at that moment (graph/batch.py); a change goes alone.
        Either way: the same credential, retries, metering and time budget."""
        if self.sdk is None:
            raise GraphUnavailable("Microsoft Graph is not configured (CHAPERONE_GRAPH_* settings)").about(what)
        try:
            info = request(self.sdk)
            batched = BatchRequest.built("get", info) if info.http_method is Method.GET else None
        except Exception as exc:  # noqa: BLE001 - a request the SDK cannot build (an id it refuses) is not answered either
            raise GraphUnavailable(f"{what}: the request could not be built ({type(exc).__name__}: {str(exc)[:120]})") from exc
        if batched is not None:
            answer = (await self._batcher.ask([batched], what))["get"]
            if not answer.ok:
                raise answer.unavailable(what)
            return answer.body
        raw = await self.call(what, lambda sdk: sdk.request_adapter.send_primitive_async(info, "bytes", GRAPH_ERRORS))
        try:
            found = json.loads(raw or b"{}")
        except ValueError as exc:
            raise GraphUnavailable(f"{what}: Graph's answer could not be read ({type(exc).__name__})") from exc
        if not isinstance(found, dict):
            raise GraphUnavailable(f"{what}: Graph's answer could not be read (not a JSON object)")
        return found

    async def _post_batch(self, items: list[dict]) -> bytes:
        """One $batch of `items` (Graph's wire format) through the SDK's adapter."""
        def post(sdk: GraphServiceClient) -> Awaitable[bytes]:
            adapter = sdk.request_adapter
            info = RequestInformation(Method.POST, "{+baseurl}/$batch")
            info.path_parameters["baseurl"] = adapter.base_url
            info.set_stream_content(json.dumps({"requests": items}).encode("utf-8"), "application/json")
            info.headers.try_add("Accept", "application/json")
            return adapter.send_primitive_async(info, "bytes", GRAPH_ERRORS)

        return await self.send(post)

    async def close(self) -> None:
        if self.sdk is not None:
            await close_metered(self._http)
        if self._credential is not None:
            await self._credential.close()


def prefer_unknown_enums(query_parameters: object | None = None) -> RequestConfiguration:
    """Graph only returns enum values added after `unknownFutureValue` (lobby scope
    `invited`, `organizationExcludingGuests`) when asked; without this header a compliant
    `invited` lobby would read as unknown."""
    config = RequestConfiguration(query_parameters=query_parameters)
    config.headers.add("Prefer", "include-unknown-enum-members")
    return config
