"""Entra ID's token endpoint, as far as `doctor` needs it: a client-credentials token whose
`roles` claim lists the application permissions admin consent granted (set `granted`).

Mounted on the Graph stand-in (`POST /{tenant}/oauth2/v2.0/token`). The token is unsigned:
Chaperone reads the claims to tell an IT lead which permissions are missing; Graph itself,
not Chaperone, verifies tokens.
"""

from __future__ import annotations

import base64
import json
import time

from aiohttp import web

from graph.permissions import GRAPH_APPLICATION_PERMISSIONS


def _part(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


class EntraTokens:
    def __init__(self) -> None:
        # Every permission Chaperone documents, as after admin consent; tests take some away.
        self.granted: set[str] = set(GRAPH_APPLICATION_PERMISSIONS)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        now = int(time.time())
        claims = {"aud": "https://graph.microsoft.com", "tid": request.match_info["tenant"], "appid": form.get("client_id"),
                  "iat": now, "exp": now + 3600, "roles": sorted(self.granted)}
        token = f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(claims)}."
        return web.json_response({"token_type": "Bearer", "expires_in": 3600, "access_token": token})
