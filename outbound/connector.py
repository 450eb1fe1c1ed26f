"""An async client for the Bot Connector's Teams endpoints.

botbuilder 4.17's TeamsInfo helpers call these with synchronous HTTP inside `async def`
(blocking the event loop), and get_meeting_participant calls the wrong URL. We call the
documented REST endpoints ourselves.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

import aiohttp
from yarl import URL
from azure.identity.aio import ClientSecretCredential, ManagedIdentityCredential
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.settings import AppType, Settings
from domain.events import MeetingDetails

from .errors import summarise

log = logging.getLogger(__name__)

BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"


class ConnectorError(RuntimeError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TokenSource(Protocol):
    async def headers(self) -> dict[str, str]: ...

    async def close(self) -> None: ...


class NoToken:
    """Dev mode: the local stand-ins need no token, and no sign-in is attempted."""

    async def headers(self) -> dict[str, str]:
        return {}

    async def close(self) -> None:
        return None


class EntraToken:
    """The bot's own app token for the Bot Connector, from azure-identity (cached by it)."""

    def __init__(self, settings: Settings) -> None:
        if settings.app_type is AppType.user_assigned_msi:
            self._credential = ManagedIdentityCredential(client_id=settings.app_id)
        else:
            self._credential = ClientSecretCredential(
                tenant_id=settings.app_tenant_id or "botframework.com",
                client_id=settings.app_id,
                client_secret=settings.app_password,
            )

    async def headers(self) -> dict[str, str]:
        token = await self._credential.get_token(BOT_FRAMEWORK_SCOPE)
        return {"Authorization": f"Bearer {token.token}"}

    async def close(self) -> None:
        await self._credential.close()


def token_source(settings: Settings) -> TokenSource:
    return EntraToken(settings) if settings.auth_enabled else NoToken()


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _MeetingInfoDetails(_Wire):
    title: str | None = None
    join_url: str | None = Field(None, alias="joinUrl")
    type: str | None = None
    ms_graph_resource_id: str | None = Field(None, alias="msGraphResourceId")
    scheduled_start_time: datetime | None = Field(None, alias="scheduledStartTime")
    scheduled_end_time: datetime | None = Field(None, alias="scheduledEndTime")


class _Organizer(_Wire):
    id: str | None = None
    aad_object_id: str | None = Field(None, alias="aadObjectId")
    object_id: str | None = Field(None, alias="objectId")
    name: str | None = None


class MeetingInfoResponse(_Wire):
    details: _MeetingInfoDetails = Field(default_factory=_MeetingInfoDetails)
    organizer: _Organizer = Field(default_factory=_Organizer)

    def to_details(self) -> MeetingDetails:
        return MeetingDetails(
            title=self.details.title,
            join_url=self.details.join_url,
            meeting_type=self.details.type,
            graph_meeting_id=self.details.ms_graph_resource_id,
            organizer_aad_id=self.organizer.aad_object_id or self.organizer.object_id,
            organizer_teams_id=self.organizer.id,
            organizer_name=self.organizer.name,
            scheduled_start=self.details.scheduled_start_time,
            scheduled_end=self.details.scheduled_end_time,
        )


class BotConnector:
    def __init__(self, settings: Settings, session: aiohttp.ClientSession, tokens: TokenSource) -> None:
        self._settings = settings
        self._session = session
        self._tokens = tokens

    def _url(self, service_url: str, path: str) -> URL:
        refusal = self._settings.service_url_refusal(service_url)
        if refusal:
            raise ConnectorError(f"will not call {service_url}: {refusal}")
        # encoded=True: yarl would otherwise turn %3D back into "=" in the meeting id.
        return URL(service_url.rstrip("/") + path, encoded=True)

    def _meeting_url(self, service_url: str, meeting_id: str, tail: str = "") -> URL:
        # The meeting id is base64 and may hold + / =, which must not be read as path syntax.
        return self._url(service_url, f"/v1/meetings/{quote(meeting_id, safe='')}{tail}")

    async def _call(self, what: str, method: str, url: URL, expect: tuple[int, ...], body: dict | None = None) -> tuple[int, object]:
        try:
            async with self._session.request(method, url, json=body, headers=await self._tokens.headers()) as response:
                if response.status not in expect:
                    raise ConnectorError(f"{what}: HTTP {response.status} {summarise(await response.text())}", response.status)
                text = await response.text()
                return response.status, (json.loads(text) if text else None)
        except (aiohttp.ClientError, ValueError) as exc:
            raise ConnectorError(f"{what}: {type(exc).__name__}: {exc}") from exc

    async def meeting_details(self, service_url: str, meeting_id: str) -> MeetingDetails:
        _, payload = await self._call("meeting details", "GET", self._meeting_url(service_url, meeting_id), (200,))
        try:
            return MeetingInfoResponse.model_validate(payload).to_details()
        except ValidationError as exc:
            raise ConnectorError(f"meeting details: unexpected response: {exc.errors()[0]['msg']}") from exc

    async def targeted_notification(self, service_url: str, meeting_id: str, recipients: list[str], title: str, url: str) -> list[str]:
        """Show `url` on the meeting stage to these people only; returns who could not get it.

        Teams answers 202 when all recipients got it and 207 listing those who did not.
        """
        body = {
            "type": "targetedMeetingNotification",
            "value": {
                "recipients": recipients,
                "surfaces": [
                    {
                        "surface": "meetingStage",
                        "contentType": "task",
                        "content": {"value": {"height": "400", "width": "420", "title": title, "url": url}},
                    }
                ],
            },
        }
        status, payload = await self._call(
            "meeting notification", "POST", self._meeting_url(service_url, meeting_id, "/notification"), (202, 207), body
        )
        if status == 207 and isinstance(payload, dict):
            return [r.get("recipientMri", "?") for r in payload.get("recipientsFailureInfo", [])]
        return []
