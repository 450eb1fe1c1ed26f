"""The meeting-event log (issue 14): appended in the HTTP turn, derived by the workers.

Through the real app over HTTP, with the Teams, Bot Connector and Graph stand-ins: two
instances on one database taking one stream between them, redeliveries to both, events out of
order; a lesson's burst of joins judged once; a full log answered 503 at once, and nothing
acknowledged lost.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from domain.findings import Status
from domain.messages import DeliveryStatus, MessageKind
from standins.teams import Meeting, Person
from telemetry.metrics import REGISTRY

from .helpers import (
    END, SLT, SLT_CHANNEL, SLT_TEAM, T0, TA, TEACHER, alert_posts, all_text, cards_in, dev_env, minutes, rows, run_app, sign_aup,
)

pytestmark = pytest.mark.e2e

MEETINGS = [Meeting(f"19:meeting_stream-{n}@thread.v2", f"Stream lesson {n}", TEACHER) for n in range(4)]
PUPILS = [Person(f"Stream Pupil {n}", f"aad-stream-pupil-{n:02d}") for n in range(12)]


def script_stream(graph, connector) -> None:
    """Four lessons, each with its lobby open to everyone (a breach that raises one SLT alert)."""
    for meeting in MEETINGS:
        connector.add_meeting(meeting.id, meeting.info(T0, END))
        graph.add_meeting(TEACHER.aad_object_id, meeting.online_meeting(T0, END, lobby="everyone"))
    graph.calendars[TEACHER.aad_object_id] = [m.calendar_event(T0, END, attendees=(TA, *PUPILS)) for m in MEETINGS]
    for person in (TEACHER, TA):
        graph.add_person(person.aad_object_id, primary_role="teacher", name=person.name)
    for pupil in PUPILS:
        graph.add_person(pupil.aad_object_id, primary_role="student", name=pupil.name)


def stream(teams) -> list[dict]:
    """Each lesson: its start, the staff, three pupils one by one, one leaving, its end."""
    activities = []
    for n, meeting in enumerate(MEETINGS):
        pupils = PUPILS[n * 3 : n * 3 + 3]
        activities += [teams.meeting_start(meeting, T0), teams.join(meeting, [TEACHER, TA], T0)]
        activities += [teams.join(meeting, [pupil], T0 + minutes(1 + i)) for i, pupil in enumerate(pupils)]
        activities += [teams.leave(meeting, [pupils[0]], T0 + minutes(20)), teams.meeting_end(meeting, END)]
    return activities


async def test_two_instances_take_one_stream_with_no_duplicate_lessons_alerts_or_verdicts(any_database_url, connector, graph):
    script_stream(graph, connector)
    # Settling on, as in production: the stream is out of order and split between instances, so
    # a roster check with no wait can judge a lesson on part of its joins (the first pupil alone
    # with the staff: a one-to-one that never happened). The wait is what the design promises.
    env = dev_env(any_database_url, graph.base_url, CHAPERONE_ROSTER_SETTLE_SECONDS="2")
    async with run_app(env, connector.url) as first, run_app(env, connector.url) as second:
        await sign_aup(first, TEACHER, TA)
        await first.post_all([first.teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL)])
        connector.clear()
        activities = stream(first.teams)
        shuffled = random.Random(14)
        # Out of order within each lesson's stream (Teams does not promise order), split between
        # the two instances, and a third of them delivered to both at once (a redelivery).
        shuffled.shuffle(activities)
        instances = (first, second)
        posts = []
        for index, activity in enumerate(activities):
            posts.append(instances[index % 2].teams.post(activity))
            if index % 3 == 0:
                posts.append(instances[(index + 1) % 2].teams.post(activity))
        answers = await asyncio.gather(*posts)
        assert all(status == 200 for status, _ in answers), [a for a in answers if a[0] != 200]
        settled = [app.services.worker.wait_idle(timeout=30, horizon_seconds=3) for app in (first, second)]
        await asyncio.gather(*settled)
        # Jobs one instance queued for the other.
        await asyncio.gather(*(app.services.worker.wait_idle(timeout=30, horizon_seconds=3) for app in (first, second)))

        lessons = await first.services.lessons.list_lessons()
        assert sorted(lesson.meeting_id for lesson in lessons) == sorted(m.id for m in MEETINGS)
        for lesson, meeting in ((l, next(m for m in MEETINGS if m.id == l.meeting_id)) for l in lessons):
            assert lesson.actual_start == T0 and lesson.actual_end == END and not lesson.start_event_missing
            n = MEETINGS.index(meeting)
            expected = {TEACHER.name, TA.name, *(p.name for p in PUPILS[n * 3 : n * 3 + 3])}
            assert {a.display_name for a in lesson.attendance} == expected
            # One interval each; the pupil who left at 20 minutes has that leave, not a second interval.
            assert Counter(a.person_id for a in lesson.attendance).most_common(1)[0][1] == 1

        # Every activity logged once, each derived.
        logged = await rows(first.services.engine, "inbound_events")
        assert len(logged) == len(activities) and all(r["processed_at"] is not None for r in logged)
        # One verdict per rule per lesson, one SLT alert per lesson, each posted to the channel once.
        findings = await rows(first.services.engine, "findings")
        assert not [k for k, c in Counter((f["lesson_id"], f["rule_id"]) for f in findings).items() if c > 1]
        messages = await first.services.outbox.all()
        alerts = [m for m in messages if m.kind is MessageKind.slt_alert]
        assert sorted(m.lesson_id for m in alerts) == sorted(lesson.id for lesson in lessons)
        assert len(alert_posts(connector)) == len(alerts)
        reminders = [m for m in messages if m.kind is MessageKind.reminder]
        assert sorted(m.lesson_id for m in reminders) == sorted(lesson.id for lesson in lessons)


async def test_a_meetings_start_is_derived_at_once_and_the_joins_logged_behind_it_follow(database_url, connector, graph):
    """At a 09:00 peak a class's joins are logged before its start is derived: the start goes
    first, alone (its look-ups and alerts wait for nothing else), and the joins follow as bulk."""
    script_stream(graph, connector)
    meeting = MEETINGS[0]
    # No worker yet: everything waits in the log until the test lets the worker claim.
    async with run_app(dev_env(database_url, graph.base_url, CHAPERONE_RUN_WORKER="0"), connector.url) as app:
        teams = app.teams
        for activity in [teams.meeting_start(meeting, T0), teams.join(meeting, [TEACHER, TA], T0),
                         *(teams.join(meeting, [pupil], T0 + minutes(1)) for pupil in PUPILS[:3])]:
            status, body = await teams.post(activity)
            assert status == 200, body
        worker = app.services.worker
        assert await worker.run_due() == 1  # the meeting's one derivation, urgent: it has a start

        async def derived() -> list[dict]:
            return [r for r in await rows(app.services.engine, "inbound_events") if r["processed_at"] is not None]

        for _ in range(200):
            if await derived():
                break
            await asyncio.sleep(0.02)
        # The start, and the staff who joined at that very instant; the pupils a minute later wait.
        assert [r["kind"] for r in await derived()] == ["meetingStart", "participantJoin"]
        [lesson] = await app.services.lessons.list_lessons()
        assert lesson.actual_start == T0 and {a.display_name for a in lesson.attendance} == {TEACHER.name, TA.name}
        # The start's look-ups and verdicts were run by the worker that derived it, at once (no
        # claim between them); only the joins' derivation waits.
        await worker.wait_idle(timeout=10, horizon_seconds=-3600)
        waiting = {(r["kind"], r["priority"]) for r in await rows(app.services.engine, "jobs") if r["done_at"] is None}
        assert ("derive-events", 4) in waiting and not [kind for kind, _ in waiting if kind == "lesson-started"], waiting
        [lesson] = await app.services.lessons.list_lessons()
        assert lesson.settings_read_at is not None and {f.rule_id for f in await app.services.findings.for_lesson(lesson.id)}

        worker.start()
        await app.idle()
        [lesson] = await app.services.lessons.list_lessons()
        assert {a.display_name for a in lesson.attendance} == {TEACHER.name, TA.name, *(p.name for p in PUPILS[:3])}
        assert all(r["processed_at"] is not None for r in await rows(app.services.engine, "inbound_events"))
        assert len(alert_posts(connector)) == 0  # no alert channel set; the lesson was judged, see findings
        assert {f["rule_id"] for f in await rows(app.services.engine, "findings")} >= {"waiting-room", "two-staff"}


async def test_a_lesson_opened_by_a_join_before_its_start_gets_its_cards_in_the_meeting_chat(database_url, connector, graph):
    """Teams does not promise order: a join can open the lesson before the meetingStart arrives.
    The join names the meeting chat too, so the lesson's reminder is not lost for want of it."""
    script_stream(graph, connector)
    meeting = MEETINGS[0]
    async with run_app(dev_env(database_url, graph.base_url), connector.url) as app:
        teams = app.teams
        await app.post_all([teams.join(meeting, [TEACHER, TA], T0 + minutes(1))])
        [reminder] = [m for m in await app.services.outbox.all() if m.kind is MessageKind.reminder]
        assert reminder.status is DeliveryStatus.sent
        cards = cards_in(connector.sent_activities(meeting.thread_id))
        assert "Report a concern" in all_text(cards[0])

        await app.post_all([teams.meeting_start(meeting, T0)])  # the start, late: adopted, nothing sent twice
        [lesson] = await app.services.lessons.list_lessons()
        assert lesson.actual_start == T0 and not lesson.start_event_missing
        cards = cards_in(connector.sent_activities(meeting.thread_id))
        assert sum("Report a concern" in all_text(c) for c in cards) == 1


async def test_a_burst_of_joins_is_one_roster_check(database_url, connector, graph):
    script_stream(graph, connector)
    # Settling on: the burst arrives inside the roster check's wait, so it is judged once.
    env = dev_env(database_url, graph.base_url, CHAPERONE_ROSTER_SETTLE_SECONDS="1")
    async with run_app(env, connector.url) as app:
        meeting = MEETINGS[0]
        await app.post_all([app.teams.meeting_start(meeting, T0)])
        joins = [app.teams.join(meeting, [pupil], T0 + minutes(1)) for pupil in PUPILS]
        answers = await asyncio.gather(*(app.teams.post(join) for join in joins))
        assert all(status == 200 for status, _ in answers)
        graph.clear()
        checks_before = roster_checks()
        await app.services.worker.wait_idle(timeout=15, horizon_seconds=2)
        [lesson] = await app.services.lessons.list_lessons()
        assert len(lesson.attendance) == len(PUPILS)
        # Twelve people, one directory question each at most, asked in one batch (not twelve
        # rounds), and the lesson judged after the burst rather than once per join.
        education = graph.requests("GET", "/v1.0/education/users/")
        assert sorted(c.path.rsplit("/", 1)[-1] for c in education) == sorted(p.aad_object_id for p in PUPILS)
        assert len(graph.requests("POST", "/v1.0/$batch")) == 1
        assert roster_checks() - checks_before == 1


def roster_checks() -> float:
    return REGISTRY.get_sample_value("chaperone_job_duration_seconds_count", {"kind": "roster-changed"}) or 0


# Beyond capacity, either bound: the log's (events waiting to be written) or the process's
# (activities being answered at once, refused before the token or body is read).
BOUNDS = [pytest.param({"CHAPERONE_INGEST_MAX_WAITING": "10"}, 200, id="log-full"),
          pytest.param({"CHAPERONE_MAX_IN_FLIGHT": "4"}, 60, id="in-flight")]


@pytest.mark.parametrize("bound, crowd", BOUNDS)
async def test_beyond_capacity_teams_is_told_to_retry_at_once_and_nothing_acknowledged_is_lost(bound, crowd, database_url, connector, graph):
    script_stream(graph, connector)
    env = dev_env(database_url, graph.base_url, **bound)
    async with run_app(env, connector.url) as app:
        meeting = MEETINGS[0]
        people = [Person(f"Crowd {n}", f"aad-crowd-{n:03d}") for n in range(crowd)]
        joins = [app.teams.join(meeting, [person], T0 + minutes(1)) for person in people]
        answers = await asyncio.gather(*(app.teams.post_with_headers(join) for join in joins))
        statuses = Counter(status for status, _, _ in answers)
        assert set(statuses) <= {200, 503} and statuses[503] > 0 and statuses[200] > 0, statuses
        refused = [join for join, (status, _, headers) in zip(joins, answers) if status == 503]
        assert all(headers.get("Retry-After") == "1" for status, _, headers in answers if status == 503)
        await app.idle()
        accepted = {join["id"] for join, (status, _, _) in zip(joins, answers) if status == 200}
        logged = {r["activity_key"].rsplit("|", 1)[-1] for r in await rows(app.services.engine, "inbound_events")}
        assert logged == accepted
        # Teams delivers what was refused again: one at a time, every one of them is taken, once.
        for join in refused:
            status, _ = await app.teams.post(join)
            assert status == 200
        await app.idle()
        [lesson] = await app.services.lessons.list_lessons()
        assert {a.person_id for a in lesson.attendance} == {p.aad_object_id for p in people}


async def test_an_event_without_a_timestamp_keeps_the_time_it_arrived_and_one_that_cannot_be_read_is_set_aside(database_url, connector, graph):
    script_stream(graph, connector)
    async with run_app(dev_env(database_url, graph.base_url), connector.url) as app:
        meeting = MEETINGS[0]
        await app.post_all([app.teams.meeting_start(meeting, T0)])
        late = app.teams.join(meeting, [PUPILS[0]], T0 + minutes(1))
        del late["timestamp"]
        status, _ = await app.teams.post(late)
        assert status == 200
        await app.idle()
        [logged] = [r for r in await rows(app.services.engine, "inbound_events") if r["kind"] == "participantJoin"]
        [lesson] = await app.services.lessons.list_lessons()
        [pupil] = [a for a in lesson.attendance if a.person_id == PUPILS[0].aad_object_id]
        # Derived with the time it was logged with, however long after it was derived.
        assert pupil.joined_at == logged["event_at"].replace(tzinfo=pupil.joined_at.tzinfo)

        # A logged event whose text no longer reads (a damaged row) is set aside, and the
        # meeting's events logged after it are still derived.
        async with app.services.engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO inbound_events (activity_key, meeting_id, kind, event_at, received_at, activity) "
                "VALUES ('damaged', :m, 'participantJoin', :at, :at, '{not json')"), {"m": meeting.id, "at": T0 + minutes(2)})
        await app.post_all([app.teams.join(meeting, [PUPILS[1]], T0 + minutes(3))])
        waiting = [r for r in await rows(app.services.engine, "inbound_events") if r["processed_at"] is None]
        assert waiting == []
        [lesson] = await app.services.lessons.list_lessons()
        assert PUPILS[1].aad_object_id in {a.person_id for a in lesson.attendance}


async def test_a_roster_check_waits_for_a_join_stamped_earlier_that_another_instance_is_deriving(any_database_url, connector, graph):
    """Teams does not promise order, and two instances derive side by side: a pupil's join
    stamped 09:02 can be logged after the 09:10 join was derived, and be under way elsewhere
    when the roster check falls due. Judged without it, the first pupil reads as alone with
    the staff from 09:01 to 09:10: a one-to-one session that never happened, sent to SLT."""
    script_stream(graph, connector)
    meeting, (first_pupil, late_pupil, last_pupil) = MEETINGS[0], PUPILS[:3]
    env = dev_env(any_database_url, graph.base_url, CHAPERONE_RUN_WORKER="0", CHAPERONE_WORKER_CONCURRENCY="1")
    async with run_app(env, connector.url) as app:
        teams, worker, jobs = app.teams, app.services.worker, app.services.jobs
        await sign_aup(app, TEACHER, TA)
        await app.post_all([teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL)])
        for activity in [teams.meeting_start(meeting, T0), teams.join(meeting, [TEACHER, TA], T0),
                         teams.join(meeting, [first_pupil], T0 + minutes(1)), teams.join(meeting, [last_pupil], T0 + minutes(10))]:
            status, body = await teams.post(activity)
            assert status == 200, body

        async def next_due() -> str | None:
            now = datetime.now(timezone.utc)
            due = sorted((r["priority"], r["id"], r["kind"]) for r in await rows(app.services.engine, "jobs")
                         if r["done_at"] is None and r["due_at"] <= now and (r["leased_until"] is None or r["leased_until"] < now))
            return due[0][2] if due else None

        # One job at a time, in the queue's order, until the roster check is next.
        for _ in range(20):
            if await next_due() == "roster-changed":
                break
            assert await worker.run_due() == 1
            await worker.wait_idle(timeout=10, horizon_seconds=-3600)  # the job just claimed has finished
        assert await next_due() == "roster-changed"
        # The 09:02 join arrives now, and another instance takes its derivation (a short lease).
        status, body = await teams.post(teams.join(meeting, [late_pupil], T0 + minutes(2)))
        assert status == 200, body
        [elsewhere] = await jobs.claim("another-instance", 1, 1.0)
        assert elsewhere.kind == "derive-events"

        assert await worker.run_due() == 1  # the roster check: the log is behind it, so it waits
        await worker.wait_idle(timeout=10, horizon_seconds=-3600)
        [lesson] = await app.services.lessons.list_lessons()
        one_to_one = [f for f in await app.services.findings.for_lesson(lesson.id) if f.rule_id == "one-to-one"]
        assert not [f for f in one_to_one if f.status is Status.failed], one_to_one
        # Asked for again (a fresh check, not a retry), once the join is derived.
        [again] = [r for r in await rows(app.services.engine, "jobs") if r["kind"] == "roster-changed" and r["done_at"] is None]
        assert again["attempts"] == 0 and again["leased_by"] is None

        # The other instance's lease lapses; this worker derives the join, and the check follows.
        worker.start()
        await worker.wait_idle(timeout=20, horizon_seconds=3)
        [lesson] = await app.services.lessons.list_lessons()
        assert {a.display_name for a in lesson.attendance} == {TEACHER.name, TA.name, first_pupil.name, late_pupil.name, last_pupil.name}
        [one_to_one] = [f for f in await app.services.findings.for_lesson(lesson.id) if f.rule_id == "one-to-one"]
        assert one_to_one.status is Status.passed and one_to_one.episode == 0, one_to_one.message
        alerts = [m for m in await app.services.outbox.all() if m.kind is MessageKind.slt_alert]
        assert alerts and not [m for m in alerts if one_to_one.id in m.finding_ids]
