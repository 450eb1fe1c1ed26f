"""Bot Framework channel identity stand-in: the OpenID metadata, signing keys and tokens
Teams' channel uses to authenticate itself to a bot.

Lets the authentication path run for real (signature, issuer, audience, endorsement and
serviceurl checks in botframework-connector) without Microsoft's cloud.
"""

from __future__ import annotations

import json
import time
import uuid

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .server import StandIn


class ChannelIdentityStandIn(StandIn):
    def __init__(self, endorsements: tuple[str, ...] = ("msteams",)) -> None:
        super().__init__()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = uuid.uuid4().hex
        self._endorsements = list(endorsements)

    @property
    def issuer(self) -> str:
        return f"{self.url}/issuer"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/.well-known/keys", self._keys)

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.url}/v1/.well-known/authorize",
                "jwks_uri": f"{self.url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self._kid, "use": "sig", "endorsements": self._endorsements})
        return web.json_response({"keys": [jwk]})

    def token(self, app_id: str, service_url: str, *, lifetime: int = 3600, issuer: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": issuer or self.issuer,
            "aud": app_id,
            "serviceurl": service_url,
            "nbf": now - 5,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})


class EntraIdentityStandIn(StandIn):
    """Microsoft Entra ID for the tab's single sign-on: the tenant's OpenID metadata, its signing
    keys, and the tokens the Teams JavaScript client would hand the tab (`getAuthToken`) for a
    person. Each token can be made wrong in one way (tenant, audience, scope, expiry, key)."""

    def __init__(self) -> None:
        super().__init__()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = uuid.uuid4().hex
        # A key Entra does not publish: a token signed with it is forged.
        self.forger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/{{tenant}}/v2.0/.well-known/openid-configuration"

    def issuer(self, tenant_id: str) -> str:
        return f"{self.url}/{tenant_id}/v2.0"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._metadata)
        app.router.add_get("/discovery/v2.0/keys", self._keys)

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response({
            "issuer": f"{self.url}/{{tenantid}}/v2.0",
            "jwks_uri": f"{self.url}/discovery/v2.0/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
        })

    async def _keys(self, request: web.Request) -> web.Response:
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self._kid, "use": "sig"})
        return web.json_response({"keys": [jwk]})

    def token(self, aad_object_id: str, name: str, *, tenant_id: str, audience: str, scope: str = "access_as_user",
              lifetime: int = 3600, issuer_tenant: str | None = None, forged: bool = False) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer(issuer_tenant or tenant_id),
            "aud": audience,
            "tid": tenant_id,
            "oid": aad_object_id,
            "name": name,
            "scp": scope,
            "ver": "2.0",
            "iat": now - 5,
            "nbf": now - 5,
            "exp": now + lifetime,
        }
        key = self.forger_key if forged else self._key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self._kid})
