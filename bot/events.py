"""Teams meeting event payloads, read with our own models.

botbuilder 4.17's schema classes drop fields (MeetingStartEventDetails keeps only the time,
participant `members` lands in the wrong attribute), and the handler receives the raw
`activity.value` dict anyway. Microsoft's documentation shows the start/end keys in
PascalCase and, in some versions, camelCase: both are accepted.
"""

from __future__ import annotations

from datetime import datetime, timezone

from botbuilder.schema import Activity
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from domain.events import (
    EventKind,
    MeetingEnded,
    MeetingEvent,
    MeetingRef,
    MeetingStarted,
    Participant,
    ParticipantsChanged,
    Sender,
)

from .envelope import MalformedActivity

MEETING_START = "application/vnd.microsoft.meetingStart"
MEETING_END = "application/vnd.microsoft.meetingEnd"
PARTICIPANT_JOIN = "application/vnd.microsoft.meetingParticipantJoin"
PARTICIPANT_LEAVE = "application/vnd.microsoft.meetingParticipantLeave"
MEETING_EVENTS = (MEETING_START, MEETING_END, PARTICIPANT_JOIN, PARTICIPANT_LEAVE)


def _either(name: str) -> AliasChoices:
    return AliasChoices(name, name[0].lower() + name[1:])


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _MeetingValue(_Payload):
    id: str | None = Field(None, validation_alias=_either("Id"))
    meeting_type: str | None = Field(None, validation_alias=_either("MeetingType"))
    join_url: str | None = Field(None, validation_alias=_either("JoinUrl"))
    title: str | None = Field(None, validation_alias=_either("Title"))


class MeetingStartValue(_MeetingValue):
    start_time: datetime = Field(validation_alias=_either("StartTime"))


class MeetingEndValue(_MeetingValue):
    end_time: datetime = Field(validation_alias=_either("EndTime"))


class TeamsUser(_Payload):
    # Bounded as the register keeps them: longer is not an id Teams gives.
    id: str | None = Field(None, max_length=256)
    aad_object_id: str | None = Field(None, max_length=64, validation_alias=AliasChoices("aadObjectId", "AadObjectId"))
    name: str | None = None
    tenant_id: str | None = Field(None, max_length=64, validation_alias=AliasChoices("tenantId", "TenantId"))


class MemberMeetingInfo(_Payload):
    role: str | None = Field(None, validation_alias=AliasChoices("role", "Role"))
    in_meeting: bool | None = Field(None, validation_alias=AliasChoices("inMeeting", "InMeeting"))


class MeetingMember(_Payload):
    user: TeamsUser
    meeting: MemberMeetingInfo = Field(default_factory=MemberMeetingInfo)


class ParticipantsValue(_Payload):
    members: list[MeetingMember] = Field(min_length=1)


class _MeetingChannelData(_Payload):
    id: str = Field(min_length=1, max_length=512)


class _Tenant(_Payload):
    id: str | None = Field(None, max_length=64)


class _Team(_Payload):
    # A channel meeting's team: for a class team, its group id is its education class id.
    aad_group_id: str | None = Field(None, alias="aadGroupId", max_length=64)


class TeamsChannelData(_Payload):
    meeting: _MeetingChannelData | None = None
    tenant: _Tenant | None = None
    team: _Team | None = None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _parse(model: type[_Payload], data: object, what: str) -> _Payload:
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or what}: {e['msg']}" for e in exc.errors()
        )
        raise MalformedActivity(f"{what} is malformed: {problems}") from exc


KINDS = {
    MEETING_START: EventKind.start,
    MEETING_END: EventKind.end,
    PARTICIPANT_JOIN: EventKind.join,
    PARTICIPANT_LEAVE: EventKind.leave,
}


def event_name(activity: Activity) -> str:
    # One version of Microsoft's documentation shows the names with a leading space.
    return (activity.name or "").strip()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def meeting_event_kind(body: dict) -> EventKind | None:
    """The kind of a Teams meeting event, or None for anything else (read from the JSON, before
    any SDK model is built: meeting events take the ingest path, bot/ingest.py)."""
    if body.get("type") != "event" or body.get("channelId") != "msteams":
        return None
    return KINDS.get(_text(body.get("name")).strip())


def activity_key(body: dict) -> str | None:
    """What identifies one delivery: the same key twice means Teams redelivered it."""
    if not _text(body.get("id")):
        return None
    conversation = body.get("conversation") if isinstance(body.get("conversation"), dict) else {}
    name = _text(body.get("name")).strip()
    return f"{_text(body.get('channelId'))}|{_text(conversation.get('id'))}|{name}|{body['id']}"


def _tenant_in_channel_data(channel_data: object) -> str | None:
    data = _parse(TeamsChannelData, channel_data, "channelData")
    return data.tenant.id if data.tenant and data.tenant.id else None


def tenant_of(activity: Activity) -> str | None:
    return _tenant_in_channel_data(activity.channel_data) or getattr(activity.conversation, "tenant_id", None)


def _tenants(body: dict, channel_data: TeamsChannelData) -> set[str]:
    conversation = body.get("conversation") if isinstance(body.get("conversation"), dict) else {}
    named = {channel_data.tenant.id if channel_data.tenant else None, conversation.get("tenantId"), conversation.get("tenantID")}
    return {t for t in named if isinstance(t, str) and t}


def tenants_in(body: dict) -> set[str]:
    """Every tenant a meeting event names (channelData.tenant.id, conversation.tenantId)."""
    return _tenants(body, _parse(TeamsChannelData, body.get("channelData"), "channelData"))


def meeting_ref(body: dict) -> MeetingRef:
    channel_data = _parse(TeamsChannelData, body.get("channelData"), "channelData")
    if channel_data.meeting is None:
        # Never fall back to conversation.id or value.Id: in end events value.Id can be the
        # thread id, which would split one lesson into two.
        raise MalformedActivity("channelData.meeting.id is missing: cannot tell which meeting this is")
    conversation = body.get("conversation") if isinstance(body.get("conversation"), dict) else {}
    tenant = channel_data.tenant.id if channel_data.tenant and channel_data.tenant.id else None
    return MeetingRef(
        meeting_id=channel_data.meeting.id,
        conversation_id=_text(conversation.get("id")) or None,
        tenant_id=tenant or next(iter(sorted(_tenants(body, channel_data))), None),
        service_url=_text(body.get("serviceUrl")) or None,
        team_group_id=channel_data.team.aad_group_id if channel_data.team else None,
    )


def event_time(body: dict, received_at: datetime | None = None) -> datetime:
    """The activity's timestamp; without one, when it arrived (kept in the log with it)."""
    stamp = body.get("timestamp")
    if isinstance(stamp, str) and stamp:
        try:
            return _utc(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
        except ValueError:
            raise MalformedActivity("timestamp is not an ISO 8601 time") from None
    return received_at or datetime.now(timezone.utc)


def _cap(text: str | None, length: int) -> str | None:
    # A display name or title longer than the register keeps is shortened, not refused:
    # the person's attendance still counts.
    return text[:length] if text else text


def parse_event(body: dict, kind: EventKind, received_at: datetime | None = None) -> MeetingEvent:
    """The meeting event in our own words; MalformedActivity (400) when Teams' payload is not
    what Microsoft documents."""
    ref = meeting_ref(body)
    value = body.get("value")
    if kind is EventKind.start:
        start = _parse(MeetingStartValue, value, "meetingStart value")
        return MeetingStarted(meeting=ref, at=_utc(start.start_time), title=_cap(start.title, 512), join_url=start.join_url,
                              meeting_type=_cap(start.meeting_type, 64))
    if kind is EventKind.end:
        end = _parse(MeetingEndValue, value, "meetingEnd value")
        return MeetingEnded(meeting=ref, at=_utc(end.end_time))
    members = _parse(ParticipantsValue, value, "participant event value")
    participants = tuple(
        Participant(
            teams_user_id=m.user.id,
            aad_object_id=m.user.aad_object_id,
            name=_cap(m.user.name, 256),
            tenant_id=m.user.tenant_id,
            role=_cap(m.meeting.role, 32),
            in_meeting=m.meeting.in_meeting,
        )
        for m in members.members
    )
    return ParticipantsChanged(meeting=ref, at=event_time(body, received_at), joined=kind is EventKind.join, participants=participants)


def sender_of(activity: Activity) -> Sender:
    sender = activity.from_property
    return Sender(
        aad_object_id=getattr(sender, "aad_object_id", None),
        teams_user_id=getattr(sender, "id", None),
        name=getattr(sender, "name", None),
        tenant_id=tenant_of(activity),
    )
