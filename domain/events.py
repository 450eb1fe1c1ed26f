"""What happened in Teams, in our own words: the input of the lesson monitor."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from .lesson import PersonClass


class EventOutcome(StrEnum):
    applied = "applied"
    duplicate = "duplicate"  # a redelivery of something already recorded
    late = "late"  # arrived after the lesson closed; recorded against it


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class MeetingRef(_Frozen):
    """Where an event came from: enough to find the lesson and to reply."""

    meeting_id: str
    conversation_id: str | None = None
    tenant_id: str | None = None
    service_url: str | None = None
    team_group_id: str | None = None  # a channel meeting's team (a class team's id is its class id)


class MeetingDetails(_Frozen):
    """Bot Framework's GET /v1/meetings/{id}: the meeting as scheduled."""

    title: str | None = None
    join_url: str | None = None
    meeting_type: str | None = None
    graph_meeting_id: str | None = None
    organizer_aad_id: str | None = None
    organizer_teams_id: str | None = None  # 29:..., what Teams cards' userIds need
    organizer_name: str | None = None
    scheduled_start: datetime | None = None
    scheduled_end: datetime | None = None


class MeetingStarted(_Frozen):
    meeting: MeetingRef
    at: datetime
    title: str | None = None
    join_url: str | None = None
    meeting_type: str | None = None


class MeetingEnded(_Frozen):
    meeting: MeetingRef
    at: datetime


class Participant(_Frozen):
    teams_user_id: str | None
    aad_object_id: str | None
    name: str | None
    tenant_id: str | None
    role: str | None
    in_meeting: bool | None

    @property
    def person_id(self) -> str:
        # The Entra object id is stable across chats; the 29: id is the fallback for
        # anonymous joiners, who have no Entra id.
        return self.aad_object_id or self.teams_user_id or "anonymous"

    def class_from_event(self, school_tenant: str | None) -> PersonClass:
        """What the event alone says about a person: only 'external' is certain from it.

        Staff and pupils share the school's tenant; telling them apart needs the directory.
        """
        if not self.aad_object_id:
            return PersonClass.external  # anonymous joiners have no school account
        if school_tenant and self.tenant_id and self.tenant_id != school_tenant:
            return PersonClass.external
        return PersonClass.unknown


class ParticipantsChanged(_Frozen):
    meeting: MeetingRef
    at: datetime
    joined: bool  # True for join, False for leave
    participants: tuple[Participant, ...]


class Sender(_Frozen):
    """Who sent an activity, as Bot Framework authenticated it."""

    aad_object_id: str | None = None
    teams_user_id: str | None = None
    name: str | None = None
    tenant_id: str | None = None


class EventKind(StrEnum):
    """The meeting events Chaperone follows, as kept in the event log."""

    start = "meetingStart"
    end = "meetingEnd"
    join = "participantJoin"
    leave = "participantLeave"


MeetingEvent = MeetingStarted | MeetingEnded | ParticipantsChanged
