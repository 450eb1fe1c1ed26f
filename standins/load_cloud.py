"""Microsoft's cloud for the benchmark, in a process of its own (`python -m standins.load_cloud`):
the channel identity (token signing keys), Graph and the Bot Connector stand-ins, plus a small
control endpoint the benchmark reads its figures from. In their own process they do not take
the load generator's or Chaperone's CPU (the stand-ins otherwise run in a thread).
Graph answers checkMemberGroups from each person's groups: in a trust, a lesson's staff are in
its school's staff group.

It reads its configuration (JSON) on stdin, registers the benchmark school's people in the
Graph stand-in (staff in the roster and the All Staff group, pupils as students) and its
lessons, prints one JSON line with the addresses and a channel token, and serves until
stdin closes.

A lesson's schedule is fixed the first time Chaperone asks about it (the meeting's details,
its settings or its organizer's calendar): it is scheduled to start that minute, for 50
minutes, as a lesson at 09:00 would be at 09:00.

Control (GET unless said): /stats (Graph requests by path shape, Bot Connector posts),
/alerts (each SLT channel message: monotonic arrival time and the lesson it names),
POST /reset (forget requests so far), POST /latency {"seconds": s} (every Graph request).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

from aiohttp import web

from demo.bench_workload import APP_ID, SEATS, SLT_CHANNEL, TITLE_PATTERN, School

from .connector import ConnectorStandIn
from .graph import GraphStandIn
from .identity import ChannelIdentityStandIn
from .server import StandIn

MSI_HEADER = "bench-identity-header"
ID_SEGMENT = re.compile(r"(?<=/users/)[^/]+|(?<=/onlineMeetings/)[^/]+|(?<=/education/users/)[^/]+")


def path_shape(path: str) -> str:
    return ID_SEGMENT.sub("{id}", path)


class Schedule:
    """Each lesson's meeting, registered with the Graph and connector stand-ins the first time
    it is asked about, scheduled from that minute."""

    def __init__(self, school: School, lessons: int, graph: "BenchGraph", connector: "BenchConnector") -> None:
        self.school, self.graph, self.connector = school, graph, connector
        self.by_meeting: dict[str, int] = {}
        self.by_organizer: dict[str, int] = {}
        for lesson in range(lessons):
            meeting = school.meeting(lesson)
            self.by_meeting[meeting.id] = lesson
            self.by_organizer[meeting.organizer.aad_object_id] = lesson
        self.ready: set[int] = set()
        self.lock = threading.Lock()

    def ensure(self, lesson: int | None) -> None:
        if lesson is None or lesson in self.ready:
            return
        with self.lock:
            if lesson in self.ready:
                return
            meeting = self.school.meeting(lesson)
            start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
            end = start + timedelta(minutes=50)
            lobby = "everyone" if self.school.breaches(lesson) else "invited"
            self.connector.add_meeting(meeting.id, meeting.info(start, end))
            organizer = meeting.organizer.aad_object_id
            self.graph.add_meeting(organizer, meeting.online_meeting(start, end, lobby=lobby))
            invited = tuple(self.school.person(lesson * SEATS + seat) for seat in range(1, SEATS))
            self.graph.calendars[organizer] = [meeting.calendar_event(start, end, attendees=invited)]
            self.ready.add(lesson)


class BenchGraph(GraphStandIn):
    """The Graph stand-in with the school's people indexed by sign-in name (the base class
    looks through everyone on each /users/{upn} request: fine for ten people, not 75,000)."""

    schedule: Schedule

    def __init__(self) -> None:
        super().__init__()
        self.by_upn: dict[str, str] = {}

    def add_person(self, person_id: str, **kw) -> None:
        super().add_person(person_id, **kw)
        self.by_upn[self.people[person_id]["upn"].lower()] = person_id

    def _lesson(self, request: web.Request) -> int | None:
        return self.schedule.by_organizer.get(request.match_info.get("uid", ""))

    async def _meeting(self, request: web.Request) -> web.Response:
        self.schedule.ensure(self._lesson(request))
        return await super()._meeting(request)

    async def _find_meeting(self, request: web.Request) -> web.Response:
        self.schedule.ensure(self._lesson(request))
        return await super()._find_meeting(request)

    async def _calendar_view(self, request: web.Request) -> web.Response:
        self.schedule.ensure(self._lesson(request))
        return await super()._calendar_view(request)

    async def _user(self, request: web.Request) -> web.Response:
        uid = self.by_upn.get(request.match_info["uid"].lower(), request.match_info["uid"])
        person = self.people.get(uid)
        if person is None:
            return web.json_response({"error": {"code": "Request_ResourceNotFound", "message": "Resource not found."}}, status=404)
        return web.json_response({"id": uid, "userType": person["userType"], "displayName": person["displayName"],
                                  "userPrincipalName": person["upn"], "mail": person["upn"]})


class BenchConnector(ConnectorStandIn):
    """The connector stand-in, noting when each SLT channel message arrives and which lesson
    it names (the alert card's heading carries the lesson's title)."""

    schedule: Schedule

    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[tuple[float, int | None, str]] = []

    async def _meeting(self, request: web.Request) -> web.Response:
        self.schedule.ensure(self.schedule.by_meeting.get(unquote(request.match_info["mid"])))
        return await super()._meeting(request)

    async def _create_conversation(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        raw = (await request.read()).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        channel = (((body.get("channelData") or {}) if isinstance(body, dict) else {}).get("channel") or {}).get("id")
        if channel == SLT_CHANNEL:
            found = re.search(TITLE_PATTERN, raw)
            with self._lock:
                self.alerts.append((arrived, int(found.group(1)) if found else None, channel))
        return await super()._create_conversation(request)


class Control(StandIn):
    def __init__(self, graph: BenchGraph, connector: BenchConnector) -> None:
        super().__init__()
        self.graph, self.connector = graph, connector

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/stats", self._stats)
        app.router.add_get("/alerts", self._alerts)
        app.router.add_post("/reset", self._reset)
        app.router.add_post("/latency", self._latency)
        # Azure App Service's managed identity endpoint (IDENTITY_ENDPOINT, 2019-08-01): the
        # bot's token for the Bot Connector when it runs as MicrosoftAppType=UserAssignedMSI.
        app.router.add_get("/msi/token", self._msi_token)

    async def _stats(self, request: web.Request) -> web.Response:
        shapes = Counter(f"{c.method} {path_shape(c.path)}" for c in self.graph.requests())
        posts = Counter(f"{c.method} {c.path}" for c in self.connector.requests() if not c.path.startswith("/v1/meetings"))
        return web.json_response({"graph": sum(shapes.values()), "graph_by_shape": dict(shapes), "connector": dict(posts)})

    async def _alerts(self, request: web.Request) -> web.Response:
        with self.connector._lock:
            return web.json_response([list(a) for a in self.connector.alerts])

    async def _reset(self, request: web.Request) -> web.Response:
        self.graph.clear()
        self.connector.clear()
        return web.json_response({})

    async def _msi_token(self, request: web.Request) -> web.Response:
        if request.headers.get("X-IDENTITY-HEADER") != MSI_HEADER or not request.query.get("resource"):
            return web.json_response({"statusCode": 400, "message": "bad managed identity request"}, status=400)
        return web.json_response({"access_token": "bench-bot-connector-token", "expires_on": str(int(time.time()) + 3600),
                                  "resource": request.query["resource"], "token_type": "Bearer"})

    async def _latency(self, request: web.Request) -> web.Response:
        seconds = float((await request.json())["seconds"])
        self.graph.delays.clear()
        if seconds > 0:
            self.graph.delays["/v1.0/"] = seconds
        return web.json_response({})


def register_people(graph: BenchGraph, school: School, lessons: int) -> None:
    """Staff in their school's staff group (a trust: each lesson's school's, so Graph's
    checkMemberGroups places the lesson), pupils in the roster."""
    for index in range(lessons * SEATS):
        person = school.person(index)
        if school.is_staff(index):
            graph.add_person(person.aad_object_id, primary_role="teacher", name=person.name,
                             groups=(school.staff_group_of(index // SEATS),))
        else:
            graph.add_person(person.aad_object_id, primary_role="student", name=person.name)


def main() -> None:
    config = json.loads(sys.stdin.readline())
    school = School(config["run"], config["breach_every"], config.get("schools", 1))
    graph, connector, identity = BenchGraph(), BenchConnector(), ChannelIdentityStandIn()
    schedule = Schedule(school, config["lessons"], graph, connector)
    graph.schedule = connector.schedule = schedule
    register_people(graph, school, config["lessons"])
    if config.get("graph_latency"):
        graph.delays["/v1.0/"] = config["graph_latency"]
    control = Control(graph, connector)
    for standin in (identity, graph, connector, control):
        standin.start()
    print(json.dumps({
        "graph": graph.base_url, "connector": connector.url, "control": control.url,
        "metadata": identity.metadata_url, "msi": control.url + "/msi/token", "msi_header": MSI_HEADER, "issuer": identity.issuer,
        "token": identity.token(APP_ID, connector.url + "/", lifetime=4 * 3600),
    }), flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    for standin in (control, connector, graph, identity):
        standin.stop()


if __name__ == "__main__":
    main()
