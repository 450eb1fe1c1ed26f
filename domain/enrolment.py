"""Enrolment and coverage: which online meetings Chaperone joins by itself, the Graph
subscriptions that tell it about changes, and the calls it saw only afterwards (call records).

The policy worries most about the sessions nobody added Chaperone to; these models carry what
Chaperone found out about them, between graph/, store/ and service/.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class LessonSelection(StrEnum):
    """Which staff meetings count as lessons, so Chaperone installs itself in them."""

    pupils_invited = "pupils-invited"  # a pupil is among the invited
    class_teams = "class-teams"  # pupils invited, or a channel meeting (its class team gets Chaperone)
    all_staff_meetings = "all-staff-meetings"  # every online meeting a member of staff organises


class LessonOrigin(StrEnum):
    """How Chaperone came to know a session."""

    live = "live"  # Teams' meeting events: followed live
    call_record = "call-record"  # only Graph's call record after it ended: unmonitored


class EnrolmentStatus(StrEnum):
    enrolled = "enrolled"  # Chaperone installed itself in the meeting's chat (or team)
    already = "already"  # it was there already (installed by staff, or by an earlier sweep)
    skipped = "skipped"  # not a lesson under the policy's [enrolment] lessons
    failed = "failed"  # it could not be installed: why is recorded


class InstallScope(StrEnum):
    chat = "chat"  # a meeting's chat: POST /chats/{id}/installedApps
    team = "team"  # a class team, for channel meetings: POST /teams/{id}/installedApps
    personal = "personal"  # a member of staff, SLT or the DSL: POST /users/{id}/teamwork/installedApps


class InstallOutcome(StrEnum):
    installed = "installed"
    already = "already"  # 409 Conflict or already listed: fine


class CalendarMeeting(BaseModel):
    """Which meeting on whose calendar: what a scheduled meeting and its enrolment share."""

    model_config = ConfigDict(frozen=True)

    organizer_id: str
    event_id: str
    subject: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    join_url: str | None = None


class ScheduledMeeting(CalendarMeeting):
    """An online meeting on a member of staff's calendar, as calendarView returns it."""

    attendees: tuple[str, ...] = ()  # email addresses, lower case
    is_organizer: bool = True  # calendarView lists meetings one is invited to, too
    is_cancelled: bool = False


class Enrolment(CalendarMeeting):
    """What one sweep (or notification) did about one meeting."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    chat_id: str | None = None  # the meeting chat's thread id (onlineMeeting.chatInfo.threadId)
    team_id: str | None = None
    status: EnrolmentStatus
    reason: str | None = None  # why skipped or failed; what was done otherwise
    # The school whose staff calendar it was found in (in a trust; a single school's id otherwise).
    school_id: str | None = None


class CallKind(StrEnum):
    group_call = "groupCall"  # a meeting, Meet Now included
    peer_to_peer = "peerToPeer"  # a direct call between two people
    unknown = "unknown"


class CallParticipant(BaseModel):
    """One person in a call record, with when they took part (from its sessions)."""

    model_config = ConfigDict(frozen=True)

    aad_object_id: str | None  # None: a guest, a phone caller, an anonymous joiner
    display_name: str | None = None
    tenant_id: str | None = None
    joined_at: datetime | None = None
    left_at: datetime | None = None


class CallRecord(BaseModel):
    """Graph's record of a call after it ended (/communications/callRecords/{id})."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: CallKind
    version: int | None = None
    organizer_id: str | None = None
    organizer_name: str | None = None
    organizer_tenant_id: str | None = None
    join_url: str | None = None
    start: datetime
    end: datetime
    participants: tuple[CallParticipant, ...] = ()


class SubscriptionPurpose(StrEnum):
    calendar = "calendar"  # a member of staff's calendar: meetings created after the sweep
    call_records = "call-records"  # every call record, when a call ends


class Subscription(BaseModel):
    """A Graph change-notification subscription Chaperone holds (kept in the database, so any
    instance can renew it)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str  # Graph's subscription id
    purpose: SubscriptionPurpose
    resource: str
    change_type: str
    expires_at: datetime
    owner_id: str | None = None  # the member of staff, for calendar subscriptions
    renewed_at: datetime | None = None
    last_error: str | None = None


class LifecycleEvent(StrEnum):
    reauthorization_required = "reauthorizationRequired"
    subscription_removed = "subscriptionRemoved"
    missed = "missed"


class Notification(BaseModel):
    """One change or lifecycle notification, as far as Chaperone reads it: a hint, never data."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    client_state: str | None = None
    change_type: str | None = None
    resource: str | None = None
    resource_id: str | None = None
    lifecycle_event: LifecycleEvent | None = None


class CoverageRow(BaseModel):
    """One teacher on one day: sessions with pupils, how each was seen, and meetings not enrolled."""

    model_config = ConfigDict(frozen=True)

    day: str  # ISO date, school time
    teacher: str  # name, or Entra id where no name is known
    sessions_with_pupils: int = 0
    followed_live: int = 0
    seen_afterwards: int = 0
    could_not_enrol: int = 0
    reasons: tuple[str, ...] = ()
