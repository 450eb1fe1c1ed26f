"""Who sees what, over HTTP against the real app and database, with Teams SSO tokens from the
Entra stand-in: refusals (no token, another tenant or audience, a forged key, another person's
lesson, concerns for anyone but the DSL, pupils) are refused and audited; downloads are audited
and are what the database holds; exceptions added and withdrawn in the tab follow the CLI's
rules; pages may be framed only by Teams and Microsoft 365."""

from __future__ import annotations

import csv
import io

import pytest

from .helpers import DSL_ID, PUPIL_A, SLT, TA, TAB_APP_ID, TEACHER, rows, sign_aup, tab_get as get, tab_token


pytestmark = pytest.mark.e2e

OTHER_TEACHER = "aad-teacher-0099"
MATT = "00000000-0000-4000-8000-00000000a002"  # SLT, not the DSL


async def audit(app, action: str) -> list[dict]:
    return [r for r in await rows(app.services.engine, "audit_log") if r["action"] == action]


async def test_slt_see_the_whole_school_and_the_lesson_with_its_breach_and_clause(tab_app, entra):
    token = tab_token(entra, SLT.aad_object_id, SLT.name)
    status, body, headers = await get(tab_app, "/tab/api/register?from=2026-11-23&to=2026-11-23", token)
    assert status == 200 and "Year 7 Maths" in body and 'data-total="with-breach">1<' in body
    status, body, _ = await get(tab_app, f"/tab/api/lesson/{tab_app.lesson_id}", token)
    assert status == 200 and "<code>waiting-room</code>" in body and 'verdict verdict-breach' in body
    assert "Use of waiting rooms" in body  # the adopted AUP's words for the failing rule
    assert "Concerns (DSL only)" not in body and "Concerns</a>" not in body
    status, body, _ = await get(tab_app, "/tab/api/concerns", token)
    assert status == 403
    [refused] = [r for r in await audit(tab_app, "tab.refused") if r["target"] == "/tab/api/concerns"]
    assert refused["actor"] == SLT.aad_object_id


async def test_the_dsl_alone_sees_concerns(tab_app, entra):
    status, body, _ = await get(tab_app, "/tab/api/concerns", tab_token(entra, DSL_ID, "Lisa Kavanagh"))
    assert status == 200 and "No concerns have been reported" in body
    status, _, _ = await get(tab_app, "/tab/api/concerns", tab_token(entra, MATT, "Matt Strange"))
    assert status == 403
    status, _, _ = await get(tab_app, "/tab/api/export/concerns.csv?from=2026-11-01&to=2026-11-30", tab_token(entra, MATT, "Matt Strange"))
    assert status == 403


async def test_a_teacher_sees_their_own_lesson_and_is_refused_anothers(tab_app, entra):
    own = tab_token(entra, TA.aad_object_id, TA.name)  # attended as staff
    status, body, _ = await get(tab_app, f"/tab/api/lesson/{tab_app.lesson_id}", own)
    assert status == 200 and "Year 7 Maths" in body and "Exceptions</a>" not in body
    await sign_aup(tab_app, type(TA)("Mr Other", OTHER_TEACHER))  # known as staff, but not in this lesson
    other = tab_token(entra, OTHER_TEACHER, "Mr Other")
    status, body, _ = await get(tab_app, f"/tab/api/lesson/{tab_app.lesson_id}", other)
    assert status == 403 and "Year 7 Maths" not in body
    status, body, _ = await get(tab_app, "/tab/api/register?from=2026-11-23&to=2026-11-23", other)
    assert status == 200 and "Year 7 Maths" not in body and 'data-total="lessons">0<' in body
    for path in ("/tab/api/exceptions", "/tab/api/review", "/tab/api/aup", "/tab/api/export/audit.csv?from=2026-11-01&to=2026-11-30"):
        assert (await get(tab_app, path, other))[0] == 403, path
    refusals = [r for r in await audit(tab_app, "tab.refused") if r["actor"] == OTHER_TEACHER]
    assert {r["target"] for r in refusals} >= {f"/tab/api/lesson/{tab_app.lesson_id}", "/tab/api/exceptions"}


async def test_a_pupil_sees_nothing(tab_app, entra):
    token = tab_token(entra, PUPIL_A.aad_object_id, PUPIL_A.name)
    for path in ("/tab/api/today", f"/tab/api/lesson/{tab_app.lesson_id}", "/tab/api/register",
                 "/tab/api/export/lessons.csv?from=2026-11-23&to=2026-11-23"):
        status, body, _ = await get(tab_app, path, token)
        assert status == 403 and "Year 7 Maths" not in body, path


@pytest.mark.parametrize("wrong", [
    pytest.param(None, id="no-token"),
    pytest.param({"tenant_id": "another-tenant-0000"}, id="another-tenant"),
    pytest.param({"audience": "api://elsewhere.example/" + TAB_APP_ID}, id="another-audience"),
    pytest.param({"forged": True}, id="key-entra-does-not-publish"),
    pytest.param({"lifetime": -3600}, id="expired"),
])
async def test_a_download_without_a_good_token_is_refused_and_audited(tab_app, entra, wrong):
    token = None if wrong is None else tab_token(entra, SLT.aad_object_id, SLT.name, **wrong)
    status, body, _ = await get(tab_app, "/tab/api/export/lessons.csv?from=2026-11-23&to=2026-11-23", token)
    assert status == 401 and "Year 7 Maths" not in body
    [refused] = await audit(tab_app, "tab.refused")
    assert refused["actor"] == "anonymous" and refused["target"] == "/tab/api/export/lessons.csv"
    assert await audit(tab_app, "tab.download") == []


async def test_a_download_is_what_the_database_holds_and_is_audited(tab_app, entra):
    token = tab_token(entra, SLT.aad_object_id, SLT.name)
    status, body, headers = await get(tab_app, "/tab/api/export/attendance.csv?from=2026-11-23&to=2026-11-23", token)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    got = list(csv.DictReader(io.StringIO(body)))
    stored = await rows(tab_app.services.engine, "attendance")
    assert sorted((r["entra_object_id"], r["classification"], r["joined"]) for r in got) == sorted(
        (a["aad_object_id"], a["classification"], a["joined_at"].isoformat()) for a in stored)
    [download] = await audit(tab_app, "tab.download")
    assert download["actor"] == SLT.aad_object_id and download["target"] == "export:attendance" and download["details"]["rows"] == len(stored)


async def test_pages_may_be_framed_only_by_teams_and_microsoft_365(tab_app):
    status, body, headers = await get(tab_app, "/tab/today", None)
    assert status == 200 and "Year 7 Maths" not in body  # the shell holds no data
    csp = headers["Content-Security-Policy"]
    ancestors = csp.split("frame-ancestors ")[1].split(";")[0].split()
    assert "https://teams.microsoft.com" in ancestors and "https://*.cloud.microsoft" in ancestors
    assert all(a.startswith("https://") and ("microsoft" in a or "office" in a or "skype" in a) for a in ancestors)
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "cdn" not in body.lower() and "https://" not in body  # scripts and styles come from Chaperone itself
    assert (await get(tab_app, "/tab/api/dev/people", None))[0] == 404  # no dev sign-in once SSO is configured


async def test_exceptions_added_and_withdrawn_in_the_tab_follow_the_cli_rules_and_are_audited(tab_app, entra):
    token = tab_token(entra, SLT.aad_object_id, SLT.name)
    bad = {"rule": "waiting-room", "scope": "lesson", "target": str(tab_app.lesson_id), "reason": "cover", "expires": "2020-01-01"}
    status, body, _ = await get(tab_app, "/tab/api/exceptions", token, "POST", bad)
    assert status == 400 and "The last day has passed" in body
    status, body, _ = await get(tab_app, "/tab/api/exceptions", token, "POST", {**bad, "target": "99999", "expires": ""})
    assert status == 400 and "no lesson with that number" in body
    status, body, _ = await get(tab_app, "/tab/api/exceptions", token, "POST", {**bad, "expires": ""})
    assert status == 200 and "Exception #1 recorded" in body
    [approved] = await audit(tab_app, "exception.approve")
    assert approved["actor"] == SLT.aad_object_id and approved["details"]["lesson"] == tab_app.lesson_id
    teacher = tab_token(entra, TEACHER.aad_object_id, TEACHER.name)
    assert (await get(tab_app, "/tab/api/exceptions/1/withdraw", teacher, "POST"))[0] == 403
    status, body, _ = await get(tab_app, "/tab/api/exceptions/1/withdraw", token, "POST")
    assert status == 200 and "Exception #1 withdrawn" in body
    [revoked] = await audit(tab_app, "exception.revoke")
    assert revoked["actor"] == SLT.aad_object_id
