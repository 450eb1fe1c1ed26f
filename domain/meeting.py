"""What Microsoft Graph says about a lesson's meeting, in Chaperone's own terms.

Every enum has `unknown`: Graph (and the SDK) may answer with a value Chaperone does not
know, or with nothing. Unknown is never treated as compliant.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class LobbyScope(StrEnum):
    """Who bypasses the lobby (the waiting room)."""

    organizer = "organizer"
    invited = "invited"
    organization_excluding_guests = "organizationExcludingGuests"
    organization = "organization"  # NB: guests bypass the lobby too
    organization_and_federated = "organizationAndFederated"
    everyone = "everyone"
    unknown = "unknown"


class Presenters(StrEnum):
    organizer = "organizer"
    role_is_presenter = "roleIsPresenter"
    organization = "organization"
    everyone = "everyone"
    unknown = "unknown"


class ChatMode(StrEnum):
    enabled = "enabled"
    limited = "limited"  # chat only while the meeting is live
    disabled = "disabled"
    unknown = "unknown"


# Teams' meeting types (meeting details `type`) that belong to a channel: Teams sends no
# participant events for these, and Graph keeps no attendance report for them.
CHANNEL_MEETING_TYPES = frozenset({"ChannelScheduled", "ChannelRecurring"})


def is_channel_meeting(meeting_type: str | None) -> bool:
    return meeting_type in CHANNEL_MEETING_TYPES


def enum_or_unknown(enum: type[StrEnum], value: object) -> StrEnum:
    raw = getattr(value, "value", value)
    try:
        return enum(raw)
    except ValueError:
        return enum("unknown")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class InvitedPerson(_Frozen):
    aad_object_id: str | None
    display_name: str | None = None
    upn: str | None = None
    role: str | None = None  # attendee | presenter | coorganizer | producer


class MeetingSettings(_Frozen):
    graph_meeting_id: str
    subject: str | None = None
    join_url: str | None = None
    lobby_scope: LobbyScope = LobbyScope.unknown
    dial_in_bypasses_lobby: bool | None = None
    allowed_presenters: Presenters = Presenters.unknown
    chat: ChatMode = ChatMode.unknown
    attendee_mic_allowed: bool | None = None
    attendee_camera_allowed: bool | None = None
    record_automatically: bool | None = None
    allow_recording: bool | None = None
    meeting_type: str | None = None
    is_broadcast: bool | None = None
    start: datetime | None = None
    end: datetime | None = None
    invited: tuple[InvitedPerson, ...] = ()


class CalendarEvent(_Frozen):
    """The organizer's calendar event whose Teams join URL is the lesson's."""

    event_id: str
    subject: str | None = None
    categories: tuple[str, ...] = ()
    is_recurring: bool = False
    start: datetime | None = None
    end: datetime | None = None
    # Invited email addresses, lower case; None when Graph did not report them.
    attendees: tuple[str, ...] | None = None
    # The invitation's own words (markup and Teams' join block removed); "" when it has none,
    # None when Graph did not report the body.
    body_text: str | None = None


class Recording(_Frozen):
    """A recording of the meeting, as Graph lists it after the session (callRecording)."""

    recording_id: str
    created: datetime | None = None
    ended: datetime | None = None
    # The tenant of the meeting organizer it is stored under: the school's, or someone else's.
    tenant_id: str | None = None


class OrganizerDevice(_Frozen):
    """The device the organizer last signed in to Teams from before the lesson (sign-in logs)."""

    signed_in_at: datetime | None = None
    managed: bool | None = None  # deviceDetail.isManaged: enrolled in the school's device management
    compliant: bool | None = None
    description: str | None = None  # operating system and browser, for the record


class ReportedInterval(_Frozen):
    joined_at: datetime | None
    left_at: datetime | None


class ReportedAttendee(_Frozen):
    """One person in Graph's attendance report for a meeting occurrence."""

    aad_object_id: str | None
    display_name: str | None
    tenant_id: str | None = None
    role: str | None = None
    email: str | None = None
    intervals: tuple[ReportedInterval, ...] = ()


class AttendanceReport(_Frozen):
    report_id: str
    meeting_start: datetime | None
    meeting_end: datetime | None
    attendees: tuple[ReportedAttendee, ...]
