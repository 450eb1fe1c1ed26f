"""Validating the tab's single sign-on token: Entra's signing keys, the school's tenant, the
tab's audience, and the `access_as_user` scope the app registration exposes.

The keys come from the tenant's OpenID metadata (fetched with the app's aiohttp session, not
PyJWT's blocking client) and are cached; an unknown key id fetches them again, at most once a
minute, so a key rollover is picked up and a flood of made-up key ids is not a flood of fetches.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

SCOPE = "access_as_user"
REFETCH_SECONDS = 60
DEV_ISSUER = "urn:chaperone:dev-sign-in"


class Refusal(StrEnum):
    missing = "no token"
    malformed = "not a token"
    unknown_key = "signed with a key Entra does not publish"
    signature = "bad signature"
    expired = "expired"
    audience = "for another audience"
    issuer = "from another issuer"
    tenant = "from another tenant"
    scope = "without the access_as_user scope"
    no_user = "names no user"
    keys_unavailable = "the signing keys could not be fetched"


class TokenRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


@dataclass(frozen=True)
class SignedInUser:
    aad_object_id: str
    tenant_id: str
    name: str | None


class KeySource(Protocol):
    async def key(self, kid: str) -> object | None: ...

    async def issuers(self) -> set[str]: ...


class EntraKeys:
    """The tenant's published signing keys (OpenID metadata -> jwks_uri)."""

    def __init__(self, http: aiohttp.ClientSession, metadata_url: str, tenant_id: str) -> None:
        self._http = http
        self._metadata_url = metadata_url
        self._tenant_id = tenant_id
        self._keys: dict[str, object] = {}
        self._issuers: set[str] = set()
        self._fetched_at = 0.0

    async def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            async with self._http.get(self._metadata_url) as response:
                response.raise_for_status()
                metadata = await response.json(content_type=None)
            async with self._http.get(metadata["jwks_uri"]) as response:
                response.raise_for_status()
                jwks = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
            raise TokenRefused(Refusal.keys_unavailable) from exc
        self._keys = {k["kid"]: RSAAlgorithm.from_jwk(json.dumps(k)) for k in jwks.get("keys", []) if k.get("kid")}
        issuer = str(metadata.get("issuer", "")).replace("{tenantid}", self._tenant_id)
        # Entra issues v1 tokens (sts.windows.net) or v2 ones, as the app registration's
        # accessTokenAcceptedVersion says; both are the same tenant's.
        self._issuers = {issuer}
        if "login.microsoftonline.com" in issuer:
            self._issuers.add(f"https://sts.windows.net/{self._tenant_id}/")

    async def key(self, kid: str) -> object | None:
        if kid not in self._keys and time.monotonic() - self._fetched_at >= REFETCH_SECONDS or not self._keys:
            await self._fetch()
        return self._keys.get(kid)

    async def issuers(self) -> set[str]:
        if not self._issuers:
            await self._fetch()
        return self._issuers


class DevSigner:
    """Dev mode's sign-in: a key made for this process, tokens for the policy's people. Never
    used unless CHAPERONE_DEV_MODE=1 and Teams SSO is not configured."""

    def __init__(self, tenant_id: str, audience: str) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = uuid.uuid4().hex
        self.tenant_id = tenant_id
        self.audience = audience

    def token(self, aad_object_id: str, name: str, lifetime: int = 8 * 3600) -> str:
        now = int(time.time())
        claims = {"iss": DEV_ISSUER, "aud": self.audience, "tid": self.tenant_id, "oid": aad_object_id, "name": name,
                  "scp": SCOPE, "iat": now, "nbf": now - 5, "exp": now + lifetime}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})

    async def key(self, kid: str) -> object | None:
        return self._key.public_key() if kid == self._kid else None

    async def issuers(self) -> set[str]:
        return {DEV_ISSUER}


class TokenValidator:
    def __init__(self, keys: KeySource, *, audiences: set[str], tenant_id: str) -> None:
        self._keys = keys
        self._audiences = audiences
        self._tenant_id = tenant_id

    async def validate(self, token: str | None) -> SignedInUser:
        if not token:
            raise TokenRefused(Refusal.missing)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused(Refusal.malformed) from None
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise TokenRefused(Refusal.malformed)
        key = await self._keys.key(header["kid"])
        if key is None:
            raise TokenRefused(Refusal.unknown_key)
        try:
            claims = jwt.decode(token, key, algorithms=["RS256"], audience=sorted(self._audiences), leeway=60,
                                options={"require": ["exp", "aud", "iss", "tid"]})
        except jwt.ExpiredSignatureError:
            raise TokenRefused(Refusal.expired) from None
        except jwt.InvalidAudienceError:
            raise TokenRefused(Refusal.audience) from None
        except jwt.InvalidSignatureError:
            raise TokenRefused(Refusal.signature) from None
        except jwt.PyJWTError:
            raise TokenRefused(Refusal.malformed) from None
        if claims.get("tid") != self._tenant_id:
            raise TokenRefused(Refusal.tenant)
        if claims.get("iss") not in await self._keys.issuers():
            raise TokenRefused(Refusal.issuer)
        if SCOPE not in str(claims.get("scp", "")).split():
            raise TokenRefused(Refusal.scope)
        oid = claims.get("oid")
        if not isinstance(oid, str) or not oid:
            raise TokenRefused(Refusal.no_user)
        name = claims.get("name")
        return SignedInUser(aad_object_id=oid, tenant_id=claims["tid"], name=name if isinstance(name, str) else None)
