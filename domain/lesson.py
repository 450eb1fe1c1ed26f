"""A live lesson and its attendance register.

The policy: "Staff will record the length, time, date, and attendance of any sessions held."
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from .enrolment import LessonOrigin
from .lookups import Lookup
from .placement import Placement
from .meeting import CalendarEvent, MeetingSettings, OrganizerDevice, Recording, is_channel_meeting


class PersonClass(StrEnum):
    staff = "staff"
    pupil = "pupil"
    external = "external"
    unknown = "unknown"


class DirectoryEntry(BaseModel):
    """What the directory says about a person: their class and sign-in name (UPN)."""

    model_config = ConfigDict(frozen=True)

    classification: PersonClass
    upn: str | None = None


class LessonStatus(StrEnum):
    open = "open"
    closed = "closed"


class AttendanceSource(StrEnum):
    live = "live"  # Teams participant join/leave events
    graph_report = "graph-report"  # Graph attendance report after the lesson
    call_record = "call-record"  # Graph's call record of a session Chaperone did not follow live


class Attendance(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    person_id: str
    aad_object_id: str | None
    teams_user_id: str | None = None  # 29:...
    display_name: str | None
    upn: str | None = None
    tenant_id: str | None
    meeting_role: str | None
    classification: PersonClass
    joined_at: datetime | None  # None: Chaperone never saw the join (the leave came alone)
    left_at: datetime | None  # None: still present
    source: AttendanceSource
    note: str | None = None

    @property
    def seconds(self) -> int | None:
        if self.joined_at and self.left_at:
            return int((self.left_at - self.joined_at).total_seconds())
        return None


class Presence(BaseModel):
    """Who was present at one moment, as far as the directory had classified them."""

    model_config = ConfigDict(frozen=True)

    staff: tuple[str, ...] = ()
    pupils: tuple[str, ...] = ()
    others: tuple[str, ...] = ()  # guests, other organisations, anonymous callers
    unidentified: int = 0  # present, but not (yet) known to be staff or a pupil


class SettingsObservation(BaseModel):
    """The meeting's settings as a read found them, at a time on the lesson's clock."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    observed_at: datetime
    settings: MeetingSettings
    source: str  # start | refresh | end | remediation


class Lesson(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    meeting_id: str
    title: str | None
    organizer_aad_id: str | None
    organizer_name: str | None
    organizer_upn: str | None = None
    organizer_teams_id: str | None = None
    join_url: str | None
    meeting_type: str | None
    graph_meeting_id: str | None
    tenant_id: str | None
    conversation_id: str | None
    service_url: str | None = None
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    status: LessonStatus
    start_event_missing: bool
    end_event_missing: bool
    # What each look-up about the meeting found, or why it could not be made.
    details_lookup: Lookup | None = None  # Teams' meeting details (Bot Framework)
    meeting_settings: MeetingSettings | None = None
    settings_lookup: Lookup | None = None  # the meeting's settings (Graph)
    calendar_event: CalendarEvent | None = None
    calendar_lookup: Lookup | None = None  # the organizer's calendar event (Graph)
    report_lookup: Lookup | None = None  # Graph's attendance report, after the end
    roster_lookup: Lookup | None = None  # ok once everyone present is classified
    recordings: list[Recording] | None = None  # Graph's list of the meeting's recordings, after the end
    recordings_lookup: Lookup | None = None
    organizer_device: OrganizerDevice | None = None  # from the sign-in logs, when the school checks it
    organizer_device_lookup: Lookup | None = None
    settings_read_at: datetime | None = None  # lesson clock of the last settings read
    attendance: list[Attendance] = []
    # Each change of the meeting's settings seen through the lesson, oldest first.
    settings_history: list[SettingsObservation] = []
    # Followed live from Teams' events, or seen only afterwards in a call record (unmonitored).
    origin: LessonOrigin = LessonOrigin.live
    call_record_id: str | None = None
    # The school whose record this is, and how that was decided (domain/placement.py).
    school_id: str | None = None
    placement: Placement = Placement.pending
    placement_reason: str | None = None
    class_team_id: str | None = None

    @property
    def length_seconds(self) -> int | None:
        if self.actual_start and self.actual_end:
            return int((self.actual_end - self.actual_start).total_seconds())
        return None

    def present_at(self, at: datetime) -> Presence:
        names: dict[PersonClass, set[str]] = {kind: set() for kind in PersonClass}
        for a in self.attendance:
            joined = a.joined_at or self.actual_start
            if joined is not None and joined <= at and (a.left_at is None or a.left_at > at):
                names[a.classification].add(a.display_name or a.person_id)
        return Presence(
            staff=tuple(sorted(names[PersonClass.staff])),
            pupils=tuple(sorted(names[PersonClass.pupil])),
            others=tuple(sorted(names[PersonClass.external])),
            unidentified=len(names[PersonClass.unknown]),
        )

    @property
    def end_inferred(self) -> bool:
        """Closed by Chaperone (everyone had left, or it ran too long), not by Teams' end event."""
        return self.actual_end is not None and self.end_event_missing

    @property
    def organizer_teams_ids(self) -> list[str]:
        """The organizer's Teams ids (29:...), for per-user card views and a 1:1 chat."""
        ids = {a.teams_user_id for a in self.attendance if a.aad_object_id == self.organizer_aad_id and a.teams_user_id}
        if self.organizer_teams_id:
            ids.add(self.organizer_teams_id)
        return sorted(ids)

    @property
    def is_channel_meeting(self) -> bool:
        return is_channel_meeting(self.meeting_type)

    @property
    def organizer_aliases(self) -> set[str]:
        """The names the timetable may know the organizer by: Entra object id and sign-in name."""
        return {i.lower() for i in (self.organizer_aad_id, self.organizer_upn) if i}
