"""Smoke: a two-school trust places lessons by staff group and judges each by its school's hours."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.findings import Status
from domain.placement import Placement

from .helpers import BROOK_PUPIL, BROOK_READING, BROOK_TEACHER, MATHS, PUPIL_A, T0, TEACHER, minutes

pytestmark = pytest.mark.e2e


async def test_each_school_judges_its_own_lesson_by_its_own_hours(trust_app, connector, graph):
    # 16:00 on a Monday: inside Valence's hours (08:00-17:00), after Brook's (08:30-15:30).
    at = T0 + timedelta(hours=7)
    for meeting in (MATHS, BROOK_READING):
        connector.add_meeting(meeting.id, meeting.info(at, at + minutes(40)))
    teams = trust_app.teams
    await trust_app.post_all([
        teams.meeting_start(MATHS, at), teams.join(MATHS, [TEACHER, PUPIL_A], at + minutes(1)),
        teams.meeting_start(BROOK_READING, at), teams.join(BROOK_READING, [BROOK_TEACHER, BROOK_PUPIL], at + minutes(1)),
    ])
    lessons = {l.meeting_id: l for l in await trust_app.services.lessons.list_lessons()}
    maths, reading = lessons[MATHS.id], lessons[BROOK_READING.id]
    assert (maths.school_id, maths.placement) == ("valence", Placement.staff_group)
    assert (reading.school_id, reading.placement) == ("brook", Placement.staff_group)
    hours = {l.id: {f.rule_id: f for f in await trust_app.services.findings.for_lesson(l.id)}["operating-hours"] for l in (maths, reading)}
    assert hours[maths.id].status is Status.passed
    assert hours[reading.id].status is Status.failed
