"""Everything the tests share that is not a fixture: people, meetings and times; the app on a
port (`run_app`, `dev_env`); the Graph and connector script of one lesson; reading cards and
tables. Test files import from here, never from each other or from conftest.py."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event, select, text

from app import Services
from config.startup import read_schools, read_settings
from demo.harness import serve_in_process
from standins.teams import Meeting, Person, TeamsSimulator

POLICY = Path(__file__).parent.parent / "policy.example.toml"

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday, 09:00 in London

TEACHER = Person("Ms Amara Okafor", "aad-teacher-0001", role="Organizer")
TA = Person("Mr Tom Hale", "aad-ta-0002", role="Presenter")
PUPIL_A = Person("Pupil Alex", "aad-pupil-0001")
PUPIL_B = Person("Pupil Bea", "aad-pupil-0002")
GUEST = Person("Guest Visitor", "aad-guest-0001", tenant_id="other-tenant-0000")
SLT = Person("Roland Gooding", "00000000-0000-4000-8000-00000000a001")

MATHS = Meeting("19:meeting_maths7b@thread.v2", "Year 7 Maths", TEACHER)

SLT_TEAM = "19:team-slt-0001@thread.tacv2"
SLT_CHANNEL = "19:slt-alerts-0001@thread.tacv2"
DSL_ID = "00000000-0000-4000-8000-00000000a003"


# --- A two-school trust (trust.example/): Valence School and Brook Primary School ----------

TRUST_FILE = Path(__file__).parent.parent / "trust.example" / "trust.toml"
VALENCE_STAFF_GROUP = "00000000-0000-4000-8000-00000000e002"
BROOK_STAFF_GROUP = "00000000-0000-4000-8000-00000000e012"
VALENCE_EDU_SCHOOL = "edu-school-valence"
BROOK_EDU_SCHOOL = "edu-school-brook"
VALENCE_SLT = SLT  # Roland Gooding, Valence's principal
VALENCE_DSL = Person("Lisa Kavanagh", "00000000-0000-4000-8000-00000000a003")
BROOK_SLT = Person("Priya Shah", "00000000-0000-4000-8000-00000000b001")
BROOK_DSL = Person("Owen Price", "00000000-0000-4000-8000-00000000b003")
TRUST_LEAD = Person("Helen Ward", "00000000-0000-4000-8000-00000000c001")
BROOK_TEACHER = Person("Mrs Nia Evans", "aad-teacher-0101", role="Organizer")
BROOK_PUPIL = Person("Pupil Cai", "aad-pupil-0101")
# Works in both schools: in both staff groups, so the class team or the timetable places her lessons.
SHARED_TEACHER = Person("Mr Sam Reid", "aad-teacher-0201", role="Organizer")
BROOK_READING = Meeting("19:meeting_brook_reading3@thread.v2", "Year 3 Reading", BROOK_TEACHER)


def script_trust_people(graph) -> None:
    """The trust's people at the Graph stand-in: each teacher in their school's staff group
    (the shared teacher in both), pupils by the education roster."""
    graph.add_person(TEACHER.aad_object_id, primary_role="teacher", name=TEACHER.name, groups=(VALENCE_STAFF_GROUP,))
    graph.add_person(TA.aad_object_id, primary_role="teacher", name=TA.name, groups=(VALENCE_STAFF_GROUP,))
    graph.add_person(BROOK_TEACHER.aad_object_id, primary_role="teacher", name=BROOK_TEACHER.name, groups=(BROOK_STAFF_GROUP,))
    graph.add_person(SHARED_TEACHER.aad_object_id, primary_role="teacher", name=SHARED_TEACHER.name,
                     groups=(VALENCE_STAFF_GROUP, BROOK_STAFF_GROUP))
    for pupil in (PUPIL_A, PUPIL_B, BROOK_PUPIL):
        graph.add_person(pupil.aad_object_id, primary_role="student", name=pupil.name)


def trust_env(database_url: str, graph_url: str = "http://127.0.0.1:9/v1.0", **extra: str) -> dict[str, str]:
    """`dev_env` with the example trust's file: two schools and the trust's default policy."""
    return dev_env(database_url, graph_url, CHAPERONE_POLICY_FILE=str(TRUST_FILE), **extra)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


END = T0 + minutes(50)


# --- The real app on a port ---------------------------------------------------------------


@dataclass
class RunningApp:
    url: str
    services: Services
    teams: TeamsSimulator

    async def post_all(self, activities: list[dict]) -> None:
        """POST each activity (each must be accepted), then let the queued jobs finish."""
        for activity in activities:
            status, body = await self.teams.post(activity)
            assert status == 200, body
        await self.idle()

    async def idle(self) -> None:
        await self.services.worker.wait_idle()


def dev_env(database_url: str, graph_url: str = "http://127.0.0.1:9/v1.0", **extra: str) -> dict[str, str]:
    env = {
        "CHAPERONE_DEV_MODE": "1",
        "CHAPERONE_DATABASE_URL": database_url,
        "CHAPERONE_POLICY_FILE": str(POLICY),
        "CHAPERONE_GRAPH_BASE_URL": graph_url,
        "CHAPERONE_GRAPH_TIMEOUT_SECONDS": "5",
        "CHAPERONE_ATTENDANCE_REPORT_DELAYS": "0,60",  # first look at once; the next is after the test
        "CHAPERONE_JOB_POLL_SECONDS": "0.05",  # jobs left by another instance, and retries, are picked up at once
        "CHAPERONE_ROSTER_SETTLE_SECONDS": "0",
        "CHAPERONE_RETRY_BASE_SECONDS": "0.2",
    }
    env.update(extra)
    return env


@asynccontextmanager
async def run_app(env: dict[str, str], service_url: str, token: Callable[[str], str] | None = None,
                  tab=None, port: int | None = None) -> AsyncIterator[RunningApp]:
    """The real aiohttp application, on a free loopback port, configured by `env` alone (and the
    tab's settings, when given: they are read at start-up, after `env` is restored)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = read_settings()
        policy = read_schools(settings)  # a school's policy file or a trust file
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    async with serve_in_process(settings, policy, tab, port=port) as served:
        yield RunningApp(served.url, served.services, TeamsSimulator(served.url, service_url, token=token))


def policy_with(tmp_path, **replacements: str) -> str:
    """A copy of the example policy with some lines changed (the AUP text still found)."""
    text_ = POLICY.read_text().replace('source = "policies/', f'source = "{POLICY.parent}/policies/')
    for old, new in replacements.items():
        assert old in text_
        text_ = text_.replace(old, new)
    path = tmp_path / "policy.toml"
    path.write_text(text_)
    return str(path)


# --- One lesson, scripted at the stand-ins -------------------------------------------------


def script(graph, connector, lobby: str = "organizer", **overrides) -> None:
    """Year 7 Maths at the connector and Graph stand-ins: the meeting, its settings and calendar
    event, and the roles of the teacher, the TA and two pupils."""
    connector.add_meeting(MATHS.id, MATHS.info(T0, END))
    graph.add_meeting(TEACHER.aad_object_id, MATHS.online_meeting(T0, END, lobby=lobby, **overrides))
    # Invited as a class is: the TA and both pupils, with the session's expectations.
    graph.calendars[TEACHER.aad_object_id] = [MATHS.calendar_event(T0, END, attendees=(TA, PUPIL_A, PUPIL_B))]
    for person in (TEACHER, TA):
        graph.add_person(person.aad_object_id, primary_role="teacher", name=person.name)
    for person in (PUPIL_A, PUPIL_B):
        graph.add_person(person.aad_object_id, primary_role="student", name=person.name)


async def only_lesson(app):
    [lesson] = await app.services.lessons.list_lessons()
    return lesson


async def sign_aup(app, *people):
    document = app.services.signing.document
    for person in people:
        await app.services.signatures.sign(aad_object_id=person.aad_object_id, tenant_id=app.teams.tenant_id, name=person.name,
                                           position="Teacher", version=document.version, sha256=document.sha256)


async def lobby_off_lesson(app, connector, graph, *, set_channel: bool = True):
    """Maths with the lobby off (the only thing wrong), the SLT channel set, everyone joined."""
    script(graph, connector, lobby="everyone")
    await sign_aup(app, TEACHER, TA)  # so the lobby is the only thing wrong
    teams = app.teams
    if set_channel:
        await app.post_all([teams.channel_message("set alert channel", SLT, team_id=SLT_TEAM, channel_id=SLT_CHANNEL)])
    connector.clear()
    await app.post_all(
        [teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA], T0), teams.join(MATHS, [PUPIL_A, PUPIL_B], T0 + minutes(1))]
    )
    [lesson] = await app.services.lessons.list_lessons()
    return lesson


async def two_staff_finding(app, lesson_id):
    return next((f for f in await app.services.findings.for_lesson(lesson_id) if f.rule_id == "two-staff"), None)


# --- What was sent ---------------------------------------------------------------------------


def cards_in(activities: list[dict]) -> list[dict]:
    return [a["attachments"][0]["content"] for a in activities if a.get("attachments")]


def all_text(card: dict) -> str:
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "title", "value") and isinstance(value, str):
                    found.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(found)


def alert_posts(connector) -> list[dict]:
    return [c.body for c in connector.requests("POST", "/v3/conversations") if c.path == "/v3/conversations"
            and (c.body.get("channelData") or {}).get("channel", {}).get("id") == SLT_CHANNEL]


# --- What was stored -------------------------------------------------------------------------


async def row_counts(services) -> dict[str, int]:
    counts = {}
    async with services.engine.connect() as conn:
        for table in ("lessons", "attendance", "processed_activities", "conversations", "alert_destinations"):
            counts[table] = (await conn.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one()
    return counts


async def eventually(probe, timeout: float = 15.0, interval: float = 0.05):
    """Poll the async `probe` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)


@asynccontextmanager
async def migrated(database_url: str):
    """An engine on `database_url` with the schema migrated, disposed of afterwards: for the
    repositories' own tests."""
    from store.db import create_engine, migrate

    engine = create_engine(database_url)
    await migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def rows(engine, table: str) -> list[dict]:
    """Every row of `table`, oldest first, read with SQL through the table definitions (JSON
    and times decoded): for registers with no reading path of their own yet (the audit log,
    concerns, the job queue), so the tests need no store method of their own."""
    from store.tables import Base

    table_ = Base.metadata.tables[table]
    async with engine.connect() as conn:
        result = await conn.execute(select(table_).order_by(*table_.primary_key.columns))
        return [dict(row) for row in result.mappings()]


# --- The real app on its own thread (for Hypothesis, whose tests are synchronous) -------------

from contextlib import contextmanager  # noqa: E402 - this file grows by appending


@dataclass
class ThreadedApp:
    app: RunningApp
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine, timeout: float = 60):
        """Run `coroutine` on the app's own loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@contextmanager
def app_in_thread(env: dict[str, str], service_url: str, token: Callable[[str], str] | None = None):
    """`run_app` on an event loop in a thread of its own, so a synchronous test can drive it
    over HTTP and still read its database through `ThreadedApp.run`."""
    import threading

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="chaperone-app", daemon=True)
    thread.start()
    serving = run_app(env, service_url, token)
    try:
        running = asyncio.run_coroutine_threadsafe(serving.__aenter__(), loop).result(60)
        try:
            yield ThreadedApp(running, loop)
        finally:
            asyncio.run_coroutine_threadsafe(serving.__aexit__(None, None, None), loop).result(60)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# --- The Teams tab (issue 15) ---------------------------------------------------------------

TAB_APP_ID = "3f6a5c1e-1111-4222-8333-944455556666"
TAB_HOST = "chaperone.valence.example"
TAB_RESOURCE = f"api://{TAB_HOST}/{TAB_APP_ID}"
SCHOOL_TENANT = "5f1b3a1e-0000-4000-8000-5c8001000001"  # policy.example.toml's [school] tenant_id


def tab_settings(identity):
    """The tab with Teams single sign-on against the Entra stand-in `identity`."""
    from tab.settings import TabSettings

    return TabSettings(openid_metadata_url=identity.metadata_url, app_id=TAB_APP_ID, public_url=f"https://{TAB_HOST}",
                       dev_mode=True, _env_file=None)


def tab_token(identity, aad_object_id: str, name: str = "Someone", **wrong) -> str:
    """What the Teams JavaScript client would give the tab for this person (see
    standins.identity.EntraIdentityStandIn.token for the ways to make it wrong)."""
    wrong.setdefault("tenant_id", SCHOOL_TENANT)
    wrong.setdefault("audience", TAB_RESOURCE)
    return identity.token(aad_object_id, name, **wrong)


def run_app_with_tab(env: dict[str, str], service_url: str, tab):
    """`run_app`, with the tab's settings given."""
    return run_app(env, service_url, tab=tab)


# --- A headless browser: Debian's chromium driven by Playwright ------------------------------

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright's own browser download is not used


@asynccontextmanager
async def chromium():
    """A headless Chromium (scripts/setup.sh installs Debian's when apt is there). Missing, the
    test is skipped, except under CI=true where it fails."""
    import pytest
    from playwright.async_api import async_playwright

    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/setup.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


async def tab_get(app, path: str, token: str | None, method: str = "GET", data: dict | None = None) -> tuple[int, str, dict]:
    """A request to the tab's pages with a Teams single sign-on token: (status, body, headers)."""
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, app.url + path, headers=headers, data=data) as response:
            return response.status, await response.text(), dict(response.headers)


# --- Enrolment, Graph subscriptions and call records (issue 16) ------------------------------

APP_ID = "0c4a9e00-0000-4000-8000-00000000c4a9"  # the bot's app registration: the manifest id
STAFF_GROUP = "00000000-0000-4000-8000-00000000e002"  # policy.example.toml's staff group


@asynccontextmanager
async def enrolling_app(database_url: str, connector, graph, **extra: str) -> AsyncIterator[RunningApp]:
    """The app with its Graph notification URL on its own port (so the Graph stand-in can
    validate it and send notifications there) and Chaperone published in the app catalog."""
    from standins.server import free_port

    port = free_port()
    graph.publish_app(APP_ID)
    env = dev_env(database_url, graph.base_url, CHAPERONE_TEAMS_APP_ID=APP_ID,
                  CHAPERONE_GRAPH_NOTIFICATION_URL=f"http://127.0.0.1:{port}/api/graph/notifications", **extra)
    async with run_app(env, connector.url, port=port) as running:
        yield running


def staff_and_pupils(graph, staff=(), pupils=()) -> None:
    """People as the directory knows them: staff in the staff group, pupils by their roster role."""
    for person in staff:
        graph.add_person(person.aad_object_id, primary_role="teacher", groups=(STAFF_GROUP,), name=person.name)
    for person in pupils:
        graph.add_person(person.aad_object_id, primary_role="student", name=person.name)


# --- Registers per school in a trust (issue 19: imports, exceptions, AUP, retention) ----------

ROOT = Path(__file__).parent.parent


def run_cli(args: list[str], env: dict[str, str], cwd: Path):
    """`python app.py ARGS` as an operator runs it, configured by `env` (e.g. `trust_env(...)`)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], env={**os.environ, **env}, cwd=cwd, capture_output=True,
                          text=True, timeout=90)


def trust_variant(tmp_path: Path, **changes: dict[str, str]) -> str:
    """A copy of the example trust in `tmp_path` with lines changed in some of its files, keyed
    by file stem (e.g. brook={"lessons_days = 400": "lessons_days = 30"}); the AUP texts still
    found. Returns the trust file's path."""
    folder = tmp_path / "trust"
    folder.mkdir(exist_ok=True)
    for source in TRUST_FILE.parent.glob("*.toml"):
        text_ = source.read_text().replace('source = "../policies/', f'source = "{ROOT}/policies/')
        for old, new in changes.get(source.stem, {}).items():
            assert old in text_, (source.name, old)
            text_ = text_.replace(old, new)
        (folder / source.name).write_text(text_)
    return str(folder / TRUST_FILE.name)


# --- A trust's enrolment, call records and coverage (issue 19, H4) --------------------------


def trust_enrolling_app(database_url: str, connector, graph, **extra: str):
    """`enrolling_app` serving the example two-school trust (or a copy of it, given as
    CHAPERONE_POLICY_FILE), its people at the Graph stand-in."""
    script_trust_people(graph)
    return enrolling_app(database_url, connector, graph, **{"CHAPERONE_POLICY_FILE": str(TRUST_FILE), **extra})


def call_participant(person, joined, left) -> tuple:
    """One participant of a call record at the Graph stand-in (`graph.add_call_record`)."""
    return (person.aad_object_id, person.name, person.tenant_id, joined, left)


# --- Trust alerts (issue 19): each school's channel, the trust's, lessons that breach -------

from domain.messages import MessageKind  # noqa: E402 - this file grows by appending

VALENCE_TEAM, VALENCE_CHANNEL = "19:team-valence-slt@thread.tacv2", "19:valence-alerts@thread.tacv2"
BROOK_TEAM, BROOK_CHANNEL = "19:team-brook-slt@thread.tacv2", "19:brook-alerts@thread.tacv2"
TRUST_TEAM, TRUST_CHANNEL = "19:team-trust@thread.tacv2", "19:trust-alerts@thread.tacv2"
# 17:30 on a Monday: after both schools' hours (Valence 08:00-17:00, Brook 08:30-15:30), so
# each lesson breaches its own school's operating hours at its start.
AFTER_HOURS = T0 + minutes(8 * 60 + 30)
UNPLACED_TEACHER = Person("Mr Ed Visitor", "aad-teacher-0901", role="Organizer")  # in no school's staff group
UNPLACED = Meeting("19:meeting_unplaced@thread.v2", "Holiday club", UNPLACED_TEACHER)


def channel_posts(connector, channel_id: str) -> list[dict]:
    """Cards Chaperone posted in a team channel (new posts, as alerts are)."""
    return [c.body["activity"] for c in connector.requests("POST", "/v3/conversations") if c.path == "/v3/conversations"
            and (c.body.get("channelData") or {}).get("channel", {}).get("id") == channel_id]


def personal_posts(connector, aad_object_id: str) -> list[dict]:
    """What Chaperone sent in a 1:1 chat it started with this person."""
    return [c.body["activity"] for c in connector.requests("POST", "/v3/conversations") if c.path == "/v3/conversations"
            and [m.get("id") for m in c.body.get("members") or []] == [aad_object_id]]


async def say(app, connector, command: str, person: Person, team: str, channel: str) -> str:
    """Type a command in a team channel; Chaperone's one answer."""
    before = len(connector.sent_activities())
    teams = app.teams
    status, _ = await teams.post(teams.channel_message(command, person, team_id=team, channel_id=channel))
    assert status == 200
    [answer] = connector.sent_activities()[before:]
    return answer["text"]


async def run_lessons(app, connector, *meetings: Meeting) -> dict:
    """Each meeting starts after hours with its organizer and a pupil; the lessons by meeting id."""
    people = {MATHS.id: [TEACHER, PUPIL_A], BROOK_READING.id: [BROOK_TEACHER, BROOK_PUPIL], UNPLACED.id: [UNPLACED_TEACHER, PUPIL_A]}
    activities = []
    for meeting in meetings:
        connector.add_meeting(meeting.id, meeting.info(AFTER_HOURS, AFTER_HOURS + minutes(40)))
        activities += [app.teams.meeting_start(meeting, AFTER_HOURS), app.teams.join(meeting, people[meeting.id], AFTER_HOURS + minutes(1))]
    await app.post_all(activities)
    return {l.meeting_id: l for l in await app.services.lessons.list_lessons()}


async def alerts_of(app, lesson) -> list:
    """The lesson's SLT alerts in the outbox."""
    return [m for m in await app.services.outbox.all(lesson.id) if m.kind is MessageKind.slt_alert]


async def both_schools_alerting(app, connector) -> dict:
    """Each school's SLT set its channel; Maths (Valence) and Reading (Brook) breach after hours."""
    await say(app, connector, "set alert channel", VALENCE_SLT, VALENCE_TEAM, VALENCE_CHANNEL)
    await say(app, connector, "set alert channel", BROOK_SLT, BROOK_TEAM, BROOK_CHANNEL)
    return await run_lessons(app, connector, MATHS, BROOK_READING)


async def act_on_alert(app, verb: str, message, person: Person, **extra) -> dict:
    """Press a button of a sent alert's card, in its channel; Chaperone's invoke response."""
    teams = app.teams
    status, body = await teams.post(teams.card_action(verb, {"alertId": message.id, "lessonId": message.lesson_id, **extra}, person,
                                                      conversation_id=message.conversation_id, conversation_type="channel",
                                                      reply_to_id=message.activity_id))
    assert status == 200
    return body


# --- The tab in a trust (issue 19: the record tab, exports, trust view) ----------------------

# A lesson no school claims: its organizer is in no school's staff group, it has no class team
# and no school's timetable lists it, so it is kept under the trust's default policy ('school unknown').
SUPPLY_TEACHER = Person("Mr Drew Visiting", "aad-teacher-0301", role="Organizer")
SUPPLY_CLUB = Meeting("19:meeting_supply_club@thread.v2", "Saturday Robotics Club", SUPPLY_TEACHER)
VALENCE_CONCERN = "Valence-only concern: a stranger kept messaging in Maths"
BROOK_CONCERN = "Brook-only concern: someone shared a link in Reading"


async def seed_two_schools(app, connector, graph, *, unknown: bool = False) -> dict[str, int]:
    """One lesson per school through the real app, the shared teacher (in both staff groups) in
    both as staff, each with the lobby open to everyone (one SLT alert each) and a concern from a
    pupil; with `unknown`, also a lesson no school claims. Returns {school id: lesson id}."""
    graph.add_person(SUPPLY_TEACHER.aad_object_id, primary_role="teacher", name=SUPPLY_TEACHER.name)
    meetings = [(MATHS, TEACHER, PUPIL_A), (BROOK_READING, BROOK_TEACHER, BROOK_PUPIL)] + (
        [(SUPPLY_CLUB, SUPPLY_TEACHER, PUPIL_B)] if unknown else [])
    for meeting, organizer, _ in meetings:
        connector.add_meeting(meeting.id, meeting.info(T0, END))
        graph.add_meeting(organizer.aad_object_id, meeting.online_meeting(T0, END, lobby="everyone"))
    teams = app.teams
    events = []
    for meeting, organizer, pupil in meetings:
        events += [teams.meeting_start(meeting, T0), teams.join(meeting, [organizer, SHARED_TEACHER], T0),
                   teams.join(meeting, [pupil], T0 + minutes(1))]
    await app.post_all(events)
    for meeting, organizer, pupil in meetings:
        await app.post_all([teams.meeting_end(meeting, END)])
    lessons = {l.meeting_id: l for l in await app.services.lessons.list_lessons()}
    for meeting, words in ((MATHS, VALENCE_CONCERN), (BROOK_READING, BROOK_CONCERN)):
        pupil = PUPIL_A if meeting is MATHS else BROOK_PUPIL
        status, _ = await teams.post(teams.card_action("reportConcern", {"lessonId": lessons[meeting.id].id, "concern": words}, pupil,
                                                       conversation_id=meeting.thread_id))
        assert status == 200
    return {l.school_id: l.id for l in lessons.values()}


class Statements:
    """The SQL statements an engine sends, as the driver gets them."""

    def __init__(self, engine) -> None:
        self.seen: list[str] = []
        self._engine = engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._note)

    def _note(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.seen.append(" ".join(statement.split()).upper())

    def starting(self, prefix: str) -> list[str]:
        return [s for s in self.seen if s.startswith(prefix)]

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._note)
