"""Timetable and consent imports: every bad row reported with its line, nothing half-imported."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

import pytest

from importers.common import ImportProblems
from importers.consent import parse_consents
from importers.timetable import parse_timetable

LONDON = ZoneInfo("Europe/London")


def test_a_good_csv_timetable_is_read_with_where_each_entry_came_from():
    text = (
        "Organizer,Class,Subject,Day,Start,End,Valid_From,Valid_To\n"
        "mstrange@valence.example,7B,Maths,Monday,09:00,09:50,2026-09-03,2026-12-18\n"
        "\n"
        "00000000-0000-4000-8000-00000000a002,8A,English,2026-11-24,10:00,10:45,,\n"
    )
    (weekly, where1), (one_off, where2) = parse_timetable(text, "tt.csv", LONDON)
    assert weekly.organizer == "mstrange@valence.example" and weekly.weekday == 0 and weekly.starts == time(9, 0)
    assert weekly.valid_to == date(2026, 12, 18) and where1 == "tt.csv:2"
    assert one_off.on_date == date(2026, 11, 24) and one_off.weekday is None and where2 == "tt.csv:4"


def test_bad_rows_are_all_reported_with_line_numbers():
    text = (
        "organizer,class,subject,day,start,end\n"
        "a@b,7B,Maths,Monday,09:00,09:50\n"
        ",7C,Maths,Monday,09:00,09:50\n"
        "a@b,7D,Maths,Funday,09:00,09:50\n"
        "a@b,7E,Maths,Tuesday,9am,09:50\n"
        "a@b,7F,Maths,Tuesday,10:00,09:50\n"
    )
    with pytest.raises(ImportProblems) as error:
        parse_timetable(text, "tt.csv", LONDON)
    assert error.value.problems == [
        "line 3: organizer is empty",
        "line 4: day 'Funday' is neither a weekday (Mon, Monday) nor a date (YYYY-MM-DD or DD/MM/YYYY)",
        "line 5: start '9am' is not a time (HH:MM)",
        "line 6: end 09:50 is not after start 10:00",
    ]
    assert "nothing imported" in str(error.value)


def test_a_missing_column_is_reported():
    with pytest.raises(ImportProblems, match="line 1: missing column.*start"):
        parse_timetable("organizer,class,subject,day,end\n", "tt.csv", LONDON)


def test_an_icalendar_timetable_with_weekly_lessons():
    text = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//MIS//Timetable//EN",
            "BEGIN:VEVENT",
            "UID:1",
            "SUMMARY:Maths",
            "LOCATION:7B",
            "ORGANIZER:mailto:MStrange@valence.example",
            "DTSTART:20260907T080000Z",
            "DTEND:20260907T085000Z",
            "RRULE:FREQ=WEEKLY;UNTIL=20261218T235959Z",
            "END:VEVENT",
            "BEGIN:VEVENT",
            "UID:2",
            "SUMMARY:No organizer",
            "DTSTART:20260907T100000Z",
            "DTEND:20260907T105000Z",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    with pytest.raises(ImportProblems) as error:
        parse_timetable(text, "tt.ics", LONDON)
    assert error.value.problems == ["line 13: ORGANIZER is required (the teacher's email)"]
    good = text.split("BEGIN:VEVENT\r\nUID:2")[0] + "END:VCALENDAR\r\n"
    [(entry, where)] = parse_timetable(good, "tt.ics", LONDON)
    # 08:00 UTC in September is 09:00 in London.
    assert entry.organizer == "mstrange@valence.example" and entry.weekday == 0 and entry.starts == time(9, 0)
    assert entry.valid_from == date(2026, 9, 7) and entry.valid_to == date(2026, 12, 18) and where == "tt.ics:4"


def test_consents():
    text = "pupil,kind,given_on,expires_on\nalex@school,remote-learning,2026-09-05,\nbea@school,one-to-one,,2027-07-21\n"
    consents = parse_consents(text, "c.csv")
    assert [(c.person, c.kind, c.expires_on) for c, _ in consents] == [
        ("alex@school", "remote-learning", None),
        ("bea@school", "one-to-one", date(2027, 7, 21)),
    ]
    with pytest.raises(ImportProblems) as error:
        parse_consents("pupil,kind\nalex@school,photo-permission\n", "c.csv")
    assert error.value.problems == ["line 2: kind 'photo-permission' is not one of remote-learning, one-to-one, pupil-aup, image"]


# --- Timetables as schools export them -----------------------------------------------------


def test_mis_column_names_uk_spelling_and_short_day_names_are_read():
    text = ("Organiser,Teaching Group,Subject,Day of Week,Start Time,End Time,Start Date,End Date\r\n"
            "l.kavanagh@valence.example,7B,Maths,Mon,09:00,09.50,2026-09-07,2026-12-18\r\n"
            "l.kavanagh@valence.example,8C,Science,TUESDAY,10:00,10:50,,\r\n"
            "m.strange@valence.example,9A,PSHE,Thurs,13:00,13:45,,\r\n"
            "m.strange@valence.example,9A,Trip,04/12/2026,13:00,15:00,,\r\n")
    entries = [e for e, _ in parse_timetable(text, "sims.csv", LONDON)]
    assert [e.weekday for e in entries] == [0, 1, 3, None]
    assert entries[0].organizer == "l.kavanagh@valence.example" and entries[0].class_name == "7B"
    assert entries[0].ends == time(9, 50) and entries[0].valid_to == date(2026, 12, 18)
    assert entries[3].on_date == date(2026, 12, 4)  # DD/MM/YYYY, as the UK writes it


def test_a_missing_column_is_named_by_chaperone_s_name():
    with pytest.raises(ImportProblems) as error:
        parse_timetable("Teacher,Group,Subject,Day,Start Time\nx@y,7B,Maths,Mon,09:00\n", "tt.csv", LONDON)
    assert "missing column(s): end" in error.value.problems[0]


def ics(*event_lines: str) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//MIS//EN", "BEGIN:VEVENT", "UID:1", "SUMMARY:Maths",
                        "ORGANIZER:mailto:t@valence.example", *event_lines, "END:VEVENT", "END:VCALENDAR", ""])


def test_a_fortnightly_two_day_recurrence_is_expanded_into_its_dated_lessons():
    text = ics("DTSTART;TZID=Europe/London:20260907T090000", "DTEND;TZID=Europe/London:20260907T095000",
               "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20261007T235959Z", "EXDATE;TZID=Europe/London:20260921T090000")
    entries = [e for e, _ in parse_timetable(text, "tt.ics", LONDON)]
    assert [e.on_date for e in entries] == [date(2026, 9, 7), date(2026, 9, 9), date(2026, 9, 23),
                                             date(2026, 10, 5), date(2026, 10, 7)]  # 21 Sept excluded
    assert all(e.weekday is None and e.starts == time(9, 0) and e.ends == time(9, 50) for e in entries)


def test_a_count_limited_daily_recurrence_keeps_its_wall_clock_time_across_the_clock_change():
    text = ics("DTSTART;TZID=Europe/London:20261023T160000", "DTEND;TZID=Europe/London:20261023T170000",
               "RRULE:FREQ=DAILY;COUNT=4")
    entries = [e for e, _ in parse_timetable(text, "tt.ics", LONDON)]
    assert [e.on_date.day for e in entries] == [23, 24, 25, 26] and {e.starts for e in entries} == {time(16, 0)}
