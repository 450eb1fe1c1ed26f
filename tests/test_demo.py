"""The README's demo command works and tells the truth about the morning it follows."""

from __future__ import annotations

import pytest

from demo.morning import SCENARIOS, run_demo

pytestmark = pytest.mark.e2e  # the demo starts the app and the stand-ins


async def test_the_demo_follows_every_lesson_and_redelivery_changes_nothing(capsys, sqlite_url):
    assert await run_demo(database_url=sqlite_url) == 0
    report = capsys.readouterr().out
    for scenario in SCENARIOS:
        assert scenario.meeting.title in report
        assert scenario.expect in report
    assert "Mr Tom Hale            Presenter  staff    11:01-11:20  19 min" in report
    assert "Pupil Fay              Attendee   pupil    11:02-11:55  53 min  (from Graph's report)" in report
    assert "settings (Graph): lobby bypass everyone" in report
    assert "calendar: no calendar event" in report
    assert "settings (Graph): could not verify: meeting settings: Graph denied access" in report
    assert "Visiting Speaker       Attendee   external 11:30-11:40" in report
    assert "register unchanged" in report
    # Issue 16: lessons enrolled by Chaperone's own sweep, and one session found only afterwards.
    assert "Enrolment: the 07:00 sweep installed Chaperone in 7 lessons' meeting chats (nobody had to add it)" in report
    assert "UNMONITORED: seen only afterwards, in Graph's call record" in report
    assert "Pupil Fay              Attendee   pupil    16:50-17:02  12 min  (from the call record)" in report
    assert "BREACH one-to-one: one-to-one session with Pupil Fay" in report
    assert "SLT alert channel: 19:demo-slt-alerts@thread.tacv2 (set by Roland Gooding)" in report
