"""Table-driven tests for each rule: pass, fail and could-not-verify, with the edges."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from config.policy import parse_policy
from domain.findings import Severity, Status
from domain.lesson import Attendance, AttendanceSource, Lesson, LessonStatus, PersonClass
from domain.lookups import Lookup
from domain.meeting import CalendarEvent, ChatMode, LobbyScope, MeetingSettings, Presenters
from rules import (
    attendee_av,
    aup_signed,
    live_stream_approval,
    meeting_chat,
    operating_hours,
    parental_consent,
    presenters_restricted,
    recording,
    school_accounts_only,
    timetabled,
    two_staff,
    waiting_room,
)
from rules.registry import evaluate
from domain.school import ApprovedException, TimetableEntry
from rules.snapshot import LessonSnapshot, Moment

UTC = timezone.utc
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 09:00 GMT = 09:00 London

POLICY = parse_policy(
    """
[school]
name = "Test School"
timezone = "Europe/London"

[hours]
monday = "08:00-16:00"
tuesday = "08:00-16:00"
wednesday = "08:00-16:00"
thursday = "08:00-16:00"
friday = "08:00-15:30"
saturday = "closed"

[calendar]
closures = [2026-11-27]
[[calendar.terms]]
name = "Autumn"
start = 2026-09-03
end = 2026-12-18

[timetable]
tolerance_minutes = 10
calendar_category = "Timetabled lesson"
"""
)


def m(n: float) -> timedelta:
    return timedelta(minutes=n)


def person(name: str, kind: PersonClass, joined: float | None, left: float | None = None, role: str = "Attendee") -> Attendance:
    return Attendance(
        id=abs(hash((name, joined))) % 10**6,
        person_id=f"id-{name}",
        aad_object_id=f"id-{name}",
        display_name=name,
        tenant_id="t",
        meeting_role=role,
        classification=kind,
        joined_at=None if joined is None else T0 + m(joined),
        left_at=None if left is None else T0 + m(left),
        source=AttendanceSource.live,
    )


STAFF, PUPIL, EXTERNAL, UNKNOWN = PersonClass.staff, PersonClass.pupil, PersonClass.external, PersonClass.unknown


def settings(**overrides) -> MeetingSettings:
    values = dict(
        graph_meeting_id="g",
        lobby_scope=LobbyScope.organizer,
        dial_in_bypasses_lobby=False,
        allowed_presenters=Presenters.organizer,
        chat=ChatMode.limited,
        attendee_mic_allowed=False,
        attendee_camera_allowed=False,
        record_automatically=True,
        allow_recording=True,
        is_broadcast=False,
    )
    values.update(overrides)
    return MeetingSettings(**values)


def lesson(attendance=(), start=T0, end=None, **overrides) -> Lesson:
    values = dict(
        id=1,
        meeting_id="meeting-1",
        title="Year 7 Maths",
        organizer_aad_id="id-Teacher",
        organizer_name="Teacher",
        join_url="https://teams.microsoft.com/l/meetup-join/x",
        meeting_type="Scheduled",
        graph_meeting_id="g",
        tenant_id="t",
        conversation_id="c",
        scheduled_start=start,
        scheduled_end=None,
        actual_start=start,
        actual_end=end,
        status=LessonStatus.closed if end else LessonStatus.open,
        start_event_missing=False,
        end_event_missing=False,
        details_lookup=Lookup.ok(),
        meeting_settings=settings(),
        settings_lookup=Lookup.ok(),
        calendar_lookup=Lookup.none("no calendar event"),
        roster_lookup=Lookup.ok(),
        attendance=list(attendance),
    )
    values.update(overrides)
    return Lesson(**values)


def snap(the_lesson: Lesson, moment: Moment = Moment.roster, at: datetime | None = None, **extra) -> LessonSnapshot:
    return LessonSnapshot(lesson=the_lesson, moment=moment, at=at or T0 + m(60), **extra)


def verdict(module, snapshot, policy=POLICY):
    [finding] = module.RULE.evaluate(snapshot, policy)
    return finding


def approval(rule_id: str, *, approved: datetime, expires: datetime | None = None, **scope) -> ApprovedException:
    return ApprovedException(id=7, rule_id=rule_id, reason="agreed with SLT", approved_by_name="Roland Gooding",
                             approved_at=approved, expires_at=expires, **scope)


# ---- waiting-room ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, status, words",
    [
        ({}, Status.passed, "waiting room is on"),
        ({"lobby_scope": LobbyScope.invited}, Status.passed, "invited"),
        ({"lobby_scope": LobbyScope.everyone}, Status.failed, "'everyone' can bypass"),
        ({"lobby_scope": LobbyScope.organization}, Status.failed, "guests in too"),
        ({"dial_in_bypasses_lobby": True}, Status.failed, "dialling in"),
        ({"lobby_scope": LobbyScope.unknown}, Status.could_not_verify, "does not know"),
    ],
)
def test_waiting_room(overrides, status, words):
    finding = verdict(waiting_room, snap(lesson(meeting_settings=settings(**overrides)), Moment.start))
    assert finding.status is status and words in finding.message
    # The card, report or note that shows a finding names the lesson; the finding does not.
    assert finding.severity is Severity.breach and "Year 7 Maths" not in finding.message and "Teacher" not in finding.message


def test_waiting_room_without_settings_is_could_not_verify_with_the_reason():
    finding = verdict(waiting_room, snap(lesson(meeting_settings=None, settings_lookup=Lookup.could_not_verify("Graph denied access")), Moment.start))
    assert finding.status is Status.could_not_verify and finding.reason == "could not verify: Graph denied access"


def test_policy_tunes_a_rule_allowed_scopes_and_severity():
    policy = POLICY.model_copy(update={"rules": {"waiting-room": {"allowed_scopes": ["organizer"], "severity": "warning"}}})
    finding = verdict(waiting_room, snap(lesson(meeting_settings=settings(lobby_scope=LobbyScope.invited)), Moment.start), policy)
    assert finding.status is Status.failed and finding.severity is Severity.warning


# ---- two-staff -------------------------------------------------------------------------

BOTH_STAFF = [person("Teacher", STAFF, 0, role="Organizer"), person("TA", STAFF, 0)]


@pytest.mark.parametrize(
    "people, at, status, words",
    [
        pytest.param(BOTH_STAFF + [person("Pupil A", PUPIL, 1)], 60, Status.passed, "at least 2 staff", id="two-staff-throughout"),
        pytest.param([person("Teacher", STAFF, 0), person("Pupil A", PUPIL, 1)], 60, Status.failed,
                     "Teacher has been alone with pupils since 09:01 and is still alone (59 min", id="one-teacher"),
        pytest.param([person("Teacher", STAFF, 0), person("Pupil A", PUPIL, 1, 30)], 60, Status.failed,
                     "Teacher was alone with pupils from 09:01 until 09:30 (29 min", id="one-teacher-until-the-pupil-left"),
        pytest.param([person("Teacher", STAFF, 0), person("Pupil A", PUPIL, 1)], 4, Status.passed, "checked again at 09:06", id="within-grace-from-first-pupil"),
        pytest.param(
            [person("Teacher", STAFF, 0), person("TA", STAFF, 0, 20), person("TA", STAFF, 23), person("Pupil A", PUPIL, 1)],
            60, Status.passed, "at least 2 staff", id="second-teacher-leaves-and-rejoins-within-grace",
        ),
        pytest.param(
            [person("Teacher", STAFF, 0), person("TA", STAFF, 0, 20), person("TA", STAFF, 26), person("Pupil A", PUPIL, 1)],
            60, Status.failed, "from 09:20 until 09:26 (6 min", id="second-teacher-back-after-grace",
        ),
        pytest.param(
            [person("Teacher", STAFF, 0), person("TA", STAFF, 0, 20), person("Pupil A", PUPIL, 1)],
            22, Status.passed, "checked again at 09:25", id="staff-drop-to-one-restarts-grace",
        ),
        pytest.param([person("Teacher", STAFF, 0)], 60, Status.passed, "no pupils", id="no-pupils"),
        pytest.param(
            [person("Teacher", STAFF, 0), person("Pupil A", PUPIL, 1, 3)], 60, Status.passed, "at least 2 staff",
            id="pupil-left-within-grace",
        ),
    ],
)
def test_two_staff(people, at, status, words):
    finding = verdict(two_staff, snap(lesson(people), at=T0 + m(at)))
    assert finding.status is status, finding.message
    assert words in finding.message


def test_two_staff_pending_gives_when_to_look_again():
    finding = verdict(two_staff, snap(lesson([person("Teacher", STAFF, 0), person("Pupil A", PUPIL, 1)]), at=T0 + m(2)))
    assert finding.recheck_at == T0 + m(6) and finding.details == {}


def test_two_staff_is_could_not_verify_for_channel_meetings_and_unsettled_rosters():
    channel = lesson([person("Teacher", STAFF, 0), person("Pupil A", PUPIL, 1)], meeting_type="ChannelScheduled")
    [finding] = [f for f in evaluate(snap(channel), POLICY) if f.rule_id == "two-staff"]
    assert finding.status is Status.could_not_verify and "channel meetings" in finding.reason
    unsettled = lesson([person("Teacher", STAFF, 0), person("Someone", UNKNOWN, 0), person("Pupil A", PUPIL, 1)],
                       roster_lookup=Lookup.could_not_verify("1 people not classified: Graph is unavailable"))
    finding = verdict(two_staff, snap(unsettled))
    assert finding.status is Status.could_not_verify and "Graph is unavailable" in finding.reason


def test_an_slt_approval_turns_the_two_staff_breach_into_info_until_it_expires():
    one_teacher = lesson([person("Teacher", STAFF, 0), person("Pupil A", PUPIL, 1)])
    current = approval("two-staff", approved=T0 - timedelta(days=3), expires=T0 + timedelta(days=30), meeting_id="meeting-1")
    [finding] = [f for f in evaluate(snap(one_teacher, exceptions=(current,)), POLICY) if f.rule_id == "two-staff"]
    assert finding.status is Status.failed and finding.severity is Severity.info
    assert "approved exception #7 by Roland Gooding until 23 December 2026" in finding.reason

    expired_yesterday = approval("two-staff", approved=T0 - timedelta(days=30), expires=T0 - timedelta(days=1), meeting_id="meeting-1")
    [finding] = [f for f in evaluate(snap(one_teacher, exceptions=(expired_yesterday,)), POLICY) if f.rule_id == "two-staff"]
    assert finding.severity is Severity.breach and finding.reason is None

    other_series = approval("two-staff", approved=T0 - timedelta(days=3), meeting_id="another-meeting")
    [finding] = [f for f in evaluate(snap(one_teacher, exceptions=(other_series,)), POLICY) if f.rule_id == "two-staff"]
    assert finding.severity is Severity.breach


# ---- operating-hours ----------------------------------------------------------------------


def at_london(text: str) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)


@pytest.mark.parametrize(
    "start, end, status, words",
    [
        pytest.param("2026-11-23T09:00", "2026-11-23T09:50", Status.passed, "within operating hours", id="monday-morning"),
        pytest.param("2026-11-23T07:30", "2026-11-23T08:20", Status.failed, "it started at 07:30, outside operating hours (08:00-16:00 on Mondays)", id="too-early"),
        pytest.param("2026-11-23T15:30", "2026-11-23T16:25", Status.failed, "it ended at 16:25, outside", id="crosses-end-of-hours"),
        pytest.param("2026-11-28T10:00", "2026-11-28T10:30", Status.failed, "Saturday is not a school day", id="saturday"),
        pytest.param("2026-11-27T10:00", "2026-11-27T10:30", Status.failed, "closure day", id="closure-day"),
        pytest.param("2026-12-22T10:00", "2026-12-22T10:30", Status.failed, "outside term time", id="holiday"),
        # The clocks went back on Sunday 25 October 2026: 07:45 UTC is 08:45 in London before, 07:45 after.
        pytest.param("2026-10-23T08:45", "2026-10-23T09:30", Status.passed, "within", id="friday-before-clock-change"),
        pytest.param("2026-10-26T07:45", "2026-10-26T08:30", Status.failed, "07:45, outside", id="monday-after-clock-change"),
    ],
)
def test_operating_hours(start, end, status, words):
    pupil = person("Pupil A", PUPIL, None)  # there from the start
    the_lesson = lesson([pupil], start=at_london(start), end=at_london(end))
    finding = verdict(operating_hours, snap(the_lesson, Moment.end, at=at_london(end)))
    assert finding.status is status, finding.message
    assert words in finding.message


@pytest.mark.parametrize("people, status, words", [
    pytest.param([person("Teacher", STAFF, None)], Status.passed, "only staff present", id="staff-meeting"),
    pytest.param([person("Teacher", STAFF, None), person("Parent", EXTERNAL, None)], Status.failed, "it started at 19:30", id="a-parent"),
    pytest.param([person("Teacher", STAFF, None), person("Someone", UNKNOWN, None)], Status.could_not_verify, "it started at 19:30",
                 id="not-yet-identified"),
])
def test_operating_hours_judge_contact_with_pupils_and_parents_only(people, status, words):
    # "Online contact with students and/or parents/carers": a staff meeting in the evening is not that.
    the_lesson = lesson(people, start=at_london("2026-11-23T19:30"), end=at_london("2026-11-23T20:15"))
    finding = verdict(operating_hours, snap(the_lesson, Moment.end, at=at_london("2026-11-23T20:15")))
    assert finding.status is status and words in finding.message


def test_operating_hours_in_utc_terms_across_the_clock_change():
    # Same UTC time, different verdicts: the rule reads the school's local clock.
    pupil = person("Pupil A", PUPIL, None)
    before = lesson([pupil], start=datetime(2026, 10, 23, 7, 45, tzinfo=UTC))  # 08:45 BST
    after = lesson([pupil], start=datetime(2026, 10, 26, 7, 45, tzinfo=UTC))  # 07:45 GMT
    assert verdict(operating_hours, snap(before, Moment.start)).status is Status.passed
    assert verdict(operating_hours, snap(after, Moment.start)).status is Status.failed


def test_a_lesson_still_running_at_closing_time_fails_at_the_check():
    running = lesson([person("Pupil A", PUPIL, None)], start=at_london("2026-11-23T15:30"))
    at_start = verdict(operating_hours, snap(running, Moment.start, at=at_london("2026-11-23T15:30")))
    assert at_start.status is Status.passed and at_start.recheck_at == at_london("2026-11-23T16:01")
    at_check = verdict(operating_hours, snap(running, Moment.grace, at=at_london("2026-11-23T16:01")))
    assert at_check.status is Status.failed and "still running at 16:01" in at_check.message


def test_operating_hours_without_hours_or_start_is_could_not_verify():
    no_hours = POLICY.model_copy(update={"hours": None})
    assert verdict(operating_hours, snap(lesson(), Moment.start), no_hours).status is Status.could_not_verify
    assert verdict(operating_hours, snap(lesson(start=None), Moment.end)).status is Status.could_not_verify


# ---- timetabled --------------------------------------------------------------------------

WEEKLY = TimetableEntry(organizer="id-teacher", class_name="7B", subject="Maths", weekday=0, starts=datetime(2026, 1, 1, 9, 5).time(),
                        ends=datetime(2026, 1, 1, 9, 55).time())


MARKED = CalendarEvent(event_id="e", categories=("Timetabled lesson",))
A_CLASS = [person("Teacher", STAFF, None), person("Pupil A", PUPIL, None)]


@pytest.mark.parametrize(
    "entries, loaded, calendar, start, people, status, words",
    [
        pytest.param((WEEKLY,), True, None, T0, A_CLASS, Status.passed, "7B Maths", id="weekly-entry-within-tolerance"),
        pytest.param((WEEKLY,), True, None, T0 + m(20), A_CLASS, Status.failed, "not on the school's timetable", id="too-far-from-timetable"),
        pytest.param((WEEKLY,), True, None, T0 + timedelta(days=1), A_CLASS, Status.failed, "Tuesday", id="wrong-day"),
        pytest.param((WEEKLY,), True, None, T0 + m(20), A_CLASS[:1], Status.passed, "only staff present", id="staff-only-meeting"),
        # Once the school's timetable is imported, the organizer's own calendar category does not count.
        pytest.param((), True, MARKED, T0, A_CLASS, Status.failed, "not on the school's timetable", id="category-but-timetable-imported"),
        pytest.param((), False, MARKED, T0, A_CLASS, Status.passed, "marked", id="calendar-category-without-timetable"),
        pytest.param((), False, CalendarEvent(event_id="e", categories=("Parents",)), T0, A_CLASS, Status.failed, "not marked",
                     id="calendar-without-category"),
    ],
)
def test_timetabled(entries, loaded, calendar, start, people, status, words):
    the_lesson = lesson(people, start=start, organizer_upn="teacher@school.example", calendar_event=calendar,
                        calendar_lookup=Lookup.ok() if calendar else Lookup.none("no calendar event"))
    finding = verdict(timetabled, snap(the_lesson, Moment.start, organizer_ids=frozenset({"id-teacher"}), timetable=entries,
                                       timetable_loaded=loaded))
    assert finding.status is status, finding.message
    assert words in finding.message


def test_timetabled_waits_for_the_organizer():
    # Teams' meeting details failed and nobody with role Organizer has joined: not 'not timetabled'.
    the_lesson = lesson(A_CLASS[1:], organizer_aad_id=None, details_lookup=Lookup.could_not_verify("meeting details: HTTP 404 NotFound"))
    [finding] = [f for f in evaluate(snap(the_lesson, Moment.start, timetable=(WEEKLY,), timetable_loaded=True), POLICY)
                 if f.rule_id == "timetabled"]
    assert finding.status is Status.could_not_verify and "HTTP 404" in finding.reason


def test_timetabled_is_could_not_verify_without_timetable_or_calendar():
    the_lesson = lesson(calendar_event=None, calendar_lookup=Lookup.could_not_verify("Graph is unavailable"))
    finding = verdict(timetabled, snap(the_lesson, Moment.start))
    assert finding.status is Status.could_not_verify and "Graph is unavailable" in finding.reason


# ---- the other checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "people, roster, status",
    [
        (BOTH_STAFF + [person("Pupil A", PUPIL, 1)], Lookup.ok(), Status.passed),
        (BOTH_STAFF + [person("Guest", EXTERNAL, 3)], Lookup.ok(), Status.failed),
        (BOTH_STAFF + [person("Someone", UNKNOWN, 3)], Lookup.could_not_verify("Graph is unavailable"), Status.could_not_verify),
    ],
)
def test_school_accounts_only(people, roster, status):
    assert verdict(school_accounts_only, snap(lesson(people, roster_lookup=roster))).status is status


@pytest.mark.parametrize(
    "presenters, people, status",
    [
        (Presenters.organizer, BOTH_STAFF, Status.passed),
        (Presenters.role_is_presenter, BOTH_STAFF, Status.passed),
        (Presenters.everyone, BOTH_STAFF, Status.failed),
        (Presenters.organizer, BOTH_STAFF + [person("Pupil A", PUPIL, 1, role="Presenter")], Status.failed),
        (Presenters.unknown, BOTH_STAFF, Status.could_not_verify),
    ],
)
def test_presenters_restricted(presenters, people, status):
    assert verdict(presenters_restricted, snap(lesson(people, meeting_settings=settings(allowed_presenters=presenters)))).status is status


@pytest.mark.parametrize(
    "mic, camera, status",
    [(False, False, Status.passed), (True, False, Status.failed), (False, True, Status.failed), (None, False, Status.could_not_verify)],
)
def test_attendee_av(mic, camera, status):
    the_lesson = lesson(meeting_settings=settings(attendee_mic_allowed=mic, attendee_camera_allowed=camera))
    assert verdict(attendee_av, snap(the_lesson, Moment.start)).status is status


@pytest.mark.parametrize(
    "chat, status",
    [(ChatMode.limited, Status.passed), (ChatMode.disabled, Status.passed), (ChatMode.enabled, Status.failed), (ChatMode.unknown, Status.could_not_verify)],
)
def test_meeting_chat(chat, status):
    finding = verdict(meeting_chat, snap(lesson(meeting_settings=settings(chat=chat)), Moment.start))
    assert finding.status is status and finding.severity is Severity.info


ONE_PUPIL = BOTH_STAFF + [person("Pupil A", PUPIL, 1)]
BOTH_CONSENTS = {"one-to-one": frozenset({"id-Pupil A"}), "remote-learning": frozenset({"id-Pupil A"})}


def one_to_one_verdicts(people, *, approvals=None, consents=BOTH_CONSENTS, record=True) -> dict:
    when = {"before": T0 - timedelta(days=1), "after": T0 + m(10)}
    exceptions = (approval("one-to-one", approved=when[approvals], meeting_id="meeting-1"),) if approvals else ()
    the_lesson = lesson(people, meeting_settings=settings(record_automatically=record))
    findings = evaluate(snap(the_lesson, Moment.end, exceptions=exceptions, consents=consents), POLICY)
    return {f.rule_id: f for f in findings if f.rule_id.startswith("one-to-one")}


@pytest.mark.parametrize(
    "people, approvals, consents, record, expected",
    [
        pytest.param(ONE_PUPIL, "before", BOTH_CONSENTS, True, {}, id="all-in-place"),
        pytest.param(ONE_PUPIL, None, BOTH_CONSENTS, True, {"one-to-one": "without prior SLT approval"}, id="no-approval"),
        pytest.param(ONE_PUPIL, "after", BOTH_CONSENTS, True, {"one-to-one": "without prior SLT approval"}, id="approved-only-afterwards"),
        # Approving the session waives none of what else it needs.
        pytest.param(ONE_PUPIL, "before", {"one-to-one": frozenset()}, True, {"one-to-one-consent": "written parental consent"}, id="no-consent"),
        pytest.param(ONE_PUPIL[1:], "before", BOTH_CONSENTS, True, {"one-to-one-adults": "with only TA (2 adults required)"}, id="one-adult"),
        pytest.param(ONE_PUPIL, "before", BOTH_CONSENTS, False, {"one-to-one-recorded": "not set to record"}, id="not-recorded"),
        pytest.param(ONE_PUPIL[1:], "before", {"one-to-one": frozenset()}, False,
                     {"one-to-one-consent": "consent", "one-to-one-adults": "only TA", "one-to-one-recorded": "record"}, id="all-three"),
        pytest.param(BOTH_STAFF + [person("Pupil A", PUPIL, 1), person("Pupil B", PUPIL, 1)], None, None, True, {}, id="a-class"),
    ],
)
def test_one_to_one_each_requirement_has_its_own_verdict(people, approvals, consents, record, expected):
    verdicts = one_to_one_verdicts(people, approvals=approvals, consents=consents, record=record)
    assert set(verdicts) == {"one-to-one", "one-to-one-consent", "one-to-one-adults", "one-to-one-recorded"}
    failed = {rule: f.message for rule, f in verdicts.items() if f.status is Status.failed}
    assert set(failed) == set(expected), failed
    for rule, words in expected.items():
        assert words in failed[rule]
        assert verdicts[rule].severity is Severity.breach


def test_a_late_approval_is_shown_but_the_one_to_one_breach_stands():
    finding = one_to_one_verdicts(ONE_PUPIL, approvals="after")["one-to-one"]
    assert finding.status is Status.failed and finding.severity is Severity.breach
    assert finding.reason.startswith("approved afterwards by Roland Gooding at 09:10 on 23 November 2026")


def test_one_to_one_is_judged_by_who_was_present_at_the_same_time():
    # Pupil A alone with staff for 10 minutes, then Pupil B joins: still a one-to-one spell.
    later_visitor = BOTH_STAFF + [person("Pupil A", PUPIL, 1), person("Pupil B", PUPIL, 11)]
    finding = one_to_one_verdicts(later_visitor)["one-to-one"]
    assert finding.status is Status.failed and "with Pupil A from 09:01 until 09:11 (10 min)" in finding.message
    # Under five minutes alone is not a one-to-one session.
    brief = BOTH_STAFF + [person("Pupil A", PUPIL, 1), person("Pupil B", PUPIL, 4)]
    assert one_to_one_verdicts(brief)["one-to-one"].status is Status.passed
    # Two pupils who never overlapped: each spell counts.
    in_turn = BOTH_STAFF + [person("Pupil A", PUPIL, 1, 20), person("Pupil B", PUPIL, 20, 40)]
    assert "with Pupil A from 09:01 until 09:20" in one_to_one_verdicts(in_turn)["one-to-one"].message


def test_one_to_one_waits_for_people_not_yet_identified():
    people = BOTH_STAFF + [person("Pupil A", PUPIL, 1), person("Someone", UNKNOWN, 1)]
    the_lesson = lesson(people, roster_lookup=Lookup.could_not_verify("1 people not classified: Graph is unavailable"))
    [finding] = [f for f in evaluate(snap(the_lesson, Moment.end), POLICY) if f.rule_id == "one-to-one"]
    assert finding.status is Status.could_not_verify and "1 people not yet identified" in finding.reason


@pytest.mark.parametrize(
    "required, people, record, status",
    [
        (False, ONE_PUPIL + [person("Pupil B", PUPIL, 1)], False, Status.passed),
        (True, ONE_PUPIL + [person("Pupil B", PUPIL, 1)], False, Status.failed),
        (True, ONE_PUPIL + [person("Pupil B", PUPIL, 1)], True, Status.passed),
        (False, ONE_PUPIL, False, Status.passed),  # one-to-one sessions: one-to-one-recorded
        (True, ONE_PUPIL, None, Status.could_not_verify),
    ],
)
def test_recording(required, people, record, status):
    policy = POLICY.model_copy(update={"rules": {"recording": {"required": required}}})
    the_lesson = lesson(people, meeting_settings=settings(record_automatically=record))
    assert verdict(recording, snap(the_lesson, Moment.end), policy).status is status


@pytest.mark.parametrize(
    "broadcast, approved, status",
    [(False, False, Status.passed), (True, False, Status.failed), (True, True, Status.passed)],
)
def test_live_stream_approval(broadcast, approved, status):
    exceptions = (approval("live-stream-approval", approved=T0 - timedelta(days=2), meeting_id="meeting-1"),) if approved else ()
    the_lesson = lesson(meeting_settings=settings(is_broadcast=broadcast))
    assert verdict(live_stream_approval, snap(the_lesson, Moment.start, exceptions=exceptions)).status is status


@pytest.mark.parametrize(
    "consents, status",
    [
        ({"remote-learning": frozenset({"id-Pupil A", "id-Pupil B"})}, Status.passed),
        ({"remote-learning": frozenset({"id-Pupil A"})}, Status.failed),
        (None, Status.could_not_verify),
    ],
)
def test_parental_consent(consents, status):
    the_lesson = lesson(BOTH_STAFF + [person("Pupil A", PUPIL, 1), person("Pupil B", PUPIL, 2)])
    finding = verdict(parental_consent, snap(the_lesson, consents=consents))
    assert finding.status is status
    if status is Status.failed:
        assert "Pupil B" in finding.message and "Pupil A" not in finding.message


@pytest.mark.parametrize(
    "signed, status",
    [(frozenset({"id-Teacher", "id-TA"}), Status.passed), (frozenset({"id-Teacher"}), Status.failed), (None, Status.could_not_verify)],
)
def test_aup_signed(signed, status):
    assert verdict(aup_signed, snap(lesson(BOTH_STAFF), aup_signed=signed)).status is status


def test_only_enabled_rules_for_the_moment_are_evaluated():
    policy = POLICY.model_copy(update={"rules": {"meeting-chat": {"enabled": False}}})
    start_ids = {f.rule_id for f in evaluate(snap(lesson(), Moment.start), policy)}
    assert "meeting-chat" not in start_ids and "waiting-room" in start_ids and "two-staff" not in start_ids
    assert "one-to-one" not in start_ids
    roster_ids = {f.rule_id for f in evaluate(snap(lesson(BOTH_STAFF), Moment.roster), policy)}
    assert "two-staff" in roster_ids and "one-to-one" in roster_ids and "meeting-chat" not in roster_ids


# ---- the rest of the AUP ------------------------------------------------------------------

A_CLASS_INVITED = CalendarEvent(event_id="e", categories=("Timetabled lesson",), attendees=("id-pupil a", "ta@school.example"),
                                body_text="Cameras off, microphones muted, chat for questions only.")


def invited_people(*ids: str) -> tuple:
    from domain.meeting import InvitedPerson

    return tuple(InvitedPerson(aad_object_id=i) for i in ids)


@pytest.mark.parametrize(
    "people, calendar, invited, status, words",
    [
        pytest.param(BOTH_STAFF + [person("Pupil A", PUPIL, 1)], A_CLASS_INVITED, (), Status.passed, "was invited", id="invited-by-calendar"),
        pytest.param(BOTH_STAFF + [person("Pupil B", PUPIL, 1)], None, ("id-Pupil B",), Status.passed, "was invited", id="invited-by-meeting"),
        pytest.param(BOTH_STAFF + [person("Pupil A", PUPIL, 1), person("Pupil C", PUPIL, 3)], A_CLASS_INVITED, (), Status.failed,
                     "1 person joined without being invited: Pupil C", id="a-pupil-with-the-link"),
        pytest.param(BOTH_STAFF + [person("Pupil A", PUPIL, 1), person("Guest", EXTERNAL, 3)], A_CLASS_INVITED, (), Status.failed,
                     "Guest", id="a-guest"),
        # Staff of the school drop in uninvited: "a member of SLT ... is able to drop in at any time".
        pytest.param(BOTH_STAFF + [person("Pupil A", PUPIL, 1), person("Head of Year", STAFF, 5)], A_CLASS_INVITED, (), Status.passed,
                     "was invited", id="slt-dropping-in"),
        pytest.param(BOTH_STAFF + [person("Pupil A", PUPIL, 1)], None, (), Status.could_not_verify, "no invitees", id="no-invite-list"),
    ],
)
def test_invited_only(people, calendar, invited, status, words):
    from rules import invited_only

    the_lesson = lesson(people, calendar_event=calendar, meeting_settings=settings(invited=invited_people(*invited)))
    finding = verdict(invited_only, snap(the_lesson, organizer_ids=frozenset({"id-teacher"})))
    assert finding.status is status, finding.message
    assert words in (finding.message + (finding.reason or ""))


@pytest.mark.parametrize(
    "calendar, lookup, people, phrases, status, words",
    [
        pytest.param(A_CLASS_INVITED, Lookup.ok(), A_CLASS, (), Status.passed, "2 attendees", id="sent"),
        pytest.param(A_CLASS_INVITED, Lookup.ok(), A_CLASS, ("camera", "where to sit"), Status.failed, "'where to sit'", id="missing-phrase"),
        pytest.param(A_CLASS_INVITED.model_copy(update={"body_text": ""}), Lookup.ok(), A_CLASS, (), Status.failed, "says nothing",
                     id="empty-body"),
        pytest.param(A_CLASS_INVITED.model_copy(update={"attendees": ()}), Lookup.ok(), A_CLASS, (), Status.failed, "sent to nobody",
                     id="nobody-invited"),
        pytest.param(None, Lookup.none("no calendar event"), A_CLASS, (), Status.failed, "no invitation was sent", id="meet-now"),
        pytest.param(None, Lookup.none("no calendar event"), A_CLASS[:1], (), Status.passed, "only staff present", id="staff-meeting"),
        pytest.param(None, Lookup.could_not_verify("Graph denied access"), A_CLASS, (), Status.could_not_verify, "Graph denied",
                     id="calendar-unreadable"),
        pytest.param(A_CLASS_INVITED.model_copy(update={"body_text": None}), Lookup.ok(), A_CLASS, (), Status.could_not_verify,
                     "did not report", id="body-not-reported"),
    ],
)
def test_invitation_sent(calendar, lookup, people, phrases, status, words):
    from rules import invitation_sent

    policy = POLICY.model_copy(update={"rules": {"invitation-sent": {"required_phrases": list(phrases)}}})
    finding = verdict(invitation_sent, snap(lesson(people, calendar_event=calendar, calendar_lookup=lookup),
                                            organizer_ids=frozenset({"id-teacher"})), policy)
    assert finding.status is status, finding.message
    assert words in (finding.message + (finding.reason or ""))


DROP_IN_POLICY = parse_policy(
    '[school]\nname = "S"\n[[people.slt]]\nname = "Head"\naad_object_id = "slt-1"\n[[people.dsl]]\nname = "DSL"\naad_object_id = "dsl-1"\n'
)


@pytest.mark.parametrize(
    "scope, invited, status, words",
    [
        (LobbyScope.organization_excluding_guests, (), Status.passed, "school's staff bypass"),
        (LobbyScope.invited, ("slt-1", "dsl-1"), Status.passed, "are invited"),
        (LobbyScope.invited, ("slt-1",), Status.failed, "DSL would wait"),
        (LobbyScope.organizer, ("slt-1", "dsl-1"), Status.failed, "only 'organizer'"),
        (LobbyScope.unknown, (), Status.could_not_verify, "does not know"),
    ],
)
def test_drop_in_possible(scope, invited, status, words):
    from rules import drop_in_possible

    the_lesson = lesson(meeting_settings=settings(lobby_scope=scope, invited=invited_people(*invited)))
    finding = verdict(drop_in_possible, snap(the_lesson, Moment.start), DROP_IN_POLICY)
    assert finding.status is status and words in finding.message
    assert finding.severity is Severity.info  # the teacher can still let SLT in: information, not a breach


@pytest.mark.parametrize(
    "kinds, on_file, record, status, words",
    [
        pytest.param({"image"}, {"id-Pupil A"}, True, Status.passed, "image consent on file", id="consented"),
        pytest.param({"image"}, set(), True, Status.failed, "no image consent on file for Pupil A", id="no-consent"),
        pytest.param({"image"}, set(), False, Status.passed, "not set to record", id="not-recorded"),
        pytest.param(set(), set(), True, Status.could_not_verify, "import-image-consent", id="no-register"),
        pytest.param({"image"}, set(), None, Status.could_not_verify, "images were recorded", id="settings-unknown"),
    ],
)
def test_image_consent(kinds, on_file, record, status, words):
    from rules import image_consent

    the_lesson = lesson(ONE_PUPIL, meeting_settings=settings(record_automatically=record))
    finding = verdict(image_consent, snap(the_lesson, consents={"image": frozenset(on_file)}, consent_kinds=frozenset(kinds)))
    assert finding.status is status, finding.message
    assert words in (finding.message + (finding.reason or ""))


@pytest.mark.parametrize(
    "kinds, on_file, status",
    [({"pupil-aup"}, {"id-Pupil A"}, Status.passed), ({"pupil-aup"}, set(), Status.failed), (set(), set(), Status.could_not_verify)],
)
def test_pupil_aup_agreement(kinds, on_file, status):
    from rules import pupil_aup_agreement

    finding = verdict(pupil_aup_agreement, snap(lesson(ONE_PUPIL), consents={"pupil-aup": frozenset(on_file)}, consent_kinds=frozenset(kinds)))
    assert finding.status is status


def a_recording(rid: str, tenant: str):
    from domain.meeting import Recording

    return Recording(recording_id=rid, created=T0 + m(50), tenant_id=tenant)


@pytest.mark.parametrize(
    "people, required, recordings, lookup, status, words",
    [
        pytest.param(ONE_PUPIL, False, [a_recording("r", "t")], Lookup.ok(), Status.passed, "kept in the school's tenant", id="one-to-one-kept"),
        pytest.param(ONE_PUPIL, False, [], Lookup.ok(), Status.failed, "no recording of the lesson was kept; one-to-one", id="one-to-one-missing"),
        pytest.param(ONE_PUPIL, False, [a_recording("r", "another-tenant")], Lookup.ok(), Status.failed, "outside the school's tenant",
                     id="held-elsewhere"),
        pytest.param(ONE_PUPIL, False, None, Lookup.pending("no recording listed yet"), Status.could_not_verify, "no recording listed yet",
                     id="still-processing"),
        pytest.param(ONE_PUPIL, False, None, Lookup.could_not_verify("Graph denied access"), Status.could_not_verify, "Graph denied",
                     id="no-permission"),
        pytest.param(A_CLASS + [person("Pupil B", PUPIL, None)], False, [], Lookup.ok(), Status.passed, "no recording is required", id="a-class"),
        pytest.param(A_CLASS + [person("Pupil B", PUPIL, None)], True, [], Lookup.ok(), Status.failed, "school requires", id="school-requires"),
    ],
)
def test_recording_kept(people, required, recordings, lookup, status, words):
    from rules import recording_kept

    school = POLICY.school.model_copy(update={"tenant_id": "t"})
    policy = POLICY.model_copy(update={"school": school, "rules": {"recording": {"required": required}}})
    the_lesson = lesson(people, end=T0 + m(50), recordings=recordings, recordings_lookup=lookup)
    finding = verdict(recording_kept, snap(the_lesson, Moment.report, at=T0 + m(50)), policy)
    assert finding.status is status, finding.message
    assert words in (finding.message + (finding.reason or ""))


def test_only_the_dsl_approves_what_the_policy_reserves_for_them():
    policy = parse_policy('[school]\nname = "S"\n[[people.slt]]\nname = "Head"\naad_object_id = "slt-1"\n'
                          '[[people.dsl]]\nname = "DSL"\naad_object_id = "dsl-1"\n')
    assert policy.approval_refused("dsl-1", "school-accounts-only") is None
    assert "only the DSL" in policy.approval_refused("slt-1", "school-accounts-only")
    assert policy.approval_refused("slt-1", "two-staff") is None
    assert "only SLT and the DSL" in policy.approval_refused("teacher-1", "two-staff")


@pytest.mark.parametrize(
    "device, lookup, status, words",
    [
        ({"managed": True, "description": "Windows 11, Teams"}, Lookup.ok(), Status.passed, "school-managed device (Windows 11, Teams)"),
        ({"managed": False, "description": "iOS"}, Lookup.ok(), Status.failed, "does not manage (iOS)"),
        (None, Lookup.none("no Teams sign-in found"), Status.could_not_verify, "no Teams sign-in"),
        (None, Lookup.could_not_verify("Graph denied access"), Status.could_not_verify, "Graph denied"),
    ],
)
def test_managed_device(device, lookup, status, words):
    from domain.meeting import OrganizerDevice
    from rules import managed_device

    the_lesson = lesson(organizer_device=OrganizerDevice(**device) if device else None, organizer_device_lookup=lookup)
    finding = verdict(managed_device, snap(the_lesson, Moment.start))
    assert finding.status is status and words in (finding.message + (finding.reason or ""))
    assert finding.severity is Severity.info


def test_staff_pupil_chats_lists_who_and_when_of_recent_chats_only():
    from domain.chats import ChatMember, StaffPupilChat
    from rules import staff_pupil_chats

    teacher, pupil = ChatMember(aad_object_id="t", name="Ms Okafor"), ChatMember(aad_object_id="p", name="Pupil Alex")
    recent = StaffPupilChat(staff=teacher, pupil=pupil, created=T0 - timedelta(days=30), last_activity=T0 - timedelta(days=2))
    old = StaffPupilChat(staff=teacher, pupil=pupil.model_copy(update={"name": "Pupil Bea"}), created=T0 - timedelta(days=90),
                         last_activity=T0 - timedelta(days=40))
    finding = staff_pupil_chats.judge([recent, old], T0 - timedelta(days=7), POLICY)
    assert finding.status is Status.failed and finding.message == "1 one-to-one chat between staff and pupils active since 16 November"
    assert [(c["staff"], c["pupil"]) for c in finding.details["chats"]] == [("Ms Okafor", "Pupil Alex")]
    assert staff_pupil_chats.judge([old], T0 - timedelta(days=7), POLICY).status is Status.passed
    assert not staff_pupil_chats.RULE.options_for(POLICY).enabled  # the school turns it on after its DPIA


def test_an_invitation_made_through_the_meetings_participants_counts():
    from rules import invitation_sent

    by_meeting = A_CLASS_INVITED.model_copy(update={"attendees": ()})
    the_lesson = lesson(A_CLASS, calendar_event=by_meeting, meeting_settings=settings(invited=invited_people("id-pupil a", "ta-1")))
    finding = verdict(invitation_sent, snap(the_lesson, organizer_ids=frozenset({"id-teacher"})))
    assert finding.status is Status.passed and "2 attendees" in finding.message


def test_a_pupil_alone_now_is_looked_at_again_when_it_would_become_a_one_to_one_session():
    alone_since_10 = BOTH_STAFF + [person("Pupil A", PUPIL, 1, 10), person("Pupil B", PUPIL, 1)]  # Pupil B alone from 09:10
    verdicts = {f.rule_id: f for f in evaluate(snap(lesson(alone_since_10), Moment.roster, at=T0 + m(12)), POLICY)}
    assert verdicts["one-to-one"].status is Status.passed and verdicts["one-to-one"].recheck_at == T0 + m(15)
    # Pupil B has been alone since 09:05 (Pupil A left then); at 09:12 that is a one-to-one session already.
    verdicts = {f.rule_id: f for f in evaluate(snap(lesson(BOTH_STAFF + [person("Pupil A", PUPIL, 1, 5), person("Pupil B", PUPIL, 1)]),
                                                     Moment.roster, at=T0 + m(12)), POLICY)}
    assert verdicts["one-to-one"].status is Status.failed


def test_last_weeks_recording_of_a_recurring_meeting_does_not_count():
    from rules import recording_kept

    school = POLICY.school.model_copy(update={"tenant_id": "t"})
    policy = POLICY.model_copy(update={"school": school})
    last_week = a_recording("r", "t").model_copy(update={"created": T0 - timedelta(days=7)})
    the_lesson = lesson(ONE_PUPIL, end=T0 + m(50), recordings=[last_week], recordings_lookup=Lookup.ok())
    finding = verdict(recording_kept, snap(the_lesson, Moment.report, at=T0 + m(50)), policy)
    assert finding.status is Status.failed and "no recording of the lesson was kept" in finding.message
