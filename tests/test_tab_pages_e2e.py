"""The tab's Review, Staff AUP and Concerns pages over HTTP, with Teams single sign-on tokens from
the Entra stand-in: what each shows after a real lesson, their CSVs, and the DSL's handling of a
concern (seen, closed with a note), which no one else may do."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from .helpers import DSL_ID, MATHS, PUPIL_A, SLT, TA, TEACHER, rows, tab_get as get, tab_token

pytestmark = pytest.mark.e2e

NOVEMBER = "from=2026-11-01&to=2026-11-30"


async def acknowledge_the_alert(app) -> None:
    [alert] = [m for m in await app.services.outbox.all() if m.kind == "slt-alert"]
    teams = app.teams
    status, _ = await teams.post(teams.card_action("acknowledge", {"alertId": alert.id, "lessonId": alert.lesson_id}, SLT,
                                                   conversation_id=alert.conversation_id, conversation_type="channel"))
    assert status == 200


async def test_the_review_shows_the_months_breaches_and_who_acknowledged_them(tab_app, entra):
    await acknowledge_the_alert(tab_app)
    # An alert counts in the month it was raised: stored when this test runs, for a lesson at T0.
    [alert] = [m for m in await tab_app.services.outbox.all() if m.kind == "slt-alert"]
    month = alert.created_at.astimezone(ZoneInfo("Europe/London")).date().replace(day=1)
    period = f"from=2026-11-01&to={(month + timedelta(days=31)).replace(day=1) - timedelta(days=1)}"
    token = tab_token(entra, SLT.aad_object_id, SLT.name)
    status, body, _ = await get(tab_app, f"/tab/api/review?{period}", token)
    assert status == 200 and "2026-11" in body and month.strftime("%Y-%m") in body
    assert "waiting-room" in body and "Roland Gooding" in body
    status, text, headers = await get(tab_app, f"/tab/api/review.csv?{period}", token)
    assert status == 200 and "text/csv" in headers["Content-Type"]
    table = list(csv.DictReader(io.StringIO(text)))
    assert any(r["month"] == month.strftime("%Y-%m") and r["item"] == "waiting-room" and r["value"] == "1" for r in table), table
    assert any(r["item"] == "Roland Gooding" for r in table), table
    [download] = [r for r in await rows(tab_app.services.engine, "audit_log") if r["action"] == "tab.download"]
    assert download["target"] == "export:review" and download["actor"] == SLT.aad_object_id
    # A teacher is not shown the school's review.
    status, _, _ = await get(tab_app, f"/tab/api/review?{NOVEMBER}", tab_token(entra, TEACHER.aad_object_id, TEACHER.name))
    assert status == 403


async def test_the_staff_aup_page_lists_who_signed(tab_app, entra):
    token = tab_token(entra, SLT.aad_object_id, SLT.name)
    status, body, _ = await get(tab_app, "/tab/api/aup", token)
    assert status == 200 and TEACHER.name in body and TA.name in body
    status, text, _ = await get(tab_app, "/tab/api/aup.csv", token)
    signed = {r["name"] for r in csv.DictReader(io.StringIO(text)) if r.get("signed_at")}
    assert {TEACHER.name, TA.name} <= signed


async def test_the_dsl_marks_a_concern_seen_then_closes_it_with_a_note(tab_app, entra):
    teams = tab_app.teams
    status, _ = await teams.post(teams.card_action("reportConcern", {"lessonId": tab_app.lesson_id, "concern": "Someone keeps messaging me"},
                                                   PUPIL_A, conversation_id=MATHS.thread_id))
    assert status == 200
    [concern] = await rows(tab_app.services.engine, "concerns")
    dsl = tab_token(entra, DSL_ID, "Lisa Kavanagh")
    status, body, _ = await get(tab_app, "/tab/api/concerns", dsl)
    assert status == 200 and "Someone keeps messaging me" in body
    # Only the DSL: an SLT member who is not the DSL is refused, and nothing changes.
    status, _, _ = await get(tab_app, f"/tab/api/concerns/{concern['id']}/seen", tab_token(entra, SLT.aad_object_id, SLT.name), "POST")
    assert status == 403 and await rows(tab_app.services.engine, "concern_reviews") == []
    status, body, _ = await get(tab_app, f"/tab/api/concerns/{concern['id']}/seen", dsl, "POST")
    assert status == 200 and f"Concern #{concern['id']} marked seen" in body
    status, body, _ = await get(tab_app, f"/tab/api/concerns/{concern['id']}/closed", dsl, "POST", data={"note": ""})
    assert status == 400 and "needs a note" in body
    status, body, _ = await get(tab_app, f"/tab/api/concerns/{concern['id']}/closed", dsl, "POST",
                                data={"note": "Spoke to parents; logged in CPOMS"})
    assert status == 200
    [review] = await rows(tab_app.services.engine, "concern_reviews")
    assert review["status"] == "closed" and review["note"] == "Spoke to parents; logged in CPOMS"
