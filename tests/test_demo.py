"""The README's demo command works and tells the truth about the morning it follows."""

from __future__ import annotations

from demo.morning import SCENARIOS, run_demo


async def test_the_demo_follows_every_lesson_and_redelivery_changes_nothing(capsys, sqlite_url):
    assert await run_demo(database_url=sqlite_url) == 0
    report = capsys.readouterr().out
    for scenario in SCENARIOS:
        assert scenario.meeting.title in report
        assert scenario.expect in report
    assert "Year 9 Science (9C)" in report and "Mr Tom Hale            Presenter  unknown  11:01-11:20  19 min" in report
    assert "Visiting Speaker       Attendee   external 11:30-11:40" in report
    assert "register unchanged" in report
    assert "SLT alert channel: 19:demo-slt-alerts@thread.tacv2 (set by Roland Gooding)" in report
