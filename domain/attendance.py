"""A person's attendance intervals, built from Teams' join and leave events in event-time order.

Teams may deliver a leave before its join, send a join per device, or carry a changed role on a
later event. The register is therefore never updated event by event in arrival order: every
event is kept, and a person's intervals are rebuilt from all of them, sorted by the time they
happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ParticipantEvent(BaseModel):
    """One join or leave of one person, as Teams sent it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int = 0  # arrival order: breaks ties between events at the same instant
    at: datetime
    joined: bool
    role: str | None = None
    # Teams' `inMeeting` after the event, where sent: a leave from one of two devices keeps it true.
    in_meeting: bool | None = None


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True)

    joined_at: datetime | None  # None: the join was never seen
    left_at: datetime | None  # None: still present
    role: str | None
    note: str | None = None


def intervals_from_events(events: Iterable[ParticipantEvent], *, end: datetime | None = None) -> list[Interval]:
    """The intervals one person was present, from all their events; open ones close at `end`."""
    intervals: list[Interval] = []
    devices = 0
    since: datetime | None = None
    role: str | None = None
    note: str | None = None
    # At the same instant a join goes before a leave (a device switch stays one interval).
    for event in sorted(events, key=lambda e: (e.at, not e.joined, e.id)):
        if event.joined:
            devices += 1
            present = True if event.in_meeting is None else event.in_meeting
        else:
            devices = max(0, devices - 1)
            present = devices > 0 if event.in_meeting is None else event.in_meeting
        devices = max(devices, 1) if present else 0
        if since is None and present:
            since, role, note = event.at, event.role, None
        elif since is not None and not present:
            intervals.append(Interval(joined_at=since, left_at=event.at, role=_higher(role, event.role),
                                      note=_changed(role, event.role, note)))
            since = None
        elif since is not None and event.role and role and event.role.lower() != role.lower():
            # A role changed mid-lesson (a pupil made presenter): each interval keeps its own.
            intervals.append(Interval(joined_at=since, left_at=event.at, role=role, note=note))
            since, role, note = event.at, event.role, f"role changed to {event.role}"
        elif since is None and not event.joined and not intervals:
            intervals.append(Interval(joined_at=None, left_at=event.at, role=event.role, note="leave without a join: join time unknown"))
    if since is not None:
        if end is not None:
            intervals.append(Interval(joined_at=since, left_at=max(end, since), role=role,
                                      note=_join(note, "still present when the meeting ended")))
        else:
            intervals.append(Interval(joined_at=since, left_at=None, role=role, note=note))
    return intervals


RANK = {"attendee": 0, "presenter": 1, "coorganizer": 2, "organizer": 3}


def _higher(joined_as: str | None, left_as: str | None) -> str | None:
    """The role of an interval whose role changed with no event to say when: the more privileged,
    so a pupil who presented and was demoted before leaving is not recorded as never presenting."""
    if not joined_as or not left_as:
        return joined_as or left_as
    return max((joined_as, left_as), key=lambda r: RANK.get(r.lower(), 0))


def _changed(role: str | None, at_leave: str | None, note: str | None) -> str | None:
    """A role different at the leave than at the join changed while they were present."""
    if role and at_leave and role.lower() != at_leave.lower():
        return _join(note, f"joined as {role}, {at_leave} when they left")
    return note


def _join(note: str | None, text: str) -> str:
    return f"{note}; {text}" if note else text
