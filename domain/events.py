"""What happened in Teams, in our own words: the input of the lesson monitor."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class EventOutcome(StrEnum):
    applied = "applied"
    duplicate = "duplicate"  # a redelivery of something already recorded
    late = "late"  # arrived after the lesson closed; recorded against it
    ignored = "ignored"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class MeetingRef(_Frozen):
    """Where an event came from: enough to find the lesson and to reply."""

    meeting_id: str
    conversation_id: str | None = None
    tenant_id: str | None = None
    service_url: str | None = None


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


class ParticipantsChanged(_Frozen):
    meeting: MeetingRef
    at: datetime
    joined: bool  # True for join, False for leave
    participants: tuple[Participant, ...]
