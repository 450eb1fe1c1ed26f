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
