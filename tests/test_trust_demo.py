"""`python app.py demo --trust` works and tells the truth about the trust's day: each lesson
placed in its school (staff group, timetable, class team) or flagged 'school unknown', each
judged by its school's policy, and each school's alerts in that school's own channel."""

from __future__ import annotations

import pytest

from demo.trust import CHANNELS, SCENARIOS, run_trust_demo

pytestmark = pytest.mark.e2e  # the demo starts the app and the stand-ins


async def test_the_trust_demo_places_each_lesson_and_posts_each_schools_alerts_in_its_own_channel(capsys, sqlite_url):
    code = await run_trust_demo(database_url=sqlite_url)
    report = capsys.readouterr().out
    for scenario in SCENARIOS:
        assert scenario.meeting.title in report
        assert scenario.expect in report
    # Where each lesson was placed, and why.
    assert "school: Valence School (staff-group: the organizer is in Valence School's staff group)" in report
    assert "school: Brook Primary School (staff-group: the organizer is in Brook Primary School's staff group)" in report
    assert "school: Valence School (timetable: the lesson is on Valence School's timetable)" in report
    assert "school: Brook Primary School (class-team: the lesson's class team is Brook Primary School's)" in report
    assert ("SCHOOL UNKNOWN: the organizer is in the staff groups of Brook Primary School, Valence School; "
            "no school's timetable has it") in report
    assert "kept under and judged by Riverside Learning Trust's default policy (trust); flagged for Helen Ward" in report
    # Each judged by its own school's policy: 15:45 is after Brook's hours, not Valence's.
    assert "BREACH operating-hours: it started at 15:45, outside operating hours (08:30-15:30 on Mondays)" in report
    assert "BREACH two-staff: Ms Amara Okafor was alone with pupils from 11:20 until 11:55" in report
    assert "BREACH two-staff: Mr Sam Reid was alone with pupils from 12:17 until 12:45" in report
    assert "(Mr Reid's calendar once)" in report
    assert "register unchanged" in report
    # Each school's SLT chose its own channel, and each school's alerts went there (H1's part).
    valence, brook, trust = (CHANNELS[s][1] for s in ("valence", "brook", "trust"))
    assert f"Valence School alert channel: {valence} (set by Roland Gooding)" in report
    assert f"Brook Primary School alert channel: {brook} (set by Priya Shah)" in report
    assert f"Riverside Learning Trust (the trust's leads) alert channel: {trust} (set by Helen Ward)" in report
    assert f"Breach in Year 9 Science (Valence) -> Valence School's channel {valence}\n" in report
    assert f"Breach in Year 5 Homework club (Brook) -> Brook Primary School's channel {brook}\n" in report
    assert f"Breach in Chess club drop-in -> Riverside Learning Trust leads' channel {trust}\n" in report
    assert "Each alert in its own school's channel: yes" in report
    assert code == 0
