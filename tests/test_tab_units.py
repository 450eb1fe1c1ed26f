"""The tab's pure parts, in the fast lane: the token check (with dev mode's own signer, no
server), who sees what, the exception rules the CLI and the tab share, the timeline's shading,
CSV cells, and the manifest's tabs and webApplicationInfo against Microsoft's schema."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import jwt
import pytest

from config.policy import load_policy
from domain.exception_rules import ExceptionProblem, ExceptionRefused, checked_exception
from domain.lesson import Attendance, AttendanceSource, Lesson, LessonStatus, PersonClass, SettingsObservation
from domain.meeting import LobbyScope, MeetingSettings
from domain.records import ExportKind
from manifest.package import fill, validate
from tab import timeline
from tab.access import Page, Role, Viewer, roles_for
from tab.csv_export import cell
from tab.tokens import SCOPE, DevSigner, Refusal, SignedInUser, TokenRefused, TokenValidator

from .helpers import POLICY, SCHOOL_TENANT, TAB_APP_ID, TAB_HOST, TAB_RESOURCE

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def signer() -> DevSigner:
    return DevSigner(SCHOOL_TENANT, TAB_RESOURCE)


def validator(signer: DevSigner) -> TokenValidator:
    return TokenValidator(signer, audiences={TAB_RESOURCE, TAB_APP_ID}, tenant_id=SCHOOL_TENANT)


def claims(**changes) -> dict:
    now = int(time.time())
    base = {"iss": "urn:chaperone:dev-sign-in", "aud": TAB_RESOURCE, "tid": SCHOOL_TENANT, "oid": "aad-1", "name": "A",
            "scp": SCOPE, "nbf": now - 5, "exp": now + 600}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(signer: DevSigner, **changes) -> str:
    return jwt.encode(claims(**changes), signer._key, algorithm="RS256", headers={"kid": signer._kid})


async def test_a_good_token_names_the_person(signer):
    user = await validator(signer).validate(signer.token("aad-1", "Ms A"))
    assert user == SignedInUser(aad_object_id="aad-1", tenant_id=SCHOOL_TENANT, name="Ms A")


@pytest.mark.parametrize("changes, refusal", [
    ({"aud": "api://elsewhere.example/" + TAB_APP_ID}, Refusal.audience),
    ({"tid": "another-tenant"}, Refusal.tenant),
    ({"exp": int(time.time()) - 3600}, Refusal.expired),
    ({"scp": "User.Read"}, Refusal.scope),
    ({"iss": "https://login.microsoftonline.com/another/v2.0"}, Refusal.issuer),
    ({"oid": None}, Refusal.no_user),
])
async def test_a_token_wrong_in_one_way_is_refused_for_that_reason(signer, changes, refusal):
    with pytest.raises(TokenRefused) as refused:
        await validator(signer).validate(signed(signer, **changes))
    assert refused.value.refusal is refusal


async def test_no_token_a_garbled_one_and_one_signed_by_another_key_are_refused(signer):
    other = DevSigner(SCHOOL_TENANT, TAB_RESOURCE)
    for token, refusal in ((None, Refusal.missing), ("not.a.token", Refusal.malformed), (other.token("aad-1", "A"), Refusal.unknown_key)):
        with pytest.raises(TokenRefused) as refused:
            await validator(signer).validate(token)
        assert refused.value.refusal is refusal
    forged = jwt.encode(claims(), other._key, algorithm="RS256", headers={"kid": signer._kid})  # our key id, another key
    with pytest.raises(TokenRefused) as refused:
        await validator(signer).validate(forged)
    assert refused.value.refusal is Refusal.signature


def viewer(policy, aad: str, staff: bool) -> Viewer:
    user = SignedInUser(aad_object_id=aad, tenant_id=SCHOOL_TENANT, name="x")
    return Viewer(user=user, name="x", roles=roles_for(user, policy, staff))


def test_who_may_open_what():
    policy = load_policy(POLICY)
    slt = viewer(policy, "00000000-0000-4000-8000-00000000a001", False)
    dsl = viewer(policy, "00000000-0000-4000-8000-00000000a003", False)
    teacher = viewer(policy, "aad-teacher", True)
    pupil = viewer(policy, "aad-pupil", False)
    assert slt.roles == {Role.slt} and dsl.roles == {Role.slt, Role.dsl} and pupil.roles == {Role.pupil}
    # The trust view is the trust's leads' alone: nobody opens it in a single school.
    assert [p for p in Page if slt.may_open(p)] == [p for p in Page if p not in (Page.concerns, Page.trust)]
    assert [p for p in Page if dsl.may_open(p)] == [p for p in Page if p is not Page.trust]
    assert [p for p in Page if teacher.may_open(p)] == [Page.today, Page.lesson, Page.register]
    assert not any(pupil.may_open(p) for p in Page) and not any(pupil.may_export(k) for k in ExportKind)
    assert teacher.lesson_scope == "aad-teacher" and slt.lesson_scope is None
    assert not slt.may_export(ExportKind.concerns) and dsl.may_export(ExportKind.concerns)
    assert not teacher.may_export(ExportKind.audit) and teacher.may_export(ExportKind.lessons)


def rule_check(**changes):
    args = dict(reason="TA on a course", lesson_id=None, lesson_recorded=False, meeting_id="MCMx", meeting_recorded=True,
                person_id=None, expires=None, today=date(2026, 11, 23), zone=LONDON)
    args.update(changes)
    return checked_exception(**args)


@pytest.mark.parametrize("changes, problem", [
    ({"reason": "  "}, ExceptionProblem.empty_reason),
    ({"lesson_id": 3}, ExceptionProblem.not_one_scope),
    ({"meeting_id": None, "lesson_id": 3, "lesson_recorded": False}, ExceptionProblem.no_such_lesson),
    ({"meeting_id": "nonsense", "meeting_recorded": False}, ExceptionProblem.unknown_meeting),
    ({"meeting_id": None, "person_id": "aad-1"}, ExceptionProblem.person_without_expiry),
    ({"expires": date(2026, 11, 22)}, ExceptionProblem.expiry_passed),
])
def test_the_exception_rules_refuse_each_problem(changes, problem):
    with pytest.raises(ExceptionRefused) as refused:
        rule_check(**changes)
    assert refused.value.problem is problem


def test_an_exception_ends_at_the_start_of_the_day_after_its_last_day():
    reason, ends = rule_check(reason=" drop-in cover ", expires=date(2026, 11, 23))
    assert reason == "drop-in cover" and ends == datetime(2026, 11, 24, tzinfo=LONDON)


def attendance(i: int, kind: PersonClass, start: int, end: int | None) -> Attendance:
    return Attendance(id=i, person_id=f"p{i}", aad_object_id=f"aad-{i}", display_name=f"Person {i}", tenant_id=SCHOOL_TENANT,
                      meeting_role="Attendee", classification=kind, joined_at=T0 + timedelta(minutes=start),
                      left_at=T0 + timedelta(minutes=end) if end is not None else None, source=AttendanceSource.live)


def lesson(rows: list[Attendance], history=()) -> Lesson:
    return Lesson(id=1, meeting_id="m", title="Science", organizer_aad_id="aad-1", organizer_name="Person 1", join_url=None,
                  meeting_type="Scheduled", graph_meeting_id=None, tenant_id=SCHOOL_TENANT, conversation_id=None,
                  scheduled_start=None, scheduled_end=None, actual_start=T0, actual_end=T0 + timedelta(minutes=60),
                  status=LessonStatus.closed, start_event_missing=False, end_event_missing=False, attendance=rows,
                  settings_history=list(history))


def test_the_timeline_shades_the_spell_with_too_few_staff_and_the_lobby_while_open():
    rows = [attendance(1, PersonClass.staff, 0, 60), attendance(2, PersonClass.staff, 0, 20), attendance(3, PersonClass.pupil, 5, 60),
            attendance(4, PersonClass.external, 30, 40)]
    settings = [SettingsObservation(observed_at=T0, settings=MeetingSettings(graph_meeting_id="g", lobby_scope=LobbyScope.organizer), source="start"),
                SettingsObservation(observed_at=T0 + timedelta(minutes=25), settings=MeetingSettings(graph_meeting_id="g", lobby_scope=LobbyScope.everyone), source="refresh"),
                SettingsObservation(observed_at=T0 + timedelta(minutes=45), settings=MeetingSettings(graph_meeting_id="g", lobby_scope=LobbyScope.organizer), source="refresh")]
    l = lesson(rows, settings)
    start, end = T0, T0 + timedelta(minutes=60)
    assert [(s.start, s.end) for s in timeline.understaffed(l, start, end, 2)] == [(T0 + timedelta(minutes=20), end)]
    assert [(s.start, s.end) for s in timeline.lobby_open(l, start, end, (LobbyScope.organizer, LobbyScope.invited))] == [
        (T0 + timedelta(minutes=25), T0 + timedelta(minutes=45))]
    svg = timeline.render(l, [], zone=LONDON, now=end, minimum_staff=2, allowed_lobby=(LobbyScope.organizer,))
    assert svg.count('class="lane lane-') == 4 and "lane-external" in svg and "shade-understaffed" in svg and "shade-lobby" in svg
    assert svg.count('class="marker-settings"') == 2 and "lobby everyone" in svg


def test_a_csv_cell_a_spreadsheet_would_run_is_written_as_text():
    assert cell("=HYPERLINK(\"http://x\")", LONDON) == "'=HYPERLINK(\"http://x\")"
    assert cell("Year 7", LONDON) == "Year 7" and cell(None, LONDON) == "" and cell(("a", "b"), LONDON) == "a b"
    assert cell(T0, LONDON) == "2026-11-23T11:00:00+00:00"


def test_the_manifest_has_the_static_and_channel_tabs_and_the_sso_resource_and_still_validates():
    manifest = fill(TAB_APP_ID, "1.2.3", f"https://{TAB_HOST}", "Valence School")
    validate(manifest)
    [static] = manifest["staticTabs"]
    assert static["scopes"] == ["personal"] and static["contentUrl"] == f"https://{TAB_HOST}/tab/today"
    [configurable] = manifest["configurableTabs"]
    assert configurable["configurationUrl"] == f"https://{TAB_HOST}/tab/configure" and configurable["scopes"] == ["team"]
    assert manifest["webApplicationInfo"] == {"id": TAB_APP_ID, "resource": TAB_RESOURCE}
