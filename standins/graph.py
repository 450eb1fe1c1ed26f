"""Microsoft Graph v1.0 stand-in: the documented JSON for the endpoints Chaperone reads.

- GET   /v1.0/users/{id}/onlineMeetings/{meetingId}              (and ?$filter=JoinWebUrl eq '...')
- PATCH /v1.0/users/{id}/onlineMeetings/{meetingId}
- GET   /v1.0/users/{id}/onlineMeetings/{meetingId}/attendanceReports?$expand=attendanceRecords
- GET   /v1.0/users/{id}/onlineMeetings/{meetingId}/recordings
- GET   /v1.0/users/{id}/chats?$filter=chatType eq 'oneOnOne'&$expand=members
- GET   /v1.0/auditLogs/signIns?$filter=userId eq '...' and createdDateTime ge ... and createdDateTime le ...
- GET   /v1.0/education/users/{id}
- GET   /v1.0/education/classes/{id}/schools  (a class team's schools, in a trust)
- POST  /v1.0/users/{id}/checkMemberGroups
- GET   /v1.0/users/{id}
- GET   /v1.0/users/{id}/calendarView?startDateTime=...&endDateTime=...
- POST  /v1.0/$batch  (JSON batching: each request answered by the routes above)

Switches: `fail_next` (403, 404, 429 or 503, with Retry-After), `slow` (seconds per path).
Like Graph, enum values added after `unknownFutureValue` (lobby scope `invited`,
`organizationExcludingGuests`) are only returned when the request carries
`Prefer: include-unknown-enum-members`; otherwise the value is `unknownFutureValue`.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from urllib.parse import unquote

import aiohttp
from aiohttp import web
from yarl import URL

from .entra import EntraTokens
from .graph_enrolment import EnrolmentRoutes
from .server import StandIn

EVOLVABLE = {"invited", "organizationExcludingGuests"}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class GraphStandIn(EnrolmentRoutes, StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.meetings: dict[tuple[str, str], dict] = {}  # (organizer id, meeting id) -> onlineMeeting
        self.people: dict[str, dict] = {}  # id -> {"primaryRole", "userType", "groups", "displayName"}
        self.calendars: dict[str, list[dict]] = {}  # organizer id -> events
        self.reports: dict[str, list[dict]] = {}  # meeting id -> meetingAttendanceReport list
        self.recordings: dict[str, list[dict]] = {}  # meeting id -> callRecording list
        self.sign_ins: dict[str, list[dict]] = {}  # user id -> signIn list
        self.chats: list[dict] = []  # chat resources with members
        self.class_schools: dict[str, list[str]] = {}  # education class (class team) id -> educationSchool ids
        self.delays: dict[str, float] = {}  # path prefix -> seconds
        # Organizers no Teams application access policy covers: their meetings and calendars give 403.
        self.denied: set[str] = set()
        self.entra = EntraTokens()  # the token endpoint `doctor` reads permissions from
        self._batch_client: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1.0"

    # ---- scripting ----------------------------------------------------------------

    def add_meeting(self, organizer_id: str, meeting: dict) -> None:
        self.meetings[(organizer_id, meeting["id"])] = meeting

    def add_person(
        self, person_id: str, *, primary_role: str | None = None, user_type: str = "Member", groups: tuple[str, ...] = (), name: str = "", upn: str | None = None
    ) -> None:
        upn = upn or f"{(name or person_id).lower().replace(' ', '.')}@school.example"
        self.people[person_id] = {"primaryRole": primary_role, "userType": user_type, "groups": set(groups), "displayName": name, "upn": upn}

    def change_meeting(self, organizer_id: str, meeting_id: str, **changes: object) -> None:
        """Change a meeting's settings as its organizer would in Meeting options, mid-lesson
        (nested objects such as lobbyBypassSettings are merged)."""
        meeting = self.meetings[(organizer_id, meeting_id)]
        for name, value in changes.items():
            if isinstance(value, dict) and isinstance(meeting.get(name), dict):
                meeting[name] = {**meeting[name], **value}
            else:
                meeting[name] = value

    def slow(self, path_prefix: str, seconds: float) -> None:
        self.delays["/v1.0" + path_prefix] = seconds

    def fail_next(self, method: str, path_prefix: str, *statuses: int, headers: dict[str, str] | None = None) -> None:
        headers = headers if headers is not None else {"Retry-After": "1"}
        super().fail_next(method, "/v1.0" + path_prefix, *statuses, headers=headers)

    def role_lookups(self) -> int:
        return len(self.requests("GET", "/v1.0/education/users/"))

    # ---- routes -------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(self._slow)
        app.router.add_get("/v1.0/users/{uid}/onlineMeetings", self._find_meeting)
        app.router.add_get("/v1.0/users/{uid}/onlineMeetings/{mid}", self._meeting)
        app.router.add_patch("/v1.0/users/{uid}/onlineMeetings/{mid}", self._patch_meeting)
        app.router.add_get("/v1.0/users/{uid}/onlineMeetings/{mid}/attendanceReports", self._reports)
        app.router.add_get("/v1.0/users/{uid}/onlineMeetings/{mid}/recordings", self._recordings)
        app.router.add_get("/v1.0/auditLogs/signIns", self._sign_ins)
        app.router.add_get("/v1.0/users/{uid}/chats", self._user_chats)
        app.router.add_get("/v1.0/education/users/{uid}", self._education_user)
        app.router.add_get("/v1.0/education/classes/{cid}/schools", self._class_schools)
        app.router.add_post("/v1.0/users/{uid}/checkMemberGroups", self._check_member_groups)
        app.router.add_get("/v1.0/users/{uid}/calendarView", self._calendar_view)
        app.router.add_get("/v1.0/users/{uid}", self._user)
        app.router.add_get("/v1.0/groups/{gid}/transitiveMembers", self._group_members)
        app.router.add_post("/v1.0/$batch", self._batch)
        app.on_cleanup.append(self._close_batch_client)
        self.enrolment_routes(app)  # standins/graph_enrolment.py
        self.entra.routes(app)

    @web.middleware
    async def _slow(self, request: web.Request, handler):
        # Graph answers a batch when its slowest request is answered: a request inside one
        # is slowed by what is set for its own path, but not again by what slowed the batch.
        in_batch = "X-Graph-Batch-Item" in request.headers
        for prefix, seconds in self.delays.items():
            if request.path.startswith(prefix) and not (in_batch and "/v1.0/$batch".startswith(prefix)):
                await asyncio.sleep(seconds)
        parts = request.path.split("/")
        if len(parts) > 4 and parts[2] == "users" and parts[3] in self.denied and parts[4] in ("onlineMeetings", "calendarView"):
            return _error(403, "Forbidden", "No application access policy found for this app.")
        return await handler(request)

    @staticmethod
    def _wire(meeting: dict, request: web.Request) -> dict:
        prefer = request.headers.get("Prefer", "")
        out = dict(meeting)
        lobby = dict(out.get("lobbyBypassSettings") or {})
        if lobby.get("scope") in EVOLVABLE and "include-unknown-enum-members" not in prefer:
            lobby["scope"] = "unknownFutureValue"
        out["lobbyBypassSettings"] = lobby
        return out

    async def _meeting(self, request: web.Request) -> web.Response:
        meeting = self.meetings.get((request.match_info["uid"], unquote(request.match_info["mid"])))
        if meeting is None:
            return _error(404, "NotFound", "The onlineMeeting was not found.")
        return web.json_response(self._wire(meeting, request))

    async def _find_meeting(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r"\s*JoinWebUrl eq '(.*)'\s*", request.query.get("$filter", ""), flags=re.I)
        if not match:
            return _error(400, "BadRequest", "Filter on JoinWebUrl is required.")
        url = match.group(1).replace("''", "'")
        found = [
            self._wire(m, request)
            for (uid, _), m in self.meetings.items()
            if uid == request.match_info["uid"] and m.get("joinWebUrl") == url
        ]
        return web.json_response({"value": found})

    async def _patch_meeting(self, request: web.Request) -> web.Response:
        key = (request.match_info["uid"], unquote(request.match_info["mid"]))
        if key not in self.meetings:
            return _error(404, "NotFound", "The onlineMeeting was not found.")
        changes = await request.json()
        meeting = self.meetings[key]
        for name, value in changes.items():
            if isinstance(value, dict) and isinstance(meeting.get(name), dict):
                meeting[name] = {**meeting[name], **value}
            elif not name.startswith("@odata"):
                meeting[name] = value
        return web.json_response(self._wire(meeting, request))

    async def _reports(self, request: web.Request) -> web.Response:
        reports = self.reports.get(unquote(request.match_info["mid"]), [])
        expand = "attendanceRecords" in request.query.get("$expand", "")
        value = [r if expand else {k: v for k, v in r.items() if k != "attendanceRecords"} for r in reports]
        return web.json_response({"value": value})

    async def _recordings(self, request: web.Request) -> web.Response:
        return web.json_response({"value": self.recordings.get(unquote(request.match_info["mid"]), [])})

    def add_recording(self, meeting_id: str, organizer_id: str, at: datetime, tenant_id: str, recording_id: str = "rec-1") -> None:
        """A callRecording as Graph lists it once Teams has processed the recording."""
        stamp = at.isoformat().replace("+00:00", "Z")
        self.recordings.setdefault(meeting_id, []).append({
            "id": recording_id, "meetingId": meeting_id, "callId": f"call-{recording_id}", "createdDateTime": stamp,
            "endDateTime": stamp, "contentCorrelationId": f"corr-{recording_id}",
            "recordingContentUrl": f"https://graph.microsoft.com/v1.0/users/{organizer_id}/onlineMeetings/{meeting_id}/recordings/{recording_id}/content",
            "meetingOrganizer": {"application": None, "device": None,
                                 "user": {"id": organizer_id, "displayName": None, "userIdentityType": "aadUser", "tenantId": tenant_id}},
        })

    def add_sign_in(self, user_id: str, at: datetime, *, managed: bool, operating_system: str = "Windows 11") -> None:
        """A signIn to Teams as the sign-in logs list it (deviceDetail.isManaged)."""
        self.sign_ins.setdefault(user_id, []).append({
            "id": f"signin-{len(self.sign_ins.get(user_id, [])) + 1}", "createdDateTime": at.isoformat().replace("+00:00", "Z"),
            "userId": user_id, "appDisplayName": "Microsoft Teams", "status": {"errorCode": 0},
            "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": operating_system, "browser": "Teams",
                             "isCompliant": managed, "isManaged": managed, "trustType": "Azure AD joined" if managed else ""},
        })

    async def _sign_ins(self, request: web.Request) -> web.Response:
        found = re.search(r"userId eq '([^']*)'.*createdDateTime ge (\S+) and createdDateTime le (\S+)", request.query.get("$filter", ""))
        if not found:
            return _error(400, "BadRequest", "Filter on userId and createdDateTime is required.")
        user, start, end = found.group(1), _parse_time(found.group(2)), _parse_time(found.group(3))
        entries = [e for e in self.sign_ins.get(user, []) if start <= _parse_time(e["createdDateTime"]) <= end]
        entries.sort(key=lambda e: e["createdDateTime"], reverse=True)
        return web.json_response({"value": entries[: int(request.query.get("$top", "1000"))]})

    def add_chat(self, chat_id: str, created: datetime, last_activity: datetime, *people: tuple[str, str]) -> None:
        """A one-to-one chat between (id, display name) people, as Graph lists it with members expanded."""
        stamp = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
        self.chats.append({
            "id": chat_id, "topic": None, "chatType": "oneOnOne", "createdDateTime": stamp(created), "lastUpdatedDateTime": stamp(last_activity),
            "members": [{"@odata.type": "#microsoft.graph.aadUserConversationMember", "id": f"m-{pid}", "roles": ["owner"],
                         "displayName": name, "userId": pid, "email": None, "tenantId": None} for pid, name in people],
        })

    async def _user_chats(self, request: web.Request) -> web.Response:
        if "chatType eq 'oneOnOne'" not in request.query.get("$filter", ""):
            return _error(400, "BadRequest", "Chaperone asks for one-to-one chats only.")
        user = request.match_info["uid"]
        mine = [c for c in self.chats if any(m["userId"] == user for m in c["members"])]
        expand = "members" in request.query.get("$expand", "")
        return web.json_response({"value": [c if expand else {k: v for k, v in c.items() if k != "members"} for c in mine]})

    async def _education_user(self, request: web.Request) -> web.Response:
        person = self.people.get(request.match_info["uid"])
        if person is None or person["primaryRole"] is None:
            return _error(404, "Request_ResourceNotFound", "Resource not found.")
        return web.json_response(
            {"id": request.match_info["uid"], "primaryRole": person["primaryRole"], "displayName": person["displayName"],
             "userPrincipalName": person["upn"], "mail": person["upn"]}
        )

    async def _class_schools(self, request: web.Request) -> web.Response:
        schools = self.class_schools.get(request.match_info["cid"])
        if schools is None:
            return _error(404, "Request_ResourceNotFound", "Resource not found.")
        return web.json_response({"value": [{"id": s, "@odata.type": "#microsoft.graph.educationSchool"} for s in schools]})

    async def _check_member_groups(self, request: web.Request) -> web.Response:
        person = self.people.get(request.match_info["uid"])
        if person is None:
            return _error(404, "Request_ResourceNotFound", "Resource not found.")
        asked = (await request.json()).get("groupIds", [])
        return web.json_response({"value": [g for g in asked if g in person["groups"]]})

    async def _batch(self, request: web.Request) -> web.Response:
        """JSON batching as Graph does it: up to 20 requests, each answered on its own (status,
        headers, body), in any order. Each is sent to this stand-in's own routes, so it is
        recorded, slowed and failed like a request of its own (marked X-Graph-Batch-Item)."""
        body = await request.json()
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return _error(400, "BadRequest", "Invalid batch payload format.")
        if len(items) > 20:
            return _error(400, "BadRequest", "The number of batch requests exceeds the limit of 20.")

        async def answer(session: aiohttp.ClientSession, item: dict) -> dict:
            url = str(item.get("url", ""))
            headers = {**(item.get("headers") or {}), "X-Graph-Batch-Item": str(item.get("id"))}
            if request.headers.get("Authorization"):
                headers["Authorization"] = request.headers["Authorization"]
            if request.headers.get("Prefer"):
                headers.setdefault("Prefer", request.headers["Prefer"])
            # The request's URL exactly as the client encoded it (as Graph would see it).
            target = URL(f"{self.base_url}/{url.lstrip('/')}", encoded=True)
            async with session.request(item.get("method", "GET"), target, json=item.get("body"), headers=headers) as reply:
                text = await reply.text()
                out = {"id": item.get("id"), "status": reply.status, "headers": {"Content-Type": "application/json"}}
                if "Retry-After" in reply.headers:
                    out["headers"]["Retry-After"] = reply.headers["Retry-After"]
                if text:
                    out["body"] = json.loads(text)
                return out

        if self._batch_client is None:  # one pool for every batch: 20 new connections each would swamp it
            self._batch_client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        responses = await asyncio.gather(*(answer(self._batch_client, item) for item in items))
        return web.json_response({"responses": list(responses)})

    async def _close_batch_client(self, _app: web.Application) -> None:
        if self._batch_client is not None:
            await self._batch_client.close()
            self._batch_client = None

    async def _user(self, request: web.Request) -> web.Response:
        # Like Graph, /users/{id | userPrincipalName}.
        uid = request.match_info["uid"]
        if uid not in self.people:
            uid = next((pid for pid, p in self.people.items() if p["upn"].lower() == uid.lower()), uid)
        person = self.people.get(uid)
        if person is None:
            return _error(404, "Request_ResourceNotFound", "Resource not found.")
        return web.json_response(
            {"id": uid, "userType": person["userType"], "displayName": person["displayName"],
             "userPrincipalName": person["upn"], "mail": person["upn"]}
        )

    async def _group_members(self, request: web.Request) -> web.Response:
        group = request.match_info["gid"]
        members = [
            {"@odata.type": "#microsoft.graph.user", "id": pid, "displayName": p["displayName"], "userPrincipalName": p["upn"]}
            for pid, p in self.people.items()
            if group in p["groups"]
        ]
        return web.json_response({"value": members})

    async def _calendar_view(self, request: web.Request) -> web.Response:
        try:
            start = _parse_time(request.query["startDateTime"])
            end = _parse_time(request.query["endDateTime"])
        except (KeyError, ValueError):
            return _error(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.")
        events = [
            e
            for e in self.calendars.get(request.match_info["uid"], [])
            if _parse_time(e["start"]["dateTime"] + "Z") < end and _parse_time(e["end"]["dateTime"] + "Z") > start
        ]
        return web.json_response({"value": events})
