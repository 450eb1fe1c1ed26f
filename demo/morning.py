"""A scripted school day, followed by Chaperone through its real HTTP endpoint.

Teams and the Bot Connector are the local stand-ins; everything else is the product:
the aiohttp app, the Bot Framework adapter, the lesson monitor and the database.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from config.policy import Policy, load_policy
from config.settings import Settings
from config.startup import EXAMPLE_POLICY
from domain.conversations import AlertPurpose
from domain.enrolment import EnrolmentStatus
from domain.school import Consent
from standins.connector import ConnectorStandIn
from standins.graph import GraphStandIn
from standins.server import free_port
from domain.attendance import ParticipantEvent, intervals_from_events
from standins.teams import Meeting, Person, TeamsSimulator, attendance_report

from .harness import serve_in_process
from .report import DemoReport, render_report

LONDON = ZoneInfo("Europe/London")
DAY = datetime(2026, 11, 23, tzinfo=LONDON)  # a Monday in term time

SLT = Person("Roland Gooding", "00000000-0000-4000-8000-00000000a001")
OKAFOR = Person("Ms Amara Okafor", "demo-staff-okafor", role="Organizer")
HALE = Person("Mr Tom Hale", "demo-staff-hale", role="Presenter")
PATEL = Person("Mrs Nisha Patel", "demo-staff-patel", role="Organizer")
REID = Person("Mr Sam Reid", "demo-staff-reid", role="Presenter")
PUPILS = [Person(f"Pupil {name}", f"demo-pupil-{name.lower()}") for name in ("Alex", "Bea", "Cal", "Dev", "Eli", "Fay")]
KHAN = Person("Mr Idris Khan", "demo-staff-khan", role="Organizer")
VISITOR = Person("Visiting Speaker", "demo-guest-speaker", tenant_id="another-tenant-0000")

# Chaperone's package in the school's app catalog (its manifest id), and the staff group.
DEMO_APP_ID = "0c4a9e00-0000-4000-8000-0000000de300"
STAFF_GROUP = "00000000-0000-4000-8000-00000000e002"
# A direct call nobody added Chaperone to: Mr Reid and Pupil Fay, 16:50 to 17:02.
DIRECT_CALL = "5e0c0a11-0000-4000-8000-0000000de301"

SLT_TEAM = "19:demo-slt-team@thread.tacv2"
SLT_CHANNEL = "19:demo-slt-alerts@thread.tacv2"


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


@dataclass
class Scenario:
    """One lesson: what happens in it, and what a reviewer should expect Chaperone to say."""

    meeting: Meeting
    start: datetime
    end: datetime
    expect: str
    staff: list[Person]
    pupils: list[Person]
    # (minutes after start, person, joined?) beyond everyone joining at the start
    moves: list[tuple[int, Person, bool]] = field(default_factory=list)
    scheduled: bool = True
    # Invited people bypass the lobby; SLT and the DSL are invited to every series, so they can
    # drop in without the teacher letting them in.
    lobby: str = "invited"
    # A pupil whose join event never reaches Chaperone; Graph's attendance report has them.
    unseen: Person | None = None
    # Moves that happened but whose events Teams never delivered: only the report has them.
    lost: list[tuple[int, Person, bool]] = field(default_factory=list)
    # The organizer changes Meeting options mid-lesson: (minutes after start, Graph changes).
    option_changes: list[tuple[int, dict]] = field(default_factory=list)
    # Teams delivers the moves in the opposite order to the one they happened in.
    moves_out_of_order: bool = False
    # SLT's approval of a one-to-one session, recorded this many minutes after the start.
    approved_after: int | None = None

    def activities(self, teams: TeamsSimulator) -> list[tuple[dict, dict | None]]:
        """Each activity, with the Meeting options change made just before it (if any)."""
        m, t = self.meeting, self.start
        out = [teams.meeting_start(m, t), teams.join(m, self.staff, t + timedelta(minutes=1))]
        out.append(teams.join(m, self.pupils, t + timedelta(minutes=2)))
        moves = [(offset, teams.participants(m, [person], t + timedelta(minutes=offset), joined=joined))
                 for offset, person, joined in self.moves]
        changes = dict(self.option_changes)
        steps = [(a, None) for a in out]
        for offset, activity in (reversed(moves) if self.moves_out_of_order else moves):
            steps.append((activity, changes.pop(offset - 1, None)))
        steps.append((teams.meeting_end(m, self.end), None))
        return steps

    def report(self) -> dict:
        """Graph's attendance report: what happened, including the pupil whose join was not seen."""
        events: dict[Person, list[ParticipantEvent]] = {}
        for offset, people in ((1, self.staff), (2, [*self.pupils, *([self.unseen] if self.unseen else [])])):
            for person in people:
                events.setdefault(person, []).append(ParticipantEvent(at=self.start + timedelta(minutes=offset), joined=True))
        for offset, person, joined in self.moves + self.lost:
            events.setdefault(person, []).append(ParticipantEvent(at=self.start + timedelta(minutes=offset), joined=joined))
        rows = [
            (person, interval.joined_at, interval.left_at)
            for person, person_events in events.items()
            for interval in intervals_from_events(person_events, end=self.end)
        ]
        return attendance_report(f"report-{self.meeting.thread_id[9:25]}", self.start, self.end, rows)


SCENARIOS = [
    Scenario(
        Meeting("19:meeting_demo-maths-7b@thread.v2", "Year 7 Maths (7B)", OKAFOR),
        at(9, 0), at(9, 50),
        "compliant: lobby on, two staff throughout, in hours, timetabled",
        [OKAFOR, HALE], PUPILS[:4],
    ),
    Scenario(
        Meeting("19:meeting_demo-english-8a@thread.v2", "Year 8 English (8A)", PATEL),
        at(10, 0), at(10, 45),
        "lobby off: anyone with the link bypasses the waiting room",
        [PATEL, REID], PUPILS[2:6],
        lobby="everyone",
    ),
    Scenario(
        Meeting("19:meeting_demo-science-9c@thread.v2", "Year 9 Science (9C)", OKAFOR),
        at(11, 0), at(11, 55),
        "the second member of staff leaves at 11:20 and does not come back",
        [OKAFOR, HALE], PUPILS[:5],
        moves=[(20, HALE, False), (30, VISITOR, True), (40, VISITOR, False)],
        unseen=PUPILS[5],
    ),
    Scenario(
        Meeting("19:meeting_demo-history-10@thread.v2", "Year 10 History catch-up", PATEL),
        at(19, 30), at(20, 15),
        "outside operating hours (evening session)",
        [PATEL, REID], PUPILS[:3],
    ),
    Scenario(
        Meeting("19:meeting_demo-art-dropin@thread.v2", "Art drop-in", REID, meeting_type="MeetNow"),
        at(13, 30), at(14, 0),
        "not timetabled: a Meet Now call with no calendar event",
        [REID, HALE], PUPILS[3:6],
        scheduled=False,
    ),
    Scenario(
        Meeting("19:meeting_demo-music-10@thread.v2", "Year 10 Music 1:1 catch-up", PATEL),
        at(12, 0), at(12, 30),
        "a one-to-one session SLT approved only after it had started (12:10), and no recording kept",
        [PATEL, REID], [PUPILS[1]],
        approved_after=10,
    ),
    Scenario(
        Meeting("19:meeting_demo-drama-8@thread.v2", "Year 8 Drama", PATEL),
        at(15, 10), at(15, 55),
        "the lobby opened mid-lesson (15:25), an uninvited pupil walked in, and it closed again (15:50)",
        [PATEL, REID], PUPILS[:3],
        moves=[(16, PUPILS[3], True), (31, PUPILS[3], False), (41, PUPILS[3], True)],
        option_changes=[(15, {"lobbyBypassSettings": {"scope": "everyone"}}), (40, {"lobbyBypassSettings": {"scope": "invited"}})],
    ),
    Scenario(
        Meeting("19:meeting_demo-french-7@thread.v2", "Year 7 French", PATEL),
        at(16, 0), at(16, 40),
        "events out of order, and the TA's leave (16:15) never delivered: Graph's report shows it",
        [PATEL, REID], PUPILS[:3],
        moves=[(10, PUPILS[0], False), (20, PUPILS[0], True)],
        lost=[(15, REID, False)],
        moves_out_of_order=True,
    ),
    Scenario(
        Meeting("19:meeting_demo-geography-11@thread.v2", "Year 11 Geography", KHAN),
        at(14, 10), at(15, 0),
        "the IT team has not yet added this teacher to the Teams application access policy",
        [KHAN, HALE], PUPILS[:4],
    ),
]
# Graph answers 403 for this organizer's meetings and calendar.
NOT_IN_ACCESS_POLICY = KHAN
# The one pupil whose Consent for Remote Learning Form has not come back.
NO_CONSENT = PUPILS[4]


def script_graph(graph: GraphStandIn, policy: Policy) -> None:
    """What Microsoft Graph knows about the school's people and this day's meetings."""
    graph.denied.add(NOT_IN_ACCESS_POLICY.aad_object_id)
    for person in (OKAFOR, HALE, PATEL, REID, KHAN):
        graph.add_person(person.aad_object_id, primary_role="teacher", name=person.name, groups=(STAFF_GROUP,))
    for person in PUPILS:
        graph.add_person(person.aad_object_id, primary_role="student", name=person.name)
    graph.add_person(VISITOR.aad_object_id, user_type="Guest", name=VISITOR.name)
    for s in SCENARIOS:
        organizer = s.meeting.organizer.aad_object_id
        drop_in = [{"identity": {"user": {"id": p.aad_object_id, "displayName": p.name}}, "upn": None, "role": "attendee"}
                   for p in [*policy.people.slt, *policy.people.dsl]]
        meeting = s.meeting.online_meeting(s.start, s.end, lobby=s.lobby)
        meeting["participants"]["attendees"] = drop_in
        graph.add_meeting(organizer, meeting)
        if s.scheduled:
            invited = tuple(p for p in [*s.staff, *s.pupils, *([s.unseen] if s.unseen else [])] if p is not s.meeting.organizer)
            graph.calendars.setdefault(organizer, []).append(s.meeting.calendar_event(s.start, s.end, attendees=invited))
        graph.reports[s.meeting.graph_id] = [s.report()]
    call_start, call_end = at(16, 50), at(17, 2)
    graph.add_call_record(DIRECT_CALL, kind="peerToPeer", organizer=(REID.aad_object_id, REID.name, REID.tenant_id),
                          start=call_start, end=call_end,
                          participants=[(p.aad_object_id, p.name, p.tenant_id, call_start, call_end) for p in (REID, PUPILS[5])])


def tab_address(base_url: str) -> str:
    """The tab's Today page for the demo's school day (dev mode: a visible sign-in picks who to be)."""
    return f"{base_url}/tab/today?date={DAY.date().isoformat()}"


async def run_demo(database_url: str | None = None, serve: bool = False, port: int | None = None) -> int:
    logging.getLogger().setLevel(logging.ERROR)  # the report says what matters
    report = await follow_the_day(database_url)
    print(render_report(report))
    if not serve:
        print(f"Tab (while the demo ran): {tab_address(report.served_url)}; `python app.py demo --serve` keeps it open.")
        return 0 if report.replay_unchanged else 1
    await serve_the_record(report.database_url, port)
    return 0


async def serve_the_record(database_url: str, port: int | None = None) -> None:
    """Keep Chaperone running on the demo's database, in dev mode, until interrupted, so the tab
    can be opened in a browser (Teams single sign-on is off; the tab offers a dev sign-in)."""
    import asyncio

    from tab.settings import TabSettings

    settings = Settings(dev_mode=True, app_id="", database_url=database_url, policy_file=EXAMPLE_POLICY,
                        graph_base_url="http://127.0.0.1:9/v1.0", _env_file=None)
    async with serve_in_process(settings, load_policy(EXAMPLE_POLICY), TabSettings(dev_mode=True, _env_file=None), port=port) as served:
        print(f"Tab: {tab_address(served.url)}  (dev sign-in; Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()


async def follow_the_day(database_url: str | None = None) -> DemoReport:
    workdir = Path(tempfile.mkdtemp(prefix="chaperone-demo-"))
    database_url = database_url or f"sqlite+aiosqlite:///{workdir}/demo.sqlite3"
    policy = load_policy(EXAMPLE_POLICY)
    with ConnectorStandIn() as connector, GraphStandIn() as graph:
        port = free_port()
        settings = Settings(
            graph_notification_url=f"http://127.0.0.1:{port}/api/graph/notifications",
            teams_app_id_override=DEMO_APP_ID,
            dev_mode=True,
            app_id="",
            database_url=database_url,
            policy_file=EXAMPLE_POLICY,
            graph_base_url=graph.base_url,
            attendance_report_delays=(0.2, 0.5),
            job_poll_seconds=0.2,
            roster_settle_seconds=0,
            _env_file=None,
        )
        for s in SCENARIOS:
            connector.add_meeting(s.meeting.id, s.meeting.info(s.start, s.end) if s.scheduled else s.meeting.info())
        script_graph(graph, policy)
        graph.publish_app(DEMO_APP_ID)
        async with serve_in_process(settings, policy, port=port) as served:
            # The office has every consent form back except one pupil's.
            consents = [(Consent(person=p.aad_object_id, kind="remote-learning"), "demo") for p in PUPILS if p is not NO_CONSENT]
            consents += [(Consent(person=p.aad_object_id, kind="one-to-one"), "demo") for s in SCENARIOS if s.approved_after
                         for p in s.pupils]
            # Every Pupil/Parent AUP Agreement and image consent is back.
            consents += [(Consent(person=p.aad_object_id, kind=kind), "demo") for p in PUPILS for kind in ("pupil-aup", "image")]
            await served.services.school_data.replace_consents(consents, "demo", "demo consent register")
            teams = TeamsSimulator(served.url, connector.url)
            await _expect_ok(teams, teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL))
            # Staff sign the AUP in Teams the week before; one teacher has not got round to it.
            document = served.services.signing.document
            for person in (OKAFOR, HALE, PATEL, REID):
                await _expect_ok(teams, teams.personal_message("sign", person))
                data = {"version": document.version, "sha256": document.sha256, "name": person.name,
                        "position": "Teacher", "understood": "true"}
                await _expect_ok(teams, teams.card_action("signAup", data, person, conversation_id=f"a:{person.teams_id}",
                                                          conversation_type="personal"))
            # 07:00: Chaperone sweeps the staff's calendars and installs itself in the day's lessons,
            # and subscribes to calendar changes and call records (Graph validates its endpoint first).
            sweep = await served.services.enrolment.sweep(now=at(7, 0))
            await served.services.subscriptions.maintain()
            scripts = {s.meeting.id: s.activities(teams) for s in SCENARIOS}
            for scenario in sorted(SCENARIOS, key=lambda s: s.start):
                for activity, options in scripts[scenario.meeting.id]:
                    if options:
                        # The organizer changes Meeting options: Chaperone sees it at the next roster change.
                        await served.services.worker.wait_idle(timeout=30)
                        graph.change_meeting(scenario.meeting.organizer.aad_object_id, scenario.meeting.graph_id, **options)
                    await _expect_ok(teams, activity)
                    if scenario.option_changes:
                        # Minutes apart in a real lesson: each roster change is followed up on its own.
                        await served.services.worker.wait_idle(timeout=30)
                if scenario.approved_after is not None:
                    await served.services.exceptions.approve(
                        rule_id="one-to-one", meeting_id=scenario.meeting.id, reason="catch-up before the mock exam",
                        approver_id=SLT.aad_object_id, approver_name=SLT.name,
                        approved_at=scenario.start + timedelta(minutes=scenario.approved_after))
            # 17:02: the direct call ends; Graph's change notification says a call record exists.
            held = {sub.purpose.value: sub for sub in await served.services.subscriptions.held()}
            await graph.notify(held["call-records"].id, resource=f"communications/callRecords/{DIRECT_CALL}",
                               resource_data={"id": DIRECT_CALL})
            await served.services.worker.wait_idle(timeout=30, horizon_seconds=5)
            lessons = await served.services.lessons.list_lessons()
            # Teams may deliver an activity twice: replay the first lesson's, exactly as sent.
            replayed = [activity for activity, _ in scripts[SCENARIOS[0].meeting.id]]
            for activity in replayed:
                await _expect_ok(teams, activity)
            await served.services.worker.wait_idle(timeout=30, horizon_seconds=5)
            unchanged = await served.services.lessons.list_lessons() == lessons
            destination = await served.services.conversations.alert_destination(AlertPurpose.slt)
            findings = {lesson.id: await served.services.findings.for_lesson(lesson.id) for lesson in lessons}
            messages = {lesson.id: await served.services.outbox.all(lesson.id) for lesson in lessons}
        report = DemoReport(
            policy=policy,
            lessons=lessons,
            findings=findings,
            messages=messages,
            expectations={s.meeting.id: s.expect for s in SCENARIOS} | {
                f"callrecord:{DIRECT_CALL}": "a direct call between a teacher and one pupil that nobody added Chaperone to: "
                                             "found afterwards in Graph's call record"},
            alert_destination=destination,
            connector_calls=len(connector.requests()),
            graph_calls=len(graph.requests()),
            replayed=len(replayed),
            replay_unchanged=unchanged,
            database_url=database_url,
            served_url=served.url,
            notes=[
                f"Enrolment: the 07:00 sweep installed Chaperone in {sweep.count(EnrolmentStatus.enrolled)} lessons' meeting chats "
                f"(nobody had to add it); {sweep.count(EnrolmentStatus.failed)} teacher's calendar could not be read "
                f"({next((e.reason for e in sweep.enrolments if e.status is EnrolmentStatus.failed), 'none')[:90]}...).",
                f"Consent register: every pupil's Consent for Remote Learning Form is on file except {NO_CONSENT.name}'s.",
                f"Access policy: {NOT_IN_ACCESS_POLICY.name} is not yet covered by the Teams application access policy.",
                f"AUP: every member of staff has signed version {policy.aup.version} in Teams except {NOT_IN_ACCESS_POLICY.name}.",
            ],
        )
    return report


async def _expect_ok(teams: TeamsSimulator, activity: dict) -> None:
    status, body = await teams.post(activity)
    if status != 200:
        raise RuntimeError(f"Chaperone answered {status} to {activity.get('type')} {activity.get('name', '')}: {body}")
