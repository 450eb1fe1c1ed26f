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
    MeetingEnded,
    MeetingRef,
    MeetingStarted,
    Participant,
    ParticipantsChanged,
    Sender,
)

from .adapter import MalformedActivity

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
    id: str | None = None
    aad_object_id: str | None = Field(None, validation_alias=AliasChoices("aadObjectId", "AadObjectId"))
    name: str | None = None
    tenant_id: str | None = Field(None, validation_alias=AliasChoices("tenantId", "TenantId"))


class MemberMeetingInfo(_Payload):
    role: str | None = Field(None, validation_alias=AliasChoices("role", "Role"))
    in_meeting: bool | None = Field(None, validation_alias=AliasChoices("inMeeting", "InMeeting"))


class MeetingMember(_Payload):
    user: TeamsUser
    meeting: MemberMeetingInfo = Field(default_factory=MemberMeetingInfo)


class ParticipantsValue(_Payload):
    members: list[MeetingMember] = Field(min_length=1)


class _MeetingChannelData(_Payload):
    id: str = Field(min_length=1)


class _Tenant(_Payload):
    id: str | None = None


class TeamsChannelData(_Payload):
    meeting: _MeetingChannelData | None = None
    tenant: _Tenant | None = None


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


def event_name(activity: Activity) -> str:
    # One version of Microsoft's documentation shows the names with a leading space.
    return (activity.name or "").strip()


def activity_key(activity: Activity) -> str | None:
    """What identifies one delivery: the same key twice means Teams redelivered it."""
    if not activity.id:
        return None
    conversation = activity.conversation.id if activity.conversation else ""
    return f"{activity.channel_id}|{conversation}|{event_name(activity)}|{activity.id}"


def tenant_of(activity: Activity) -> str | None:
    channel_data = _parse(TeamsChannelData, activity.channel_data, "channelData")
    if channel_data.tenant and channel_data.tenant.id:
        return channel_data.tenant.id
    return getattr(activity.conversation, "tenant_id", None)


def meeting_ref(activity: Activity) -> MeetingRef:
    channel_data = _parse(TeamsChannelData, activity.channel_data, "channelData")
    if channel_data.meeting is None:
        # Never fall back to conversation.id or value.Id: in end events value.Id can be the
        # thread id, which would split one lesson into two.
        raise MalformedActivity("channelData.meeting.id is missing: cannot tell which meeting this is")
    return MeetingRef(
        meeting_id=channel_data.meeting.id,
        conversation_id=activity.conversation.id if activity.conversation else None,
        tenant_id=tenant_of(activity),
        service_url=activity.service_url,
    )


def event_time(activity: Activity) -> datetime:
    if activity.timestamp is not None:
        return _utc(activity.timestamp)
    return datetime.now(timezone.utc)


def parse_meeting_start(activity: Activity) -> MeetingStarted:
    value = _parse(MeetingStartValue, activity.value, "meetingStart value")
    return MeetingStarted(
        meeting=meeting_ref(activity),
        at=_utc(value.start_time),
        title=value.title,
        join_url=value.join_url,
        meeting_type=value.meeting_type,
    )


def parse_meeting_end(activity: Activity) -> MeetingEnded:
    value = _parse(MeetingEndValue, activity.value, "meetingEnd value")
    return MeetingEnded(meeting=meeting_ref(activity), at=_utc(value.end_time))


def parse_participants(activity: Activity, joined: bool) -> ParticipantsChanged:
    value = _parse(ParticipantsValue, activity.value, "participant event value")
    participants = tuple(
        Participant(
            teams_user_id=m.user.id,
            aad_object_id=m.user.aad_object_id,
            name=m.user.name,
            tenant_id=m.user.tenant_id,
            role=m.meeting.role,
            in_meeting=m.meeting.in_meeting,
        )
        for m in value.members
    )
    return ParticipantsChanged(
        meeting=meeting_ref(activity), at=event_time(activity), joined=joined, participants=participants
    )


def sender_of(activity: Activity) -> Sender:
    sender = activity.from_property
    return Sender(
        aad_object_id=getattr(sender, "aad_object_id", None),
        teams_user_id=getattr(sender, "id", None),
        name=getattr(sender, "name", None),
        tenant_id=tenant_of(activity),
    )
