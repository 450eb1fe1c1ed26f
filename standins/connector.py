"""Bot Connector stand-in: the Teams side of the Bot Framework REST API.

Answers as the real connector does for what Chaperone calls: activities (send, reply,
update, delete), new conversations (channel posts, 1:1 chats), members, and Teams'
/v1/meetings endpoints (details, participant, targeted notification).
"""

from __future__ import annotations

import itertools
import json
from urllib.parse import unquote

from aiohttp import web

from .server import StandIn


class ConnectorStandIn(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.meetings: dict[str, dict] = {}
        self.members: dict[str, list[dict]] = {}
        self._ids = itertools.count(1)
        # Scripted failures of GET /v1/meetings/{id}: (status, body, content type), oldest first.
        self.details_failures: list[tuple[int, str, str]] = []

    # ---- scripting ----------------------------------------------------------------

    def add_meeting(self, meeting_id: str, info: dict) -> None:
        """`info` is the GET /v1/meetings/{id} body: details, conversation, organizer."""
        self.meetings[meeting_id] = info

    def fail_meeting_details(self, status: int, body: str | dict | None = None, *, times: int = 1, html: bool = False) -> None:
        """The next `times` meeting-details calls answer `status` with this body: JSON (a dict, or
        Teams' usual error object) or, with `html=True`, an HTML error page as a gateway sends."""
        if html:
            text, content_type = str(body), "text/html"
        else:
            text = json.dumps(body if body is not None else {"error": {"code": str(status), "message": "meeting details failed"}})
            content_type = "application/json"
        with self._lock:
            self.details_failures.extend([(status, text, content_type)] * times)

    def sent_activities(self, conversation_id: str | None = None) -> list[dict]:
        """Activities the bot posted (new, replies and conversation starters)."""
        found = []
        for call in self.requests("POST", "/v3/conversations"):
            body = call.body if isinstance(call.body, dict) else {}
            if call.path == "/v3/conversations":
                activity = body.get("activity")
                conv = ((body.get("channelData") or {}).get("channel") or {}).get("id")
            else:
                activity = body
                conv = unquote(call.path.split("/")[3])
            if activity is not None and (conversation_id is None or conv == conversation_id):
                found.append(activity)
        return found

    # ---- routes -------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_delete("/v3/conversations/{cid}/activities/{aid}", self._delete)
        app.router.add_get("/v3/conversations/{cid}/members", self._members)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        app.router.add_get("/v1/meetings/{mid}", self._meeting)
        app.router.add_get("/v1/meetings/{mid}/participants/{pid}", self._participant)
        app.router.add_post("/v1/meetings/{mid}/notification", self._notification)

    def _new_id(self) -> str:
        return f"1:{next(self._ids)}"

    async def _create_conversation(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict) or "activity" not in body and not body.get("members"):
            return web.json_response({"error": {"code": "BadArgument", "message": "activity or members required"}}, status=400)
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
        conversation = channel or f"a:{next(self._ids)}"
        activity_id = self._new_id() if body.get("activity") else None
        if channel and activity_id:
            conversation = f"{channel};messageid={activity_id}"
        return web.json_response({"id": conversation, "activityId": activity_id, "serviceUrl": None}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict) or not body.get("type"):
            return web.json_response({"error": {"code": "BadArgument", "message": "activity type required"}}, status=400)
        return web.json_response({"id": self._new_id()}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        return web.json_response({"id": request.match_info["aid"]})

    async def _delete(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def _members(self, request: web.Request) -> web.Response:
        return web.json_response(self.members.get(unquote(request.match_info["cid"]), []))

    async def _member(self, request: web.Request) -> web.Response:
        for member in self.members.get(unquote(request.match_info["cid"]), []):
            if request.match_info["mid"] in (member.get("id"), member.get("aadObjectId")):
                return web.json_response(member)
        return web.json_response({"error": {"code": "MemberNotFoundInConversation"}}, status=404)

    async def _meeting(self, request: web.Request) -> web.Response:
        with self._lock:
            failure = self.details_failures.pop(0) if self.details_failures else None
        if failure is not None:
            status, text, content_type = failure
            return web.Response(status=status, text=text, content_type=content_type)
        info = self.meetings.get(unquote(request.match_info["mid"]))
        if info is None:
            return web.json_response({"error": {"code": "NotFound", "message": "meeting not found"}}, status=404)
        return web.json_response(info)

    async def _participant(self, request: web.Request) -> web.Response:
        info = self.meetings.get(unquote(request.match_info["mid"]))
        participants = (info or {}).get("participants", {})
        participant = participants.get(request.match_info["pid"])
        if participant is None:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        return web.json_response(participant)

    async def _notification(self, request: web.Request) -> web.Response:
        return web.Response(status=202)
