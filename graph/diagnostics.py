"""What `doctor` asks of Microsoft Graph: which application permissions the credential's token
carries, and whether a Teams application access policy covers an organizer."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

import aiohttp
from msgraph.generated.users.item.online_meetings.online_meetings_request_builder import OnlineMeetingsRequestBuilder

from config.settings import Settings, is_loopback_host

from .client import GRAPH_SCOPE, GraphClient, GraphUnavailable, _credential, prefer_unknown_enums

# A join URL no meeting has: the question is only whether Graph lets Chaperone ask.
PROBE_JOIN_URL = "https://teams.microsoft.com/l/meetup-join/chaperone-doctor"


class TokenProblem(RuntimeError):
    """No Graph token could be had, with why."""


def _claims(token: str) -> dict:
    """The token's claims, read (not verified: Graph verifies it; we only read what it grants)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise TokenProblem("the Graph token is not a JWT, so its permissions cannot be read") from exc


async def token_roles(settings: Settings) -> set[str]:
    """The application permissions (`roles`) in a fresh Graph token for Chaperone's credential."""
    base = urlsplit(settings.graph_base_url)
    if is_loopback_host(base.hostname):
        token = await _local_token(f"{base.scheme}://{base.netloc}", settings)
    else:
        credential = _credential(settings)
        if credential is None:
            raise TokenProblem("no Graph credential is configured (CHAPERONE_GRAPH_CLIENT_ID and a secret, a certificate, "
                               "or CHAPERONE_GRAPH_CREDENTIAL=managed-identity)")
        try:
            token = (await credential.get_token(GRAPH_SCOPE)).token
        except Exception as exc:  # noqa: BLE001 - azure-identity raises its own and msal's errors
            raise TokenProblem(f"Entra refused the Graph credential: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc
        finally:
            await credential.close()
    return set(_claims(token).get("roles") or [])


async def _local_token(origin: str, settings: Settings) -> str:
    """A local Graph stand-in issues its own tokens, the way Entra's token endpoint would
    (azure-identity talks only to https authorities, so it cannot be pointed at one)."""
    form = {"grant_type": "client_credentials", "client_id": settings.graph_client_id or "local", "scope": GRAPH_SCOPE}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.post(f"{origin}/{settings.graph_tenant_id or 'local'}/oauth2/v2.0/token", data=form) as response:
                if response.status != 200:
                    raise TokenProblem(f"the token endpoint answered HTTP {response.status}")
                return (await response.json())["access_token"]
    except aiohttp.ClientError as exc:
        raise TokenProblem(f"the token endpoint did not answer: {type(exc).__name__}") from exc


async def meetings_readable(graph: GraphClient, organizer_id: str) -> None:
    """One Graph call on the organizer's online meetings; raises GraphUnavailable (403 when no
    application access policy covers them, or the permission is missing)."""
    query = OnlineMeetingsRequestBuilder.OnlineMeetingsRequestBuilderGetQueryParameters(
        filter=f"JoinWebUrl eq '{PROBE_JOIN_URL}'"
    )
    await graph.call("the organizer's online meetings",
                     lambda sdk: sdk.users.by_user_id(organizer_id).online_meetings.get(request_configuration=prefer_unknown_enums(query)))


async def object_id(graph: GraphClient, person: str) -> str:
    """An Entra object id for `person`, given as an object id or as an email/UPN."""
    if "@" not in person:
        return person
    user = await graph.call("the user with that sign-in name", lambda sdk: sdk.users.by_user_id(person).get())
    if user is None or not user.id:
        raise GraphUnavailable(f"Graph has no user {person}", 404)
    return user.id
