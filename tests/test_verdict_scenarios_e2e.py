"""Issue 12, as a DSL would try it: lessons written from the two AUPs (Valence 2022, Staff and
Volunteers 2023 with its Annex), driven through /api/messages with the Teams, Bot Connector
and Graph stand-ins, asserting the stored verdicts, what reached the connector, and the register.

Each test names the issue item it covers (item N). Written independently of the implementation:
it follows the policy text and the issue, not the code.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from domain.findings import Severity, Status
from domain.lookups import LookupOutcome
from domain.school import TimetableEntry
from importers.consent import parse_consents
from standins.teams import Meeting, Person, attendance_report
from store.tables import ExceptionRow

from .helpers import (
    END, GUEST, MATHS, PUPIL_A, PUPIL_B, SLT, SLT_CHANNEL, SLT_TEAM, T0, TA, TEACHER,
    alert_posts, all_text, cards_in, dev_env, eventually, minutes, policy_with, run_app, script, sign_aup,
)

pytestmark = pytest.mark.e2e

ONE_TO_ONE_FAMILY = ("one-to-one", "one-to-one-consent", "one-to-one-adults", "one-to-one-recorded")
LESSON_DAY = T0.date()


# ---- helpers of this file -------------------------------------------------------------------


async def prepare(app, connector, graph, *, lobby: str = "organizer", **overrides) -> None:
    """Maths at the stand-ins, the teacher and TA signed, the SLT channel set, the connector log clear."""
    script(graph, connector, lobby=lobby, **overrides)
    await sign_aup(app, TEACHER, TA)
    await app.post_all([app.teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL)])
    connector.clear()


async def consents(app, csv_rows: str) -> None:
    parsed = parse_consents("pupil,kind,given_on,expires_on\n" + csv_rows, "consent.csv")
    await app.services.school_data.replace_consents(parsed, "test", "consent.csv")


async def approve(app, rule_id: str, at: datetime, **scope):
    """An exception approved by SLT (Roland Gooding) at `at`, for Maths unless scoped otherwise."""
    kwargs = dict(rule_id=rule_id, reason="pre-arranged with the family", approver_id=SLT.aad_object_id,
                  approver_name=SLT.name, expires_at=T0 + timedelta(days=30), **(scope or {"meeting_id": MATHS.id}))
    register = app.services.exceptions
    if "approved_at" in inspect.signature(register.approve).parameters:
        return await register.approve(approved_at=at, **kwargs)
    exception = await register.approve(**kwargs)
    async with app.services.engine.begin() as conn:
        await conn.execute(update(ExceptionRow).where(ExceptionRow.id == exception.id).values(approved_at=at))
    return exception


async def lesson_of(app, meeting: Meeting = MATHS):
    [lesson] = await app.services.lessons.list_lessons(meeting.id)
    return await app.services.lessons.get(lesson.id)


async def verdicts(app, lesson_id: int) -> dict:
    return {f.rule_id: f for f in await app.services.findings.for_lesson(lesson_id)}


async def alerted_rules(app, lesson_id: int) -> set[str]:
    """Rules an SLT alert was queued for (each alert lists its findings)."""
    by_id = {f.id: f.rule_id for f in await app.services.findings.for_lesson(lesson_id)}
    return {by_id[i] for m in await app.services.outbox.all(lesson_id) if m.kind == "slt-alert" for i in m.finding_ids if i in by_id}


def alert_texts(connector) -> list[str]:
    return [all_text(post["activity"]["attachments"][0]["content"]) for post in alert_posts(connector)]


def text_of(f) -> str:
    return f"{f.message} {f.reason or ''}"


def spans(lesson, person: Person) -> list[tuple]:
    return sorted(((a.joined_at, a.left_at) for a in lesson.attendance if a.aad_object_id == person.aad_object_id),
                  key=lambda s: (s[0] or T0 - timedelta(days=1)))


def union(intervals: list[tuple]) -> list[tuple]:
    merged: list[list] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [tuple(m) for m in merged]


def settings_reads(graph) -> int:
    """Graph reads of the Maths meeting's settings (by id or by join URL), not its reports."""
    return len([c for c in graph.requests("GET", f"/v1.0/users/{TEACHER.aad_object_id}/onlineMeetings")
                if "attendanceReports" not in c.path and not c.path.endswith("/recordings")])


def failed_breach(f) -> bool:
    return f is not None and f.status is Status.failed and f.severity is not Severity.info


def with_lessons_table(path: str, **values: float) -> str:
    """The copied policy with its [lessons] values changed."""
    text = Path(path).read_text()
    for key, value in values.items():
        text, found = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
        assert found == 1, key
    Path(path).write_text(text)
    return path


def one_to_one_lesson(teams, *, staff=(TEACHER, TA), pupil=PUPIL_A):
    return [
        teams.meeting_start(MATHS, T0),
        teams.join(MATHS, list(staff), T0),
        teams.join(MATHS, [pupil], T0 + minutes(1)),
        teams.meeting_end(MATHS, END),
    ]


FULL_CONSENT = f"{PUPIL_A.aad_object_id},remote-learning,2026-09-01,\n{PUPIL_A.aad_object_id},one-to-one,2026-09-01,\n"


# ---- item 1: prior approval means prior -----------------------------------------------------


async def test_item1_one_to_one_approved_before_the_lesson_raises_nothing(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    await consents(dev_app, FULL_CONSENT)
    await approve(dev_app, "one-to-one", T0 - timedelta(days=1))
    await dev_app.post_all(one_to_one_lesson(dev_app.teams))
    lesson = await lesson_of(dev_app)
    found = await verdicts(dev_app, lesson.id)
    for rule_id in ONE_TO_ONE_FAMILY:
        assert rule_id in found, f"{rule_id} has no verdict"
        assert not failed_breach(found[rule_id]), (rule_id, found[rule_id].message)
    if found["one-to-one"].status is Status.failed:
        assert found["one-to-one"].severity is Severity.info and "Roland Gooding" in text_of(found["one-to-one"])
    assert not set(ONE_TO_ONE_FAMILY) & await alerted_rules(dev_app, lesson.id)
    assert not any("one-to-one" in t.lower() or "1 to 1" in t for t in alert_texts(connector))


async def test_item1_one_to_one_approved_during_the_lesson_is_still_a_breach_and_says_so(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    await consents(dev_app, FULL_CONSENT)
    await approve(dev_app, "one-to-one", T0 + minutes(20))
    await dev_app.post_all(one_to_one_lesson(dev_app.teams))
    lesson = await lesson_of(dev_app)
    finding = (await verdicts(dev_app, lesson.id))["one-to-one"]
    assert finding.status is Status.failed and finding.severity is Severity.breach
    assert "approved afterwards by Roland Gooding at" in text_of(finding)
    assert "one-to-one" in await alerted_rules(dev_app, lesson.id)
    assert alert_posts(connector), "no SLT alert reached the channel"


@pytest.mark.parametrize("when", ["before", "after"])
async def test_item1_two_staff_approval_counts_only_if_recorded_before_the_start(dev_app, connector, graph, when):
    await prepare(dev_app, connector, graph)
    await approve(dev_app, "two-staff", T0 - timedelta(hours=2) if when == "before" else T0 + minutes(30))
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, PUPIL_A, PUPIL_B], T0 + minutes(1)),
                            teams.meeting_end(MATHS, END)])
    lesson = await lesson_of(dev_app)
    finding = (await verdicts(dev_app, lesson.id))["two-staff"]
    assert finding.status is Status.failed
    if when == "before":
        assert finding.severity is Severity.info and "Roland Gooding" in finding.reason
        assert "two-staff" not in await alerted_rules(dev_app, lesson.id)
    else:
        assert finding.severity is Severity.breach
        assert "approved afterwards by Roland Gooding at" in text_of(finding)
        assert "two-staff" in await alerted_rules(dev_app, lesson.id)
        assert any("Two members of staff present" in t for t in alert_texts(connector))


@pytest.mark.parametrize("when", ["before", "after"])
async def test_item1_a_live_stream_needs_approval_before_it_starts(dev_app, connector, graph, when):
    await prepare(dev_app, connector, graph, isBroadcast=True)
    await approve(dev_app, "live-stream-approval", T0 - timedelta(days=2) if when == "before" else T0 + minutes(5))
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0 + minutes(1)),
                            teams.meeting_end(MATHS, END)])
    lesson = await lesson_of(dev_app)
    finding = (await verdicts(dev_app, lesson.id))["live-stream-approval"]
    if when == "before":
        assert not failed_breach(finding) and "Roland Gooding" in text_of(finding)
    else:
        assert finding.status is Status.failed and finding.severity is Severity.breach
        assert "approved afterwards by Roland Gooding" in text_of(finding)
        assert "live-stream-approval" in await alerted_rules(dev_app, lesson.id)


# ---- item 2: an approval waives only what it approves ---------------------------------------


async def test_item2_approving_a_one_to_one_does_not_waive_consent_adults_or_recording(dev_app, connector, graph):
    await prepare(dev_app, connector, graph, recordAutomatically=False)
    # Remote learning consent only: no written consent for one-to-one sessions.
    await consents(dev_app, f"{PUPIL_A.aad_object_id},remote-learning,2026-09-01,\n")
    await approve(dev_app, "one-to-one", T0 - timedelta(days=1))
    await dev_app.post_all(one_to_one_lesson(dev_app.teams, staff=(TEACHER,)))
    lesson = await lesson_of(dev_app)
    found = await verdicts(dev_app, lesson.id)
    assert not failed_breach(found["one-to-one"]), found["one-to-one"].message
    for rule_id in ("one-to-one-consent", "one-to-one-adults", "one-to-one-recorded"):
        finding = found[rule_id]
        assert finding.status is Status.failed and finding.severity is Severity.breach, (rule_id, finding)
        assert "approved exception" not in (finding.reason or ""), rule_id
    alerted = await alerted_rules(dev_app, lesson.id)
    assert {"one-to-one-consent", "one-to-one-adults", "one-to-one-recorded"} <= alerted
    assert "one-to-one" not in alerted
    assert alert_posts(connector)


# ---- item 3: one-to-one is who was present at the same time ----------------------------------


async def test_item3_ten_minutes_alone_before_a_second_pupil_joins_is_a_one_to_one(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    teams = dev_app.teams
    await dev_app.post_all([
        teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
        teams.join(MATHS, [PUPIL_A], T0 + minutes(1)),
        teams.join(MATHS, [PUPIL_B], T0 + minutes(11)),  # a later visitor does not undo the spell
        teams.meeting_end(MATHS, END),
    ])
    lesson = await lesson_of(dev_app)
    finding = (await verdicts(dev_app, lesson.id))["one-to-one"]
    assert finding.status is Status.failed and finding.severity is Severity.breach and finding.final
    assert PUPIL_A.name in finding.message
    assert "one-to-one" in await alerted_rules(dev_app, lesson.id)


async def test_item3_pupils_who_never_overlap_are_two_one_to_one_spells(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    teams = dev_app.teams
    await dev_app.post_all([
        teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
        teams.join(MATHS, [PUPIL_A], T0 + minutes(1)), teams.leave(MATHS, [PUPIL_A], T0 + minutes(20)),
        teams.join(MATHS, [PUPIL_B], T0 + minutes(25)),
        teams.meeting_end(MATHS, END),
    ])
    lesson = await lesson_of(dev_app)
    finding = (await verdicts(dev_app, lesson.id))["one-to-one"]
    assert finding.status is Status.failed and finding.severity is Severity.breach


async def test_item3_a_short_spell_with_one_pupil_is_not_a_one_to_one(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    teams = dev_app.teams
    await dev_app.post_all([
        teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
        teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(1)),
        teams.leave(MATHS, [PUPIL_B], T0 + minutes(20)), teams.join(MATHS, [PUPIL_B], T0 + minutes(23)),  # 3 min < 5
        teams.meeting_end(MATHS, END),
    ])
    lesson = await lesson_of(dev_app)
    found = await verdicts(dev_app, lesson.id)
    assert found["one-to-one"].status is Status.passed, found["one-to-one"].message
    assert not any(failed_breach(found.get(r)) for r in ONE_TO_ONE_FAMILY)
    assert not set(ONE_TO_ONE_FAMILY) & await alerted_rules(dev_app, lesson.id)


async def test_item3_two_adults_are_needed_during_the_spell_not_at_some_point(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    await consents(dev_app, FULL_CONSENT + f"{PUPIL_B.aad_object_id},remote-learning,2026-09-01,\n")
    await approve(dev_app, "one-to-one", T0 - timedelta(days=1))
    teams = dev_app.teams
    await dev_app.post_all([
        teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
        teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(1)),
        teams.leave(MATHS, [TA], T0 + minutes(15)),  # the TA leaves before the one-to-one spell...
        teams.leave(MATHS, [PUPIL_B], T0 + minutes(20)),  # ...which runs from 09:20 to the end
        teams.meeting_end(MATHS, END),
    ])
    lesson = await lesson_of(dev_app)
    found = await verdicts(dev_app, lesson.id)
    assert found["one-to-one-adults"].status is Status.failed and found["one-to-one-adults"].severity is Severity.breach
    assert "one-to-one-adults" in await alerted_rules(dev_app, lesson.id)


async def test_item3_spell_minutes_comes_from_the_policy(database_url, connector, graph, tmp_path):
    policy = policy_with(tmp_path, **{"spell_minutes = 5": "spell_minutes = 15"})
    async with run_app(dev_env(database_url, graph.base_url, CHAPERONE_POLICY_FILE=policy), connector.url) as app:
        await prepare(app, connector, graph)
        teams = app.teams
        await app.post_all([
            teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
            teams.join(MATHS, [PUPIL_A], T0 + minutes(1)), teams.join(MATHS, [PUPIL_B], T0 + minutes(11)),  # 10 min < 15
            teams.meeting_end(MATHS, END),
        ])
        lesson = await lesson_of(app)
        assert (await verdicts(app, lesson.id))["one-to-one"].status is Status.passed


# ---- item 4: meeting options are watched through the lesson ----------------------------------


async def test_item4_a_lobby_opened_mid_lesson_is_seen_and_the_end_verdict_fails(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0 + minutes(1))])
    lesson = await lesson_of(dev_app)
    assert (await verdicts(dev_app, lesson.id))["waiting-room"].status is Status.passed
    reads_at_start = settings_reads(graph)
    assert reads_at_start >= 1

    graph.change_meeting(TEACHER.aad_object_id, MATHS.graph_id, lobbyBypassSettings={"scope": "everyone"})
    # 3 minutes after the start's read: too soon to read again.
    await dev_app.post_all([teams.leave(MATHS, [PUPIL_B], T0 + minutes(3))])
    assert settings_reads(graph) == reads_at_start
    # 12 minutes in: read again, and the open lobby is seen.
    await dev_app.post_all([teams.join(MATHS, [PUPIL_B], T0 + minutes(12))])
    assert settings_reads(graph) == reads_at_start + 1
    lesson = await lesson_of(dev_app)
    assert lesson.meeting_settings.lobby_scope.value == "everyone"

    graph.change_meeting(TEACHER.aad_object_id, MATHS.graph_id, lobbyBypassSettings={"scope": "organizer"})
    await dev_app.post_all([teams.leave(MATHS, [PUPIL_B], T0 + minutes(20))])  # 8 min after the last read
    assert settings_reads(graph) == reads_at_start + 2
    await dev_app.post_all([teams.meeting_end(MATHS, END)])
    assert settings_reads(graph) == reads_at_start + 3  # once after the end

    lesson = await lesson_of(dev_app)
    history = [(o.observed_at, o.settings.lobby_scope.value) for o in lesson.settings_history]
    assert (T0 + minutes(12), "everyone") in history, history
    assert (T0 + minutes(20), "organizer") in history, history
    finding = (await verdicts(dev_app, lesson.id))["waiting-room"]
    assert finding.status is Status.failed and finding.severity is Severity.breach and finding.final
    assert "waiting-room" in await alerted_rules(dev_app, lesson.id)
    assert any("Waiting room (lobby) on" in t for t in alert_texts(connector))


@pytest.mark.parametrize(
    "changes, rule_id",
    [
        ({"allowMeetingChat": "enabled"}, "meeting-chat"),
        ({"allowedPresenters": "everyone"}, "presenters-restricted"),
        ({"recordAutomatically": False}, "recording"),
    ],
    ids=["chat-enabled", "pupils-may-present", "recording-off"],
)
async def test_item4_a_setting_changed_and_restored_mid_lesson_still_fails_at_the_end(database_url, connector, graph, tmp_path, changes, rule_id):
    # The 2023 AUP: "live lessons should be recorded" (required = true).
    policy = policy_with(tmp_path, **{"required = false": "required = true"})
    async with run_app(dev_env(database_url, graph.base_url, CHAPERONE_POLICY_FILE=policy), connector.url) as app:
        await prepare(app, connector, graph)
        teams = app.teams
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0 + minutes(1))])
        original = {k: graph.meetings[(TEACHER.aad_object_id, MATHS.graph_id)][k] for k in changes}
        graph.change_meeting(TEACHER.aad_object_id, MATHS.graph_id, **changes)
        await app.post_all([teams.leave(MATHS, [PUPIL_B], T0 + minutes(10))])  # read again: the change is seen
        graph.change_meeting(TEACHER.aad_object_id, MATHS.graph_id, **original)  # put back before the end
        await app.post_all([teams.meeting_end(MATHS, END)])
        lesson = await lesson_of(app)
        finding = (await verdicts(app, lesson.id))[rule_id]
        assert finding.status is Status.failed and finding.final, finding.message


# ---- item 5: attendance from event times ------------------------------------------------------


async def test_item5_a_leave_delivered_before_its_join_gives_one_interval(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    teams = dev_app.teams
    await dev_app.post_all([
        teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
        teams.leave(MATHS, [PUPIL_A], T0 + minutes(30)),  # arrives first
        teams.join(MATHS, [PUPIL_A], T0 + minutes(5)),
        teams.meeting_end(MATHS, END),
    ])
    lesson = await lesson_of(dev_app)
    assert spans(lesson, PUPIL_A) == [(T0 + minutes(5), T0 + minutes(30))]
    [row] = [a for a in lesson.attendance if a.aad_object_id == PUPIL_A.aad_object_id]
    assert row.source.value == "live" and "join time unknown" not in (row.note or "")


async def test_item5_two_devices_leaving_one_is_still_present(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    teams = dev_app.teams
    await dev_app.post_all([
        teams.meeting_start(MATHS, T0),
        teams.join(MATHS, [TEACHER, TA], T0),
        teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(1)),
        teams.join(MATHS, [TEACHER], T0 + minutes(10), in_meeting=True),  # the teacher's phone
        teams.leave(MATHS, [TEACHER], T0 + minutes(20), in_meeting=True),  # the laptop drops; still in on the phone
        teams.meeting_end(MATHS, END),
    ])
    lesson = await lesson_of(dev_app)
    assert union(spans(lesson, TEACHER)) == [(T0, END)]
    assert (await verdicts(dev_app, lesson.id))["two-staff"].status is Status.passed
    assert "two-staff" not in await alerted_rules(dev_app, lesson.id)


async def test_item5_a_pupil_made_presenter_mid_lesson(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    teams = dev_app.teams
    presenting = Person(PUPIL_A.name, PUPIL_A.aad_object_id, role="Presenter")
    await dev_app.post_all([
        teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0),
        teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(1)),
        teams.join(MATHS, [presenting], T0 + minutes(15), in_meeting=True),  # the role changed; still present
        teams.meeting_end(MATHS, END),
    ])
    lesson = await lesson_of(dev_app)
    rows_ = sorted((a.joined_at, a.left_at, a.meeting_role) for a in lesson.attendance if a.aad_object_id == PUPIL_A.aad_object_id)
    assert rows_ == [(T0 + minutes(1), T0 + minutes(15), "Attendee"), (T0 + minutes(15), END, "Presenter")]
    finding = (await verdicts(dev_app, lesson.id))["presenters-restricted"]
    assert finding.status is Status.failed and PUPIL_A.name in finding.message


def _report_env(database_url, graph):
    # Graph publishes the report only after the test has looked at the verdict before it; until
    # then each look finds none and looks again half a second later.
    return dev_env(database_url, graph.base_url, CHAPERONE_ATTENDANCE_REPORT_DELAYS="0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,60")


async def test_item5_the_report_shows_the_ta_left_at_0910_so_two_staff_fails_and_slt_is_alerted(database_url, connector, graph):
    async with run_app(_report_env(database_url, graph), connector.url) as app:
        await prepare(app, connector, graph)
        teams = app.teams
        # Teams never delivered the TA's leave.
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(1)),
                            teams.meeting_end(MATHS, END)])
        lesson = await lesson_of(app)
        assert (await verdicts(app, lesson.id))["two-staff"].status is Status.passed  # before the report
        graph.reports[MATHS.graph_id] = [attendance_report("report-1", T0, END, [
            (TEACHER, T0 + minutes(1), END), (TA, T0 + minutes(1), T0 + minutes(10)), (PUPIL_A, T0 + minutes(1), END),
        ])]

        async def failed():
            f = (await verdicts(app, lesson.id))["two-staff"]
            return f if f.status is Status.failed else None

        finding = await eventually(failed, timeout=10)
        await app.services.worker.wait_idle()
        assert finding.severity is Severity.breach and "09:10" in finding.message
        lesson = await lesson_of(app)
        assert union(spans(lesson, TA)) == [(T0 + minutes(1), T0 + minutes(10))]
        assert lesson.report_lookup.outcome is LookupOutcome.ok
        assert "two-staff" in await alerted_rules(app, lesson.id)
        assert any("Two members of staff present" in t for t in alert_texts(connector))


async def test_item5_a_report_with_several_intervals_gives_each_of_them(database_url, connector, graph):
    async with run_app(_report_env(database_url, graph), connector.url) as app:
        await prepare(app, connector, graph)
        graph.reports[MATHS.graph_id] = [attendance_report("report-1", T0, END, [
            (TEACHER, T0 + minutes(1), END), (TA, T0 + minutes(1), T0 + minutes(10)), (TA, T0 + minutes(30), END),
            (PUPIL_A, T0 + minutes(1), END),
        ])]
        teams = app.teams
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(1)),
                            teams.meeting_end(MATHS, END)])
        lesson = await lesson_of(app)

        async def corrected():
            got = await app.services.lessons.get(lesson.id)
            return got if union(spans(got, TA)) == [(T0 + minutes(1), T0 + minutes(10)), (T0 + minutes(30), END)] else None

        await eventually(corrected, timeout=10)
        await app.services.worker.wait_idle()
        finding = (await verdicts(app, lesson.id))["two-staff"]
        assert finding.status is Status.failed and "09:10" in finding.message and "09:30" in finding.message


async def test_item5_the_report_shows_the_ta_stayed_so_two_staff_passes(database_url, connector, graph):
    async with run_app(_report_env(database_url, graph), connector.url) as app:
        await prepare(app, connector, graph)
        teams = app.teams
        # A spurious leave: the report says the TA never left.
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(1)),
                            teams.leave(MATHS, [TA], T0 + minutes(10)), teams.meeting_end(MATHS, END)])
        lesson = await lesson_of(app)
        assert (await verdicts(app, lesson.id))["two-staff"].status is Status.failed  # before the report
        graph.reports[MATHS.graph_id] = [attendance_report("report-1", T0, END, [
            (TEACHER, T0 + minutes(1), END), (TA, T0 + minutes(1), END), (PUPIL_A, T0 + minutes(1), END),
        ])]

        async def passed():
            f = (await verdicts(app, lesson.id))["two-staff"]
            return f if f.status is Status.passed else None

        await eventually(passed, timeout=10)
        lesson = await lesson_of(app)
        assert union(spans(lesson, TA)) == [(T0 + minutes(1), END)]


async def test_item5_the_report_corrects_a_role(database_url, connector, graph):
    async with run_app(_report_env(database_url, graph), connector.url) as app:
        await prepare(app, connector, graph)
        presenter = Person(PUPIL_A.name, PUPIL_A.aad_object_id, role="Presenter")
        graph.reports[MATHS.graph_id] = [attendance_report("report-1", T0, END, [
            (TEACHER, T0 + minutes(1), END), (TA, T0 + minutes(1), END), (presenter, T0 + minutes(1), END),
        ])]
        teams = app.teams
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(1)),
                            teams.meeting_end(MATHS, END)])
        lesson = await lesson_of(app)

        async def corrected():
            f = (await verdicts(app, lesson.id))["presenters-restricted"]
            return f if f.status is Status.failed else None

        await eventually(corrected, timeout=10)
        lesson = await lesson_of(app)
        assert {a.meeting_role for a in lesson.attendance if a.aad_object_id == PUPIL_A.aad_object_id} == {"Presenter"}


# ---- item 6: knowing nothing is never a pass ----------------------------------------------------

CHANNEL_MEETING = Meeting("19:channelmeeting-9c-0001@thread.tacv2", "Year 9 Science (channel)", TEACHER,
                          meeting_type="channelMeeting", team_id="19:team-9c-0001@thread.tacv2",
                          channel_id="19:general-9c-0001@thread.tacv2")
PRESENCE_RULES = ("two-staff", "school-accounts-only", "parental-consent", "aup-signed", *ONE_TO_ONE_FAMILY)


async def test_item6_a_channel_meeting_is_could_not_verify_for_every_rule_about_who_was_there(dev_app, connector, graph):
    info = CHANNEL_MEETING.info(T0, END)
    info["details"]["type"] = "ChannelScheduled"
    connector.add_meeting(CHANNEL_MEETING.id, info)
    graph.add_meeting(TEACHER.aad_object_id, CHANNEL_MEETING.online_meeting(T0, END))
    graph.calendars[TEACHER.aad_object_id] = [CHANNEL_MEETING.calendar_event(T0, END)]
    graph.add_person(TEACHER.aad_object_id, primary_role="teacher", name=TEACHER.name)
    await sign_aup(dev_app, TEACHER)
    await consents(dev_app, FULL_CONSENT)
    teams = dev_app.teams
    # Teams sends a channel meeting's start and end, and nothing about who joined.
    await dev_app.post_all([teams.meeting_start(CHANNEL_MEETING, T0), teams.meeting_end(CHANNEL_MEETING, END)])
    lesson = await lesson_of(dev_app, CHANNEL_MEETING)
    found = await verdicts(dev_app, lesson.id)
    for rule_id in ("two-staff", "school-accounts-only", "parental-consent", "one-to-one"):
        assert rule_id in found, f"{rule_id} has no verdict"
    for rule_id in PRESENCE_RULES:
        if rule_id in found:
            finding = found[rule_id]
            assert finding.status is Status.could_not_verify, (rule_id, finding.status, finding.message)
            assert finding.reason and "channel" in finding.reason.lower(), (rule_id, finding.reason)


# ---- item 7: an unknown is not a breach ----------------------------------------------------------


async def test_item7_meeting_details_404_organizer_from_the_participant_events(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    connector.fail_meeting_details(404, {"error": {"code": "NotFound", "message": "Meeting not found"}}, times=20)
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0)])
    lesson = await lesson_of(dev_app)
    assert lesson.details_lookup.outcome is LookupOutcome.could_not_verify
    reminders = [c for c in cards_in(connector.sent_activities(MATHS.thread_id)) if "Welcome to Year 7 Maths" in all_text(c)]
    assert len(reminders) == 1, "the behaviour reminder is still posted at the start"
    found = await verdicts(dev_app, lesson.id)
    assert found["operating-hours"].status is Status.passed  # judged at the start without the organizer
    assert found["timetabled"].status is Status.could_not_verify
    assert not any(f.status is Status.failed for f in found.values()), {r: f.message for r, f in found.items() if f.status is Status.failed}
    assert alert_posts(connector) == []

    # The organizer joins: Teams names their role, and the organizer is known from then on.
    await dev_app.post_all([teams.join(MATHS, [TEACHER, TA], T0 + minutes(1)), teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(2)),
                            teams.meeting_end(MATHS, END)])
    lesson = await lesson_of(dev_app)
    assert lesson.organizer_aad_id == TEACHER.aad_object_id
    found = await verdicts(dev_app, lesson.id)
    assert found["timetabled"].status is not Status.failed, found["timetabled"].message
    assert "timetabled" not in await alerted_rules(dev_app, lesson.id)


async def test_item7_while_the_organizer_is_never_known_nothing_that_needs_them_is_a_breach(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    connector.fail_meeting_details(404, times=20)
    teams = dev_app.teams
    # The teacher's client sends no Organizer role (they joined as a presenter): the organizer stays unknown.
    as_presenter = Person(TEACHER.name, TEACHER.aad_object_id, role="Presenter")
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [as_presenter, TA, PUPIL_A, PUPIL_B], T0 + minutes(1)),
                            teams.meeting_end(MATHS, END)])
    lesson = await lesson_of(dev_app)
    found = await verdicts(dev_app, lesson.id)
    assert found["timetabled"].status is Status.could_not_verify and found["timetabled"].reason
    assert found["waiting-room"].status is Status.could_not_verify
    assert found["operating-hours"].status is Status.passed
    assert not {"timetabled", "waiting-room"} & await alerted_rules(dev_app, lesson.id)
    reminders = [c for c in cards_in(connector.sent_activities(MATHS.thread_id)) if "Welcome to Year 7 Maths" in all_text(c)]
    assert len(reminders) == 1


async def test_item7_an_html_error_page_is_summarised_in_one_short_line(dev_app, connector, graph, caplog):
    await prepare(dev_app, connector, graph)
    page = ("<!DOCTYPE html>\n<html><head><title>403 - Forbidden</title></head>\n<body>\n"
            + "<div class='error'>You do not have permission to view this directory or page.</div>\n" * 40 + "</body></html>")
    connector.fail_meeting_details(403, page, html=True, times=20)
    caplog.set_level(logging.INFO)
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(1)),
                            teams.meeting_end(MATHS, END)])
    lesson = await lesson_of(dev_app)
    reason = lesson.details_lookup.reason or ""
    assert lesson.details_lookup.outcome is LookupOutcome.could_not_verify and "403" in reason
    assert "\n" not in reason and "<" not in reason and len(reason) <= 200, reason
    for finding in (await verdicts(dev_app, lesson.id)).values():
        assert "<html" not in text_of(finding).lower() and "doctype" not in text_of(finding).lower()
    for record in caplog.records:
        message = record.getMessage()
        assert "<html" not in message.lower() and "permission to view this directory" not in message, message[:200]
    for activity in connector.sent_activities():
        assert "<html" not in all_text(activity).lower()


async def test_item7_meeting_details_are_retried_after_a_5xx(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    connector.fail_meeting_details(503, times=2)
    await dev_app.post_all([dev_app.teams.meeting_start(MATHS, T0)])
    lesson = await lesson_of(dev_app)

    async def known():
        got = await dev_app.services.lessons.get(lesson.id)
        return got if got.organizer_aad_id == TEACHER.aad_object_id else None

    got = await eventually(known, timeout=10)
    assert got.details_lookup.outcome is LookupOutcome.ok
    assert len(connector.requests("GET", "/v1/meetings/")) >= 3


# ---- item 8: no verdict from half-loaded facts ---------------------------------------------------


async def test_item8_an_end_processed_before_the_start_lookups_finish_is_no_timetable_breach(database_url, connector, graph):
    # Two instances on one database: the first is still inside the start's Graph look-ups when the
    # second is handed the joins and the end (any instance can take any event).
    env = dev_env(database_url, graph.base_url)
    async with run_app(env, connector.url) as first, run_app(env, connector.url) as second:
        await prepare(first, connector, graph)
        graph.calendars.clear()  # the timetable is the authority here, matched by the teacher's sign-in name
        graph.people[TEACHER.aad_object_id]["upn"] = "a.okafor@valence.example"
        weekly = TimetableEntry(organizer="a.okafor@valence.example", class_name="7B", subject="Maths", weekday=0,
                                starts=time(9, 0), ends=time(9, 50))
        await first.services.school_data.replace_timetable([(weekly, "t.csv:2")], "test", "t.csv")
        for prefix in (f"/users/{TEACHER.aad_object_id}", f"/education/users/{TEACHER.aad_object_id}"):
            graph.slow(prefix, 0.25)
        status, body = await first.teams.post(first.teams.meeting_start(MATHS, T0))
        assert status == 200, body
        await asyncio.sleep(0.1)  # the first instance has claimed the start and is waiting on Graph
        for activity in (second.teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0 + minutes(1)), second.teams.meeting_end(MATHS, END)):
            status, body = await second.teams.post(activity)
            assert status == 200, body
        for _ in range(2):
            await first.idle()
            await second.idle()
        lesson = await lesson_of(first)
        found = await verdicts(first, lesson.id)
        assert found["timetabled"].status is Status.passed and "7B Maths" in found["timetabled"].message
        assert "timetabled" not in await alerted_rules(first, lesson.id)
        assert not any("not on the timetable" in t for t in alert_texts(connector))


# ---- item 9: a lesson that never ends is closed ----------------------------------------------------


async def test_item9_a_lesson_everyone_left_is_closed_its_end_inferred_and_its_record_sent(database_url, connector, graph, tmp_path):
    policy = with_lessons_table(policy_with(tmp_path), settings_refresh_minutes=5, close_idle_minutes=0.02, close_after_hours=4)
    env = dev_env(database_url, graph.base_url, CHAPERONE_POLICY_FILE=policy)
    async with run_app(env, connector.url) as app:
        await prepare(app, connector, graph)
        graph.reports[MATHS.graph_id] = [attendance_report("report-1", T0, T0 + minutes(40), [
            (TEACHER, T0 + minutes(1), T0 + minutes(40)), (TA, T0 + minutes(1), T0 + minutes(40)),
            (PUPIL_A, T0 + minutes(1), T0 + minutes(35)),  # the live leave said 09:40; the report knows better
        ])]
        teams = app.teams
        await app.post_all([
            teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(1)),
            teams.leave(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(40)),
        ])  # and no meetingEnd, ever
        lesson = await lesson_of(app)

        async def closed():
            got = await app.services.lessons.get(lesson.id)
            return got if got.status.value == "closed" else None

        got = await eventually(closed, timeout=10)
        assert got.end_event_missing and got.actual_end == T0 + minutes(40)

        async def recorded():
            return [m for m in await app.services.outbox.all(lesson.id) if m.kind == "summary" and m.status.value == "sent"]

        await eventually(recorded, timeout=10)
        assert any("Lesson record: Year 7 Maths" in all_text(a) for a in connector.sent_activities())

        async def reconciled():
            got = await app.services.lessons.get(lesson.id)
            return got if spans(got, PUPIL_A) == [(T0 + minutes(1), T0 + minutes(35))] else None

        await eventually(reconciled, timeout=10)
        assert (await verdicts(app, lesson.id))["two-staff"].final


async def test_item9_a_lesson_still_running_is_closed_after_the_longest_a_lesson_can_last(database_url, connector, graph, tmp_path):
    policy = with_lessons_table(policy_with(tmp_path), settings_refresh_minutes=5, close_idle_minutes=10, close_after_hours=0.0005)
    env = dev_env(database_url, graph.base_url, CHAPERONE_POLICY_FILE=policy)
    async with run_app(env, connector.url) as app:
        await prepare(app, connector, graph)
        teams = app.teams
        await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0)])  # nobody leaves
        lesson = await lesson_of(app)

        async def closed():
            got = await app.services.lessons.get(lesson.id)
            return got if got.status.value == "closed" else None

        got = await eventually(closed, timeout=12)
        assert got.end_event_missing and got.actual_end is not None
        assert T0 <= got.actual_end <= T0 + timedelta(hours=0.0005)

        async def recorded():
            return [m for m in await app.services.outbox.all(lesson.id) if m.kind == "summary"]

        await eventually(recorded, timeout=10)


# ---- item 10: staff-only meetings are not lessons -------------------------------------------------

EVENING = datetime(2026, 11, 23, 18, 30, tzinfo=timezone.utc)  # a Monday, 18:30 in London: after hours
STAFF_MEETING = Meeting("19:meeting_staffbriefing@thread.v2", "Maths department meeting", TEACHER)


async def _evening_meeting(app, connector, graph, people):
    await prepare(app, connector, graph)
    connector.add_meeting(STAFF_MEETING.id, STAFF_MEETING.info(EVENING, EVENING + minutes(45)))
    graph.add_meeting(TEACHER.aad_object_id, STAFF_MEETING.online_meeting(EVENING, EVENING + minutes(45)))
    # Ad hoc: no calendar event for it, so nothing marks it timetabled.
    teams = app.teams
    await app.post_all([teams.meeting_start(STAFF_MEETING, EVENING), teams.join(STAFF_MEETING, people, EVENING + minutes(1)),
                        teams.meeting_end(STAFF_MEETING, EVENING + minutes(45))])
    return await lesson_of(app, STAFF_MEETING)


async def test_item10_a_staff_only_meeting_after_hours_is_recorded_not_flagged(dev_app, connector, graph):
    lesson = await _evening_meeting(dev_app, connector, graph, [TEACHER, TA])
    assert {a.aad_object_id for a in lesson.attendance} == {TEACHER.aad_object_id, TA.aad_object_id}
    found = await verdicts(dev_app, lesson.id)
    for rule_id in ("operating-hours", "timetabled"):
        assert found[rule_id].status is not Status.failed, (rule_id, found[rule_id].message)
    assert not {"operating-hours", "timetabled"} & await alerted_rules(dev_app, lesson.id)
    assert alert_posts(connector) == []


@pytest.mark.parametrize("visitor", [PUPIL_A, GUEST], ids=["pupil", "guest"])
async def test_item10_contact_with_a_pupil_or_guest_after_hours_is_still_a_breach(dev_app, connector, graph, visitor):
    lesson = await _evening_meeting(dev_app, connector, graph, [TEACHER, TA, visitor])
    found = await verdicts(dev_app, lesson.id)
    assert found["operating-hours"].status is Status.failed and found["operating-hours"].severity is Severity.breach
    assert found["timetabled"].status is Status.failed
    assert {"operating-hours", "timetabled"} <= await alerted_rules(dev_app, lesson.id)


# ---- item 11: the imported timetable is the authority ---------------------------------------------


async def test_item11_a_calendar_category_does_not_make_a_lesson_timetabled_once_a_timetable_is_imported(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)  # the teacher's own calendar event carries "Timetabled lesson"
    elsewhere = TimetableEntry(organizer=TEACHER.aad_object_id, class_name="8C", subject="Maths", weekday=0,
                               starts=time(13, 0), ends=time(13, 50))
    await dev_app.services.school_data.replace_timetable([(elsewhere, "t.csv:2")], "test", "t.csv")
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0 + minutes(1)),
                            teams.meeting_end(MATHS, END)])
    lesson = await lesson_of(dev_app)
    finding = (await verdicts(dev_app, lesson.id))["timetabled"]
    assert finding.status is Status.failed and finding.severity is Severity.breach, finding.message
    assert "timetabled" in await alerted_rules(dev_app, lesson.id)


# ---- item 12: consent before taking part ------------------------------------------------------------


async def test_item12_consent_given_after_the_lesson_does_not_count(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    await consents(dev_app, f"{PUPIL_A.aad_object_id},remote-learning,{LESSON_DAY},\n"  # on the day: counts
                            f"{PUPIL_B.aad_object_id},remote-learning,{LESSON_DAY + timedelta(days=1)},\n")  # the day after
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0 + minutes(1)),
                            teams.meeting_end(MATHS, END)])
    lesson = await lesson_of(dev_app)
    finding = (await verdicts(dev_app, lesson.id))["parental-consent"]
    assert finding.status is Status.failed
    assert PUPIL_B.name in finding.message and PUPIL_A.name not in finding.message


async def test_item12_expired_consent_does_not_count(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    await consents(dev_app, f"{PUPIL_A.aad_object_id},remote-learning,2025-09-01,{LESSON_DAY - timedelta(days=3)}\n"
                            f"{PUPIL_B.aad_object_id},remote-learning,2025-09-01,{LESSON_DAY}\n")  # last day is the lesson's
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A, PUPIL_B], T0 + minutes(1)),
                            teams.meeting_end(MATHS, END)])
    lesson = await lesson_of(dev_app)
    finding = (await verdicts(dev_app, lesson.id))["parental-consent"]
    assert finding.status is Status.failed
    assert PUPIL_A.name in finding.message and PUPIL_B.name not in finding.message


async def test_item12_one_to_one_consent_given_after_the_session_does_not_count(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    await consents(dev_app, f"{PUPIL_A.aad_object_id},remote-learning,2026-09-01,\n"
                            f"{PUPIL_A.aad_object_id},one-to-one,{LESSON_DAY + timedelta(days=2)},\n")
    await approve(dev_app, "one-to-one", T0 - timedelta(days=1))
    await dev_app.post_all(one_to_one_lesson(dev_app.teams))
    lesson = await lesson_of(dev_app)
    found = await verdicts(dev_app, lesson.id)
    assert found["one-to-one-consent"].status is Status.failed and found["one-to-one-consent"].severity is Severity.breach
    assert found["parental-consent"].status is Status.passed


# ---- item 13: what the alert says is what was true ---------------------------------------------------


async def _ta_leaves_lesson(app, connector, graph):
    """The TA leaves at 09:20 with two pupils present; the 1.2-second grace period runs out while the
    lesson goes on, and the breach is raised."""
    await prepare(app, connector, graph)
    teams = app.teams
    await app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0 + minutes(1)),
                        teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(2)), teams.leave(MATHS, [TA], T0 + minutes(20))])
    lesson = await lesson_of(app)

    async def alerted():
        return alert_posts(connector) if "two-staff" in await alerted_rules(app, lesson.id) and alert_posts(connector) else None

    await eventually(alerted, timeout=10)
    await app.services.worker.wait_idle()
    return lesson


def _grace_env(database_url, graph, tmp_path, **extra):
    policy = policy_with(tmp_path, **{"grace_minutes = 5": "grace_minutes = 0.02"})
    return dev_env(database_url, graph.base_url, CHAPERONE_POLICY_FILE=policy, **extra)


async def test_item13_and_15_the_alert_shows_who_was_there_at_the_breach_and_says_is_still_alone(database_url, connector, graph, tmp_path):
    async with run_app(_grace_env(database_url, graph, tmp_path), connector.url) as app:
        lesson = await _ta_leaves_lesson(app, connector, graph)
        finding = (await verdicts(app, lesson.id))["two-staff"]
        assert finding.status is Status.failed
        assert "is still alone" in finding.message and "and still is" not in finding.message  # item 15
        [text] = [t for t in alert_texts(connector) if "Two members of staff present" in t]
        assert "Staff present\nMs Amara Okafor\n" in text and TA.name not in text.split("Pupils present")[0].split("Staff present")[1]
        assert "none" not in text.split("Staff present")[1].split("\n")[1]

        # Later the TA comes back and a pupil leaves; SLT acknowledge: the refreshed card still shows
        # the finding as raised and who was there at the breach.
        teams = app.teams
        await app.post_all([teams.join(MATHS, [TA], T0 + minutes(30)), teams.leave(MATHS, [PUPIL_B], T0 + minutes(31))])
        [message] = [m for m in await app.services.outbox.all(lesson.id) if m.kind == "slt-alert"]
        status, refreshed = await teams.post(teams.card_action("acknowledge", {"alertId": message.id, "lessonId": lesson.id}, SLT,
                                                               conversation_id=message.conversation_id, conversation_type="channel",
                                                               reply_to_id=message.activity_id))
        assert status == 200 and refreshed["type"] == "application/vnd.microsoft.card.adaptive"
        again = all_text(refreshed["value"])
        assert "Acknowledged by Roland Gooding" in again
        assert finding.message in again, "the alert shows the finding as it was raised"
        staff_line = again.split("Staff present")[1].split("\n")[1]
        assert TA.name not in staff_line and TEACHER.name in staff_line

        # The organizer's own view of their warning also shows the finding as it was raised.
        by_id = {f.id: f.rule_id for f in await app.services.findings.for_lesson(lesson.id)}
        [warning] = [m for m in await app.services.outbox.all(lesson.id)
                     if m.kind == "teacher-warning" and "two-staff" in {by_id.get(i) for i in m.finding_ids}]
        status, view = await teams.post(teams.card_action("teacherView", {"lessonId": lesson.id, "warningId": warning.id}, TEACHER,
                                                          conversation_id=MATHS.thread_id))
        assert status == 200 and finding.message in all_text(view["value"])


async def test_item13_a_resolved_alert_has_a_neutral_title_and_a_later_pass_never_sits_under_breach(database_url, connector, graph, tmp_path):
    env = _grace_env(database_url, graph, tmp_path, CHAPERONE_ATTENDANCE_REPORT_DELAYS="0.5,60")
    async with run_app(env, connector.url) as app:
        # The attendance report will say the TA never left: the two-staff verdict later passes.
        graph.reports[MATHS.graph_id] = [attendance_report("report-1", T0, END, [
            (TEACHER, T0 + minutes(1), END), (TA, T0 + minutes(1), END), (PUPIL_A, T0 + minutes(2), END), (PUPIL_B, T0 + minutes(2), END),
        ])]
        lesson = await _ta_leaves_lesson(app, connector, graph)
        raised = (await verdicts(app, lesson.id))["two-staff"]
        teams = app.teams
        await app.post_all([teams.meeting_end(MATHS, END)])

        async def passed():
            f = (await verdicts(app, lesson.id))["two-staff"]
            return f if f.status is Status.passed else None

        now = await eventually(passed, timeout=10)
        await app.services.worker.wait_idle()
        # Every version of the alert the channel was sent (new and updates) never says "Breach"
        # above a passing message.
        versions = alert_texts(connector) + [all_text(c.body) for c in connector.requests("PUT", "/v3/conversations/")]
        for text in versions:
            assert not ("Breach" in text and now.message in text), text

        [message] = [m for m in await app.services.outbox.all(lesson.id) if m.kind == "slt-alert"]
        status, resolved = await teams.post(teams.card_action("resolve", {"alertId": message.id, "lessonId": lesson.id}, SLT,
                                                              conversation_id=message.conversation_id, conversation_type="channel",
                                                              reply_to_id=message.activity_id))
        assert status == 200 and resolved["type"] == "application/vnd.microsoft.card.adaptive"
        card_text = all_text(resolved["value"])
        assert "Resolved by Roland Gooding" in card_text
        assert not card_text.startswith("Breach"), card_text.split("\n")[0]
        assert raised.message in card_text or now.message not in card_text


async def test_item13_people_not_yet_identified_are_unknown_not_none(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    # Two joiners the directory cannot place (yet): neither staff nor pupil is known.
    stranger_1 = Person("Sam Newstarter", "aad-new-0001")
    stranger_2 = Person("Jo Newstarter", "aad-new-0002")
    for person in (TA, PUPIL_A, PUPIL_B):
        graph.people.pop(person.aad_object_id, None)
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, stranger_1, stranger_2], T0 + minutes(1)),
                            teams.join(MATHS, [GUEST], T0 + minutes(3))])  # a guest: a breach, whoever the others are
    lesson = await lesson_of(dev_app)
    assert "school-accounts-only" in await alerted_rules(dev_app, lesson.id)
    [text] = [t for t in alert_texts(connector) if "School accounts only" in t]
    pupils_line = text.split("Pupils present")[1].split("\n")[1]
    assert pupils_line != "0" and "none" not in pupils_line.lower(), pupils_line
    assert "unknown (2" in text and "not yet identified" in text


async def test_item13_the_alert_names_the_organizer_from_teams_when_graph_cannot(dev_app, connector, graph):
    await prepare(dev_app, connector, graph, lobby="everyone")
    graph.people.pop(TEACHER.aad_object_id)  # Graph cannot say who the organizer is
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(1))])
    [text] = [t for t in alert_texts(connector) if "Waiting room (lobby) on" in t]
    # The alert as the channel shows it: Teams' join names the organizer, whether it was derived
    # before the alert went out or after (the alert is then updated where it was posted).
    [message] = [m for m in await dev_app.services.outbox.all((await lesson_of(dev_app)).id) if m.kind == "slt-alert"]
    updates = [all_text(c.body) for c in connector.requests("PUT", "/v3/conversations/") if c.path.endswith("/activities/" + message.activity_id)]
    shown = updates[-1] if updates else text
    assert shown.split("Organizer\n")[1].split("\n")[0] == TEACHER.name


# ---- item 15: small things a teacher notices ---------------------------------------------------------


async def test_item15_one_and_two_participants_without_a_school_account(dev_app, connector, graph):
    await prepare(dev_app, connector, graph)
    other = Person("Visiting Speaker", "aad-speaker-0001", tenant_id="other-tenant-0001")
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0 + minutes(1)),
                            teams.join(MATHS, [GUEST], T0 + minutes(2))])
    lesson = await lesson_of(dev_app)
    message = (await verdicts(dev_app, lesson.id))["school-accounts-only"].message
    assert "1 participant without a school account" in message and "(s)" not in message
    await dev_app.post_all([teams.join(MATHS, [other], T0 + minutes(3))])
    message = (await verdicts(dev_app, lesson.id))["school-accounts-only"].message
    assert "2 participants without a school account" in message and "(s)" not in message


async def test_item15_a_title_with_a_colon_is_whole_on_every_card(dev_app, connector, graph):
    algebra = Meeting("19:meeting_algebra9@thread.v2", "Year 9: Algebra", TEACHER)
    await prepare(dev_app, connector, graph, lobby="everyone")
    connector.add_meeting(algebra.id, algebra.info(T0, END))
    graph.add_meeting(TEACHER.aad_object_id, algebra.online_meeting(T0, END, lobby="everyone"))
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(algebra, T0), teams.join(algebra, [TEACHER, TA, PUPIL_A, PUPIL_B], T0 + minutes(1)),
                            teams.meeting_end(algebra, END)])
    in_meeting = [all_text(c) for c in cards_in(connector.sent_activities(algebra.thread_id))]
    assert any("Welcome to Year 9: Algebra" in t for t in in_meeting)
    assert any("Year 9: Algebra" in t for t in alert_texts(connector))
    assert any("Lesson record: Year 9: Algebra" in all_text(a) for a in connector.sent_activities())
    everything = "\n".join(all_text(a) for a in connector.sent_activities())
    assert "Year 9\n" not in everything and ": Algebra" not in everything.replace("Year 9: Algebra", "")


async def test_item15_one_welcome_card_when_teams_sends_both_install_events(dev_app, connector):
    teams = dev_app.teams
    await dev_app.post_all([teams.installation(TA), teams.bot_added(TA)])
    await dev_app.post_all([teams.bot_added(TEACHER), teams.installation(TEACHER)])  # either order
    for person in (TA, TEACHER):
        welcomes = cards_in(connector.sent_activities(f"a:{person.teams_id}"))
        assert len(welcomes) == 1, (person.name, len(welcomes))
