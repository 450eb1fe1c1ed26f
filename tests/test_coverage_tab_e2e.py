"""The record tab's Today page shows the day's coverage to SLT (issue 16): sessions with pupils,
followed live, seen only afterwards, could not enrol; an unmonitored session is marked as such.
A teacher sees neither the school's coverage nor other teachers' sessions."""

from __future__ import annotations

import pytest

from .helpers import PUPIL_A, SLT, T0, TA, TEACHER, minutes, staff_and_pupils, tab_get as get, tab_token

pytestmark = pytest.mark.e2e


async def test_today_shows_slt_the_days_coverage_and_marks_the_unmonitored_session(tab_app, graph, entra):
    staff_and_pupils(graph, staff=(TEACHER, TA), pupils=(PUPIL_A,))
    start, end = T0 + minutes(300), T0 + minutes(320)
    graph.add_call_record("2f1a1ad5-0000-4000-8000-0000000000e6", kind="peerToPeer",
                          organizer=(TEACHER.aad_object_id, TEACHER.name, TEACHER.tenant_id), start=start, end=end,
                          participants=[(p.aad_object_id, p.name, p.tenant_id, start, end) for p in (TEACHER, PUPIL_A)])
    assert (await tab_app.services.unmonitored.process("2f1a1ad5-0000-4000-8000-0000000000e6")).value == "unmonitored"

    status, body, _ = await get(tab_app, "/tab/api/today?date=2026-11-23", tab_token(entra, SLT.aad_object_id, SLT.name))
    assert status == 200
    assert "<h2>Coverage</h2>" in body
    assert ("<strong>2</strong> sessions with pupils · <strong>1</strong> followed live · "
            "<strong>1</strong> seen only afterwards (unmonitored)") in body
    assert "Direct call (not followed live)" in body and "unmonitored" in body

    status, body, _ = await get(tab_app, "/tab/api/today?date=2026-11-23", tab_token(entra, TA.aad_object_id, TA.name))
    assert status == 200 and "<h2>Coverage</h2>" not in body
