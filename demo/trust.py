"""`python app.py demo --trust`: the demo morning as a multi-academy trust (trust.example/).

One Chaperone serves Valence School and Brook Primary School, and the trust's default policy
judges what neither claims. Each school's SLT sets its own alert channel; lessons run in both
schools; a breach in each school is posted in that school's channel; Mr Sam Reid teaches in
both (placed by Valence's timetable and by a Brook class team); a Meet Now nobody can place is
'school unknown', judged by the default policy and flagged for the trust's lead. The report
says which school each lesson was placed in, why, and which channel each alert went to.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path

from config.settings import Settings
from config.trust import Schools, load_schools
from domain.conversations import AlertDestination, AlertPurpose
from domain.enrolment import EnrolmentStatus
from domain.findings import StoredFinding
from domain.lesson import Lesson
from domain.messages import DeliveryStatus, Message, MessageKind
from domain.placement import Placement
from domain.school import Consent, TimetableEntry
from standins.connector import ConnectorStandIn
from standins.graph import GraphStandIn
from standins.server import free_port
from standins.teams import Meeting, Person, TeamsSimulator

from .harness import serve_in_process
from .morning import DEMO_APP_ID, HALE, OKAFOR, PUPILS, Scenario, _expect_ok, at, tab_address
from .report import render_findings, render_lesson

TRUST_FILE = Path(__file__).resolve().parent.parent / "trust.example" / "trust.toml"

VALENCE_STAFF_GROUP = "00000000-0000-4000-8000-00000000e002"
BROOK_STAFF_GROUP = "00000000-0000-4000-8000-00000000e012"
BROOK_EDU_SCHOOL = "edu-school-brook"  # brook.toml's [school] education_school_ids

# Each school's senior leader, and the trust's safeguarding lead (trust.example/).
VALENCE_SLT = Person("Roland Gooding", "00000000-0000-4000-8000-00000000a001")
BROOK_SLT = Person("Priya Shah", "00000000-0000-4000-8000-00000000b001")
TRUST_LEAD = Person("Helen Ward", "00000000-0000-4000-8000-00000000c001")

# Valence's staff are the morning demo's (OKAFOR, HALE); Brook's own; Mr Reid teaches in both.
EVANS = Person("Mrs Nia Evans", "demo-staff-evans", role="Organizer")
ASH = Person("Mr Ben Ash", "demo-staff-ash", role="Presenter")
REID = Person("Mr Sam Reid", "demo-staff-reid", role="Organizer")
VALENCE_PUPILS = PUPILS[:4]
BROOK_PUPILS = [Person(f"Pupil {name}", f"demo-pupil-{name.lower()}") for name in ("Gus", "Hana", "Ivo", "Jem")]

# Each school's SLT alert channel, and the trust leads' channel (for lessons no school claims).
CHANNELS = {
    "valence": ("19:demo-valence-slt-team@thread.tacv2", "19:demo-valence-slt-alerts@thread.tacv2", VALENCE_SLT),
    "brook": ("19:demo-brook-slt-team@thread.tacv2", "19:demo-brook-slt-alerts@thread.tacv2", BROOK_SLT),
    "trust": ("19:demo-trust-leads-team@thread.tacv2", "19:demo-trust-leads@thread.tacv2", TRUST_LEAD),
}
# A Brook class team (its group id is its education class id): its channel meeting is Brook's.
BROOK_CLASS_TEAM = "6b1e0c55-0000-4000-8000-0000000de4a4"


@dataclass
class TrustScenario(Scenario):
    # The school Chaperone should place the lesson in, and how.
    school: str = "valence"
    placement: Placement = Placement.staff_group


MUSIC = Meeting("19:meeting_demo-valence-music-10@thread.v2", "Year 10 Music (Valence)", REID)
SCENARIOS = [
    TrustScenario(
        Meeting("19:meeting_demo-valence-maths-7b@thread.v2", "Year 7 Maths (Valence)", OKAFOR),
        at(9, 0), at(9, 50), "compliant: lobby on, two staff throughout, in Valence's hours, on its timetable",
        [OKAFOR, HALE], VALENCE_PUPILS,
    ),
    TrustScenario(
        Meeting("19:meeting_demo-brook-reading-3@thread.v2", "Year 3 Reading (Brook)", EVANS),
        at(9, 30), at(10, 10), "compliant: Brook's teacher and teaching assistant throughout",
        [EVANS, ASH], BROOK_PUPILS, school="brook",
    ),
    TrustScenario(
        MUSIC, at(10, 0), at(10, 45),
        "Mr Reid teaches in both schools: this lesson is on Valence's timetable",
        [REID, HALE], VALENCE_PUPILS[:3], placement=Placement.timetable,
    ),
    TrustScenario(
        Meeting("19:meeting_demo-valence-science-9c@thread.v2", "Year 9 Science (Valence)", OKAFOR),
        at(11, 0), at(11, 55), "breach at Valence: the second member of staff leaves at 11:20 and does not come back",
        [OKAFOR, HALE], VALENCE_PUPILS, moves=[(20, HALE, False)],
    ),
    TrustScenario(
        Meeting("19:meeting_demo-chess-dropin@thread.v2", "Chess club drop-in", REID, meeting_type="MeetNow"),
        at(12, 15), at(12, 45),
        "nobody can place it: Mr Reid (both schools' staff), a Meet Now, no class team, on no timetable",
        [REID], [VALENCE_PUPILS[0], BROOK_PUPILS[0]], scheduled=False, school="trust", placement=Placement.unknown,
    ),
    TrustScenario(
        Meeting("19:meeting_demo-brook-art-4a@thread.v2", "Year 4 Art (Brook class team)", REID,
                team_id="19:demo-brook-4a-team@thread.tacv2", channel_id="19:demo-brook-4a-general@thread.tacv2",
                team_group_id=BROOK_CLASS_TEAM),
        at(13, 0), at(13, 45), "Mr Reid again, now in a Brook class team's channel meeting",
        [REID, ASH], BROOK_PUPILS, school="brook", placement=Placement.class_team,
    ),
    TrustScenario(
        Meeting("19:meeting_demo-brook-homework-5@thread.v2", "Year 5 Homework club (Brook)", EVANS),
        at(15, 45), at(16, 25), "breach at Brook: after Brook's operating hours (15:30), though within Valence's",
        [EVANS, ASH], BROOK_PUPILS[:3], school="brook",
    ),
]
# Valence has imported its MIS timetable; Brook relies on its calendar category.
VALENCE_TIMETABLE = [
    (OKAFOR, "7B", "Maths", time(9, 0), time(9, 50)),
    (REID, "10", "Music", time(10, 0), time(10, 45)),
    (OKAFOR, "9C", "Science", time(11, 0), time(11, 55)),
]


@dataclass
class AlertRoute:
    summary: str
    lesson_school: str
    channel: str | None  # where it was posted; None: not delivered
    status: DeliveryStatus
    error: str | None = None


@dataclass
class TrustDemoReport:
    schools: Schools
    lessons: list[Lesson]
    findings: dict[int, list[StoredFinding]]
    messages: dict[int, list[Message]]
    destinations: dict[str, AlertDestination | None]
    alerts: list[AlertRoute]
    replay_unchanged: bool
    database_url: str
    served_url: str
    notes: list[str] = field(default_factory=list)

    def school_of_channel(self, channel: str | None) -> str | None:
        return next((school for school, (_, ch, _) in CHANNELS.items() if ch == channel), None)

    @property
    def alerts_in_own_channels(self) -> bool:
        return bool(self.alerts) and all(self.school_of_channel(a.channel) == a.lesson_school for a in self.alerts)


def script_graph(graph: GraphStandIn, schools: Schools) -> None:
    """What Graph knows: each school's staff in its staff group (Mr Reid in both), pupils by the
    roster, the day's meetings and calendars, the Brook class team's school."""
    for person in (OKAFOR, HALE):
        graph.add_person(person.aad_object_id, primary_role="teacher", name=person.name, groups=(VALENCE_STAFF_GROUP,))
    for person in (EVANS, ASH):
        graph.add_person(person.aad_object_id, primary_role="teacher", name=person.name, groups=(BROOK_STAFF_GROUP,))
    graph.add_person(REID.aad_object_id, primary_role="teacher", name=REID.name, groups=(VALENCE_STAFF_GROUP, BROOK_STAFF_GROUP))
    for person in VALENCE_PUPILS + BROOK_PUPILS:
        graph.add_person(person.aad_object_id, primary_role="student", name=person.name)
    graph.class_schools[BROOK_CLASS_TEAM] = [BROOK_EDU_SCHOOL]
    for s in SCENARIOS:
        policy = schools.get(s.school)
        organizer = s.meeting.organizer.aad_object_id
        drop_in = [{"identity": {"user": {"id": p.aad_object_id, "displayName": p.name}}, "upn": None, "role": "attendee"}
                   for p in [*policy.people.slt, *policy.people.dsl]]
        meeting = s.meeting.online_meeting(s.start, s.end, lobby=s.lobby)
        meeting["participants"]["attendees"] = drop_in
        graph.add_meeting(organizer, meeting)
        if s.scheduled:
            invited = tuple(p for p in [*s.staff, *s.pupils] if p is not s.meeting.organizer)
            graph.calendars.setdefault(organizer, []).append(s.meeting.calendar_event(s.start, s.end, attendees=invited))
        graph.reports[s.meeting.graph_id] = [s.report()]


async def prepare_schools(services, schools: Schools, teams: TeamsSimulator) -> None:
    """Each school's registers and people, as its office and staff would have left them."""
    data = services.school_data
    for school, pupils in (("valence", VALENCE_PUPILS), ("brook", BROOK_PUPILS), ("trust", VALENCE_PUPILS[:1] + BROOK_PUPILS[:1])):
        consents = [(Consent(person=p.aad_object_id, kind=kind), "demo") for p in pupils
                    for kind in ("remote-learning", "pupil-aup", "image")]
        await data.replace_consents(consents, "demo", f"{school} consent register", school_id=school)
    entries = [(TimetableEntry(organizer=who.aad_object_id, class_name=cls, subject=subject, weekday=at(9).weekday(), starts=s, ends=e),
                f"line {n}") for n, (who, cls, subject, s, e) in enumerate(VALENCE_TIMETABLE, start=2)]
    await data.replace_timetable(entries, "demo", "valence timetable.csv", school_id="valence")
    # Staff have signed their school's AUP (Mr Reid both, and the trust's for its drop-ins).
    signers = {"valence": (OKAFOR, HALE, REID), "brook": (EVANS, ASH, REID), "trust": (REID,)}
    for school, people in signers.items():
        document = schools.get(school).aup_document()
        for person in people:
            await services.signatures.sign(aad_object_id=person.aad_object_id, tenant_id=teams.tenant_id, name=person.name,
                                           position="Teacher", version=document.version, sha256=document.sha256, school_id=school)
    # Each school's SLT member chooses their own school's alert channel; the trust's lead, who
    # could choose any school's, names the trust's own (for the lessons no school claims).
    for school, (team, channel, leader) in CHANNELS.items():
        command = "set alert channel" if schools.known(school) else f"set alert channel {school}"
        await _expect_ok(teams, teams.channel_message(command, leader, team_id=team, channel_id=channel))


async def follow_the_trust_day(database_url: str | None = None) -> TrustDemoReport:
    workdir = Path(tempfile.mkdtemp(prefix="chaperone-trust-demo-"))
    database_url = database_url or f"sqlite+aiosqlite:///{workdir}/demo.sqlite3"
    schools = load_schools(TRUST_FILE)
    with ConnectorStandIn() as connector, GraphStandIn() as graph:
        port = free_port()
        settings = Settings(
            graph_notification_url=f"http://127.0.0.1:{port}/api/graph/notifications", teams_app_id_override=DEMO_APP_ID,
            dev_mode=True, app_id="", database_url=database_url, policy_file=TRUST_FILE, graph_base_url=graph.base_url,
            attendance_report_delays=(0.2, 0.5), job_poll_seconds=0.2, roster_settle_seconds=0, _env_file=None,
        )
        for s in SCENARIOS:
            connector.add_meeting(s.meeting.id, s.meeting.info(s.start, s.end) if s.scheduled else s.meeting.info())
        script_graph(graph, schools)
        graph.publish_app(DEMO_APP_ID)
        async with serve_in_process(settings, schools, port=port) as served:
            services = served.services
            teams = TeamsSimulator(served.url, connector.url)
            await prepare_schools(services, schools, teams)
            sweep = await services.enrolment.sweep(now=at(7, 0))
            scripts = {s.meeting.id: s.activities(teams) for s in SCENARIOS}
            for scenario in sorted(SCENARIOS, key=lambda s: s.start):
                for activity, _ in scripts[scenario.meeting.id]:
                    await _expect_ok(teams, activity)
            await services.worker.wait_idle(timeout=30, horizon_seconds=5)
            lessons = await services.lessons.list_lessons()
            for activity, _ in scripts[SCENARIOS[0].meeting.id]:  # Teams redelivers: nothing changes
                await _expect_ok(teams, activity)
            await services.worker.wait_idle(timeout=30, horizon_seconds=5)
            unchanged = await services.lessons.list_lessons() == lessons
            findings = {lesson.id: await services.findings.for_lesson(lesson.id) for lesson in lessons}
            messages = {lesson.id: await services.outbox.all(lesson.id) for lesson in lessons}
            destinations = {school: await services.conversations.alert_destination(AlertPurpose.slt, school_id=school)
                            for school in CHANNELS}
    by_lesson = {lesson.id: lesson for lesson in lessons}
    alerts = [AlertRoute(summary=m.summary, lesson_school=by_lesson[m.lesson_id].school_id, status=m.status, error=m.last_error,
                         channel=m.conversation_id.split(";", 1)[0] if m.status is DeliveryStatus.sent and m.conversation_id else None)
              for lesson_messages in messages.values() for m in lesson_messages if m.kind is MessageKind.slt_alert]
    enrolled = [e.school_id for e in sweep.enrolments if e.status in (EnrolmentStatus.enrolled, EnrolmentStatus.already)]
    counts = [f"{schools.get(school).school.name} {enrolled.count(school)}" for school in schools.ids if school in enrolled]
    unplaced = sum(1 for school in enrolled if not schools.known(school))
    counts += [f"school unknown until the lesson starts {unplaced}"] if unplaced else []
    return TrustDemoReport(
        schools=schools, lessons=lessons, findings=findings, messages=messages, destinations=destinations, alerts=alerts,
        replay_unchanged=unchanged, database_url=database_url, served_url=served.url,
        notes=[
            f"Enrolment: the 07:00 sweep read each school's staff group (Mr Reid's calendar once) and installed Chaperone in "
            f"{len(enrolled)} lessons' meeting chats ({', '.join(counts)}).",
            "Valence has imported its timetable; Brook's lessons are timetabled by their calendar category.",
        ],
    )


def _school_name(schools: Schools, school_id: str | None) -> str:
    policy = schools.get(school_id)
    return policy.school.name if schools.known(school_id) else f"{policy.school.name} (school unknown)"


def render_placement(lesson: Lesson, schools: Schools) -> list[str]:
    policy = schools.get(lesson.school_id)
    if lesson.placement is Placement.unknown:
        leads = ", ".join(lead.name for lead in schools.leads) or "the trust's leads"
        return [f"  SCHOOL UNKNOWN: {lesson.placement_reason}",
                f"    kept under and judged by {policy.school.name}'s default policy ({policy.school.id}); flagged for {leads}"]
    return [f"  school: {policy.school.name} ({lesson.placement.value}: {lesson.placement_reason})"]


def render_trust_report(report: TrustDemoReport) -> str:
    schools = report.schools
    out = [f"Chaperone demo: {schools.name}, one Chaperone for {len(schools)} schools, one day followed through /api/messages",
           "=" * 78, *report.notes]
    for school, destination in report.destinations.items():
        name = _school_name(schools, school) if school != "trust" else f"{schools.name} (the trust's leads)"
        where = f"{destination.conversation.channel_id} (set by {destination.set_by_name})" if destination else "NOT SET"
        out.append(f"{name} alert channel: {where}")
    out.append("")
    for lesson in sorted(report.lessons, key=lambda l: l.actual_start or l.actual_end):
        policy = schools.get(lesson.school_id)
        expectation = next((s.expect for s in SCENARIOS if s.meeting.id == lesson.meeting_id), None)
        out.extend(render_lesson(lesson, policy, expectation))
        out.extend(render_placement(lesson, schools))
        out.extend(render_findings(policy, report.findings.get(lesson.id, [])))
        out.append("")
    out.append("Alerts to SLT, and where each went:")
    for alert in report.alerts:
        to = report.school_of_channel(alert.channel)
        owner = f"{_school_name(schools, to)}'s" if to != "trust" else f"{schools.name} leads'"
        where = f"{owner} channel {alert.channel}" if alert.channel else f"NOT DELIVERED ({alert.status.value}: {alert.error or 'no channel'})"
        verdict = "" if to == alert.lesson_school else f"  [WRONG: the lesson is {_school_name(schools, alert.lesson_school)}'s]"
        out.append(f"  {alert.summary} -> {where}{verdict}")
    out.append("Each alert in its own school's channel: " + ("yes" if report.alerts_in_own_channels else "NO (a defect)"))
    out.append(f"Redelivery: register {'unchanged' if report.replay_unchanged else 'CHANGED (a defect)'}.")
    out.append(f"Database: {report.database_url}")
    return "\n".join(out)


async def run_trust_demo(database_url: str | None = None, serve: bool = False, port: int | None = None) -> int:
    logging.getLogger().setLevel(logging.ERROR)  # the report says what matters
    report = await follow_the_trust_day(database_url)
    print(render_trust_report(report))
    if not serve:
        print(f"Tab (while the demo ran): {tab_address(report.served_url)}; `python app.py demo --trust --serve` keeps it open.")
        return 0 if report.replay_unchanged and report.alerts_in_own_channels else 1
    await serve_the_trust_record(report.database_url, port)
    return 0


async def serve_the_trust_record(database_url: str, port: int | None = None) -> None:
    """Keep the trust's Chaperone running on the demo's database (dev mode) until interrupted,
    for the tab in a browser."""
    import asyncio

    from tab.settings import TabSettings

    settings = Settings(dev_mode=True, app_id="", database_url=database_url, policy_file=TRUST_FILE,
                        graph_base_url="http://127.0.0.1:9/v1.0", _env_file=None)
    async with serve_in_process(settings, load_schools(TRUST_FILE), TabSettings(dev_mode=True, _env_file=None), port=port) as served:
        print(f"Tab: {tab_address(served.url)}  (dev sign-in; Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()


__all__ = ["SCENARIOS", "TrustDemoReport", "follow_the_trust_day", "render_trust_report", "run_trust_demo"]
