"""A person's intervals from Teams' join and leave events, in event-time order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from domain.attendance import Interval, ParticipantEvent, intervals_from_events

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(n: int, minutes: float, joined: bool, role: str = "Attendee", in_meeting: bool | None = None) -> ParticipantEvent:
    return ParticipantEvent(id=n, at=at(minutes), joined=joined, role=role, in_meeting=in_meeting)


def spans(intervals: list[Interval]) -> list[tuple]:
    return [(i.joined_at, i.left_at, i.role) for i in intervals]


def test_a_leave_delivered_before_its_join_gives_one_interval():
    arrived = [event(1, 30, False), event(2, 5, True)]  # arrival order: the leave first
    assert spans(intervals_from_events(arrived)) == [(at(5), at(30), "Attendee")]


def test_a_second_device_keeps_the_person_present():
    # Joined on a laptop and a phone; left the phone: Teams says they are still in the meeting.
    events = [event(1, 0, True), event(2, 10, True), event(3, 20, False, in_meeting=True), event(4, 40, False, in_meeting=False)]
    assert spans(intervals_from_events(events)) == [(at(0), at(40), "Attendee")]
    # Without inMeeting, the devices are counted.
    counted = [event(1, 0, True), event(2, 10, True), event(3, 20, False), event(4, 40, False)]
    assert spans(intervals_from_events(counted)) == [(at(0), at(40), "Attendee")]


def test_a_role_changed_mid_lesson_gives_an_interval_per_role():
    events = [event(1, 1, True), event(2, 15, True, role="Presenter", in_meeting=True), event(3, 40, False, role="Presenter", in_meeting=False)]
    assert spans(intervals_from_events(events)) == [(at(1), at(15), "Attendee"), (at(15), at(40), "Presenter")]


def test_open_intervals_close_at_the_end_and_a_lone_leave_keeps_its_join_unknown():
    [still_there] = intervals_from_events([event(1, 2, True)], end=at(50))
    assert (still_there.left_at, still_there.note) == (at(50), "still present when the meeting ended")
    [lone] = intervals_from_events([event(1, 20, False)])
    assert lone.joined_at is None and lone.left_at == at(20) and "join time unknown" in lone.note


def test_leaving_and_coming_back_is_two_intervals():
    events = [event(1, 0, True), event(2, 10, False), event(3, 20, True), event(4, 30, False)]
    assert spans(intervals_from_events(events)) == [(at(0), at(10), "Attendee"), (at(20), at(30), "Attendee")]


def test_a_pupil_demoted_before_leaving_keeps_the_presenter_role_on_record():
    events = [event(1, 1, True, role="Presenter"), event(2, 40, False, role="Attendee", in_meeting=False)]
    [interval] = intervals_from_events(events)
    assert interval.role == "Presenter" and "joined as Presenter, Attendee when they left" in interval.note


def test_a_leave_and_a_join_at_the_same_instant_are_a_device_switch_whatever_order_they_arrive_in():
    arrived = [event(1, 0, True), event(2, 10, False), event(3, 10, True), event(4, 30, False)]
    assert spans(intervals_from_events(arrived)) == [(at(0), at(30), "Attendee")]
