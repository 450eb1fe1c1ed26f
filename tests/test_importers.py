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
        "line 4: day 'Funday' is neither a weekday name nor a date (YYYY-MM-DD)",
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
