"""A lesson's meeting settings: lobby, presenters, chat, mic and camera, recording.

Needs OnlineMeetings.Read.All (OnlineMeetings.ReadWrite.All to fix the lobby) and a Teams
application access policy covering the organizer.
"""

from __future__ import annotations

from datetime import datetime

from msgraph.generated.models.lobby_bypass_scope import LobbyBypassScope
from msgraph.generated.models.lobby_bypass_settings import LobbyBypassSettings
from msgraph.generated.models.online_meeting import OnlineMeeting
from msgraph.generated.users.item.online_meetings.online_meetings_request_builder import OnlineMeetingsRequestBuilder
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.meeting import (
    ChatMode,
    InvitedPerson,
    LobbyScope,
    MeetingSettings,
    Presenters,
    enum_or_unknown,
)

from .client import GraphClient, GraphUnavailable, prefer_unknown_enums


class _Wire(BaseModel):
    """Graph's onlineMeeting JSON, the fields Chaperone reads; anything else is ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Lobby(_Wire):
    scope: str | None = None
    is_dial_in_bypass_enabled: bool | None = Field(None, alias="isDialInBypassEnabled")


class _User(_Wire):
    id: str | None = None
    display_name: str | None = Field(None, alias="displayName")


class _Identity(_Wire):
    user: _User | None = None


class _Attendee(_Wire):
    identity: _Identity | None = None
    upn: str | None = None
    role: str | None = None


class _Participants(_Wire):
    attendees: list[_Attendee] | None = None


class _Meeting(_Wire):
    id: str | None = None
    subject: str | None = None
    join_web_url: str | None = Field(None, alias="joinWebUrl")
    lobby_bypass_settings: _Lobby | None = Field(None, alias="lobbyBypassSettings")
    allowed_presenters: str | None = Field(None, alias="allowedPresenters")
    allow_meeting_chat: str | None = Field(None, alias="allowMeetingChat")
    allow_attendee_to_enable_mic: bool | None = Field(None, alias="allowAttendeeToEnableMic")
    allow_attendee_to_enable_camera: bool | None = Field(None, alias="allowAttendeeToEnableCamera")
    record_automatically: bool | None = Field(None, alias="recordAutomatically")
    allow_recording: bool | None = Field(None, alias="allowRecording")
    meeting_type: str | None = Field(None, alias="meetingType")
    is_broadcast: bool | None = Field(None, alias="isBroadcast")
    start_date_time: datetime | None = Field(None, alias="startDateTime")
    end_date_time: datetime | None = Field(None, alias="endDateTime")
    participants: _Participants | None = None


class _Meetings(_Wire):
    value: list[_Meeting] = Field(default_factory=list)


def _read(model: type[_Wire], answer: dict, what: str):
    try:
        return model.model_validate(answer)
    except ValidationError as exc:
        raise GraphUnavailable(f"{what}: Graph's answer could not be read ({exc.error_count()} problems)") from exc


def _settings(meeting: _Meeting) -> MeetingSettings:
    lobby = meeting.lobby_bypass_settings
    participants = meeting.participants
    invited = []
    for attendee in (participants.attendees if participants and participants.attendees else []):
        user = attendee.identity.user if attendee.identity else None
        invited.append(
            InvitedPerson(
                aad_object_id=user.id if user else None,
                display_name=user.display_name if user else None,
                upn=attendee.upn,
                role=attendee.role,
            )
        )
    return MeetingSettings(
        graph_meeting_id=meeting.id,
        subject=meeting.subject,
        join_url=meeting.join_web_url,
        lobby_scope=enum_or_unknown(LobbyScope, lobby.scope if lobby else None),
        dial_in_bypasses_lobby=lobby.is_dial_in_bypass_enabled if lobby else None,
        allowed_presenters=enum_or_unknown(Presenters, meeting.allowed_presenters),
        chat=enum_or_unknown(ChatMode, meeting.allow_meeting_chat),
        attendee_mic_allowed=meeting.allow_attendee_to_enable_mic,
        attendee_camera_allowed=meeting.allow_attendee_to_enable_camera,
        record_automatically=meeting.record_automatically,
        allow_recording=meeting.allow_recording,
        meeting_type=meeting.meeting_type,
        is_broadcast=meeting.is_broadcast,
        start=meeting.start_date_time,
        end=meeting.end_date_time,
        invited=tuple(invited),
    )


class MeetingReader:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def settings(self, organizer_id: str, graph_meeting_id: str | None, join_url: str | None) -> MeetingSettings:
        """By the Graph meeting id from Bot Framework's meeting details first; by join URL otherwise."""
        if graph_meeting_id:
            try:
                answer = await self._graph.get_json(
                    "meeting settings",
                    lambda sdk: sdk.users.by_user_id(organizer_id)
                    .online_meetings.by_online_meeting_id(graph_meeting_id)
                    .to_get_request_information(request_configuration=prefer_unknown_enums()),
                )
                return _settings(_read(_Meeting, answer, "meeting settings"))
            except GraphUnavailable as exc:
                if exc.status != 404 or not join_url:
                    raise
        if not join_url:
            raise GraphUnavailable("meeting settings: neither a Graph meeting id nor a join URL is known")
        # Pass the join URL as Teams gives it; the SDK encodes the filter.
        query = OnlineMeetingsRequestBuilder.OnlineMeetingsRequestBuilderGetQueryParameters(
            filter=f"JoinWebUrl eq '{join_url.replace(chr(39), chr(39) * 2)}'"
        )
        answer = await self._graph.get_json(
            "meeting settings by join URL",
            lambda sdk: sdk.users.by_user_id(organizer_id).online_meetings.to_get_request_information(
                request_configuration=prefer_unknown_enums(query)
            ),
        )
        found = _read(_Meetings, answer, "meeting settings by join URL")
        if not found.value:
            raise GraphUnavailable("meeting settings: Graph has no meeting with this join URL for the organizer", 404)
        return _settings(found.value[0])

    async def set_lobby_scope(self, organizer_id: str, graph_meeting_id: str, scope: LobbyScope) -> MeetingSettings:
        """Turn the waiting room on (applies to a meeting in progress)."""
        body = OnlineMeeting(lobby_bypass_settings=LobbyBypassSettings(scope=LobbyBypassScope(scope.value), is_dial_in_bypass_enabled=False))
        answer = await self._graph.get_json(
            "lobby remediation",
            lambda sdk: sdk.users.by_user_id(organizer_id)
            .online_meetings.by_online_meeting_id(graph_meeting_id)
            .to_patch_request_information(body, request_configuration=prefer_unknown_enums()),
        )
        return _settings(_read(_Meeting, answer, "lobby remediation"))
