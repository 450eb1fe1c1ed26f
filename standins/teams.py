"""Teams, as seen by a bot: builders for the activities Teams posts, and a client that posts
them to Chaperone's /api/messages the way the Bot Framework channel does.

The shapes follow Microsoft's documentation for meeting events (start/end with PascalCase
value keys, participant events with `members[]`), installs and channel messages.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import aiohttp

DEFAULT_TENANT = "5f1b3a1e-0000-4000-8000-5c8001000001"
BOT_ID = "28:00000000-0000-4000-8000-0000000c4a9e"


def meeting_id_for(thread_id: str) -> str:
    """Teams' meeting id: base64 of "0#<threadId>#0" (may contain + / =)."""
    return base64.b64encode(f"0#{thread_id}#0".encode()).decode()


def iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Person:
    name: str
    aad_object_id: str | None
    role: str = "Attendee"  # in the meeting: Organizer | Presenter | Attendee
    tenant_id: str = DEFAULT_TENANT

    @property
    def email(self) -> str:
        """The sign-in name the Graph stand-in gives this person by default."""
        return f"{self.name.lower().replace(' ', '.')}@school.example"

    @property
    def teams_id(self) -> str:
        return f"29:{(self.aad_object_id or self.name).replace('-', '')[:24]}"

    def account(self) -> dict:
        account = {"id": self.teams_id, "name": self.name, "tenantId": self.tenant_id}
        if self.aad_object_id:
            account["aadObjectId"] = self.aad_object_id
        return account


@dataclass(frozen=True)
class Meeting:
    thread_id: str
    title: str
    organizer: Person
    meeting_type: str = "Scheduled"
    # A channel meeting's team and channel: its events come from the channel conversation.
    team_id: str | None = None
    channel_id: str | None = None
    # A class team's Microsoft 365 group id (its education class id): Teams sends it as
    # channelData.team.aadGroupId, and a trust places the lesson by the class's school.
    team_group_id: str | None = None

    @property
    def id(self) -> str:
        return meeting_id_for(self.thread_id)

    @property
    def join_url(self) -> str:
        return f"https://teams.microsoft.com/l/meetup-join/{self.thread_id}/0?context=%7b%7d"

    @property
    def graph_id(self) -> str:
        """The Graph onlineMeeting id (base64, like Teams' own)."""
        return base64.b64encode(f"1*{self.organizer.aad_object_id}*0**{self.thread_id}".encode()).decode()

    def info(self, start: datetime | None = None, end: datetime | None = None) -> dict:
        """The Bot Connector's GET /v1/meetings/{id} body for this meeting."""
        details = {
            "id": self.id,
            "msGraphResourceId": self.graph_id,
            "type": self.meeting_type,
            "joinUrl": self.join_url,
            "title": self.title,
        }
        if start:
            details["scheduledStartTime"] = iso(start)
        if end:
            details["scheduledEndTime"] = iso(end)
        return {
            "details": details,
            "conversation": {"isGroup": True, "conversationType": "groupChat", "id": self.thread_id},
            "organizer": {
                "id": self.organizer.teams_id,
                "aadObjectId": self.organizer.aad_object_id,
                "tenantId": self.organizer.tenant_id,
            },
        }


    def online_meeting(self, start: datetime, end: datetime, *, lobby: str = "organizer", **overrides: object) -> dict:
        """Graph's onlineMeeting for this meeting (GET /users/{organizer}/onlineMeetings/{id})."""
        meeting = {
            "id": self.graph_id,
            "subject": self.title,
            "joinWebUrl": self.join_url,
            "startDateTime": iso(start),
            "endDateTime": iso(end),
            "lobbyBypassSettings": {"scope": lobby, "isDialInBypassEnabled": False},
            "allowedPresenters": "organizer",
            "allowMeetingChat": "limited",
            "allowAttendeeToEnableMic": False,
            "allowAttendeeToEnableCamera": False,
            "recordAutomatically": True,
            "allowRecording": True,
            "isBroadcast": False,
            "participants": {"organizer": {"identity": {"user": {"id": self.organizer.aad_object_id}}, "role": "presenter"}, "attendees": []},
            "chatInfo": {"threadId": self.thread_id},
        }
        meeting.update(overrides)
        return meeting

    def calendar_event(self, start: datetime, end: datetime, categories: tuple[str, ...] = ("Timetabled lesson",),
                       attendees: tuple["Person", ...] = (), body: str | None = None) -> dict:
        """The organizer's calendar event for this meeting, as calendarView returns it (attendees
        by email address, the body as Outlook's HTML)."""
        fmt = "%Y-%m-%dT%H:%M:%S.0000000"
        html = body if body is not None else "<p>Please join on time with your camera off and microphone muted.</p>"
        return {
            "attendees": [
                {"type": "required", "status": {"response": "none"},
                 "emailAddress": {"name": p.name, "address": p.email}} for p in attendees
            ],
            "body": {"contentType": "html", "content": f"<html><body>{html}<div>Microsoft Teams meeting</div></body></html>"},
            "id": f"AAMk-{self.thread_id[:20]}",
            "subject": self.title,
            "categories": list(categories),
            "type": "occurrence",
            "seriesMasterId": f"AAMk-series-{self.thread_id[:12]}",
            "start": {"dateTime": start.astimezone(timezone.utc).strftime(fmt), "timeZone": "UTC"},
            "end": {"dateTime": end.astimezone(timezone.utc).strftime(fmt), "timeZone": "UTC"},
            "isOnlineMeeting": True,
            "onlineMeeting": {"joinUrl": self.join_url},
        }


def attendance_report(report_id: str, start: datetime, end: datetime, attendance: list[tuple[Person, datetime, datetime]]) -> dict:
    """Graph's meetingAttendanceReport with attendanceRecords expanded: one record per person,
    with an interval for each (person, joined, left) row given for them."""
    by_person: dict[Person, list[tuple[datetime, datetime]]] = {}
    for person, joined, left in attendance:
        by_person.setdefault(person, []).append((joined, left))
    records = [
        {
            "emailAddress": f"{person.name.split()[-1].lower()}@school.example",
            "totalAttendanceInSeconds": sum(int((left - joined).total_seconds()) for joined, left in spans),
            "role": person.role,
            "identity": {"id": person.aad_object_id, "displayName": person.name, "tenantId": person.tenant_id},
            "attendanceIntervals": [
                {"joinDateTime": iso(joined), "leaveDateTime": iso(left), "durationInSeconds": int((left - joined).total_seconds())}
                for joined, left in spans
            ],
        }
        for person, spans in by_person.items()
    ]
    return {
        "id": report_id,
        "totalParticipantCount": len(records),
        "meetingStartDateTime": iso(start),
        "meetingEndDateTime": iso(end),
        "attendanceRecords": records,
    }


class TeamsSimulator:
    def __init__(
        self,
        app_url: str,
        service_url: str,
        *,
        tenant_id: str = DEFAULT_TENANT,
        token: Callable[[str], str] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.app_url = app_url.rstrip("/")
        self.service_url = service_url.rstrip("/") + "/"
        self.tenant_id = tenant_id
        self._token = token
        self._session = session
        self._ids = itertools.count(1)

    # ---- activity builders --------------------------------------------------------

    def _base(self, type_: str, conversation: dict, sender: dict, activity_id: str | None) -> dict:
        return {
            "type": type_,
            "id": activity_id or f"f:{uuid.uuid4().hex}",
            "timestamp": iso(datetime.now(timezone.utc)),
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": sender,
            "conversation": {**conversation, "tenantId": self.tenant_id},
            "recipient": {"id": BOT_ID, "name": "Chaperone"},
            "channelData": {"tenant": {"id": self.tenant_id}},
            "locale": "en-GB",
        }

    def _meeting_event(self, meeting: Meeting, name: str, value: dict, at: datetime, sender: Person, activity_id: str | None) -> dict:
        conversation = {"isGroup": True, "conversationType": "groupChat", "id": meeting.thread_id}
        if meeting.channel_id:
            conversation = {"isGroup": True, "conversationType": "channel", "id": f"{meeting.channel_id};messageid={meeting.thread_id}"}
        activity = self._base("event", conversation, sender.account(), activity_id)
        activity.update(name=name, value=value, timestamp=iso(at))
        activity["channelData"]["meeting"] = {"id": meeting.id}
        if meeting.channel_id:
            team = {"id": meeting.team_id or meeting.channel_id}
            if meeting.team_group_id:
                team["aadGroupId"] = meeting.team_group_id
            activity["channelData"].update(team=team, channel={"id": meeting.channel_id})
        return activity

    def meeting_start(self, meeting: Meeting, at: datetime, *, activity_id: str | None = None, camel_case: bool = False) -> dict:
        value = {"Id": meeting.id, "MeetingType": meeting.meeting_type, "JoinUrl": meeting.join_url, "Title": meeting.title, "StartTime": iso(at)}
        if camel_case:
            value = {k[0].lower() + k[1:]: v for k, v in value.items()}
        return self._meeting_event(meeting, "application/vnd.microsoft.meetingStart", value, at, meeting.organizer, activity_id)

    def meeting_end(self, meeting: Meeting, at: datetime, *, activity_id: str | None = None) -> dict:
        # In end events value.Id can be the thread id: Chaperone must use channelData.meeting.id.
        value = {"Id": meeting.thread_id, "MeetingType": meeting.meeting_type, "JoinUrl": meeting.join_url, "Title": meeting.title, "EndTime": iso(at)}
        return self._meeting_event(meeting, "application/vnd.microsoft.meetingEnd", value, at, meeting.organizer, activity_id)

    def participants(self, meeting: Meeting, people: list[Person], at: datetime, *, joined: bool, activity_id: str | None = None,
                     in_meeting: bool | None = None) -> dict:
        """`in_meeting` overrides Teams' `inMeeting` (e.g. True on a leave from one of two devices)."""
        present = joined if in_meeting is None else in_meeting
        members = [{"user": p.account(), "meeting": {"role": p.role, "inMeeting": present}} for p in people]
        name = "application/vnd.microsoft.meetingParticipant" + ("Join" if joined else "Leave")
        return self._meeting_event(meeting, name, {"members": members}, at, people[0], activity_id)

    def join(self, meeting: Meeting, people: list[Person], at: datetime, **kw) -> dict:
        return self.participants(meeting, people, at, joined=True, **kw)

    def leave(self, meeting: Meeting, people: list[Person], at: datetime, **kw) -> dict:
        return self.participants(meeting, people, at, joined=False, **kw)

    def channel_message(self, text: str, sender: Person, *, team_id: str, channel_id: str, mention_bot: bool = True) -> dict:
        conversation = {"isGroup": True, "conversationType": "channel", "id": f"{channel_id};messageid={next(self._ids)}"}
        activity = self._base("message", conversation, sender.account(), None)
        activity["text"] = f"<at>Chaperone</at> {text}" if mention_bot else text
        if mention_bot:
            activity["entities"] = [{"type": "mention", "text": "<at>Chaperone</at>", "mentioned": {"id": BOT_ID, "name": "Chaperone"}}]
        activity["channelData"].update(team={"id": team_id}, channel={"id": channel_id})
        return activity

    def card_action(self, verb: str, data: dict, sender: Person, *, conversation_id: str, conversation_type: str = "groupChat",
                    reply_to_id: str | None = None) -> dict:
        """An Adaptive Card Action.Execute, as Teams sends it (invoke adaptiveCard/action)."""
        conversation = {"isGroup": conversation_type != "personal", "conversationType": conversation_type, "id": conversation_id}
        activity = self._base("invoke", conversation, sender.account(), None)
        activity.update(name="adaptiveCard/action", value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"})
        if reply_to_id:
            activity["replyToId"] = reply_to_id
        return activity

    def personal_message(self, text: str, sender: Person) -> dict:
        conversation = {"conversationType": "personal", "id": f"a:{sender.teams_id}"}
        activity = self._base("message", conversation, sender.account(), None)
        activity["text"] = text
        return activity

    def installation(self, sender: Person, *, team_id: str | None = None, channel_id: str | None = None, action: str = "add") -> dict:
        if team_id:
            conversation = {"isGroup": True, "conversationType": "channel", "id": channel_id or team_id}
        else:
            conversation = {"conversationType": "personal", "id": f"a:{sender.teams_id}"}
        activity = self._base("installationUpdate", conversation, sender.account(), None)
        activity["action"] = action
        if team_id:
            activity["channelData"].update(team={"id": team_id}, channel={"id": channel_id or team_id})
        return activity

    def bot_added(self, sender: Person) -> dict:
        """conversationUpdate with the bot in membersAdded: Teams sends it with installationUpdate
        when someone installs the app in personal scope."""
        conversation = {"conversationType": "personal", "id": f"a:{sender.teams_id}"}
        activity = self._base("conversationUpdate", conversation, sender.account(), None)
        activity["membersAdded"] = [{"id": BOT_ID, "name": "Chaperone"}]
        return activity

    # ---- delivery -----------------------------------------------------------------

    async def post(self, activity: dict | str, *, authorization: str | None = None) -> tuple[int, object]:
        """POST an activity as the channel does; returns (status, JSON body or text)."""
        status, body, _ = await self.post_with_headers(activity, authorization=authorization)
        return status, body

    async def post_with_headers(self, activity: dict | str, *, authorization: str | None = None) -> tuple[int, object, dict[str, str]]:
        """`post`, with the answer's headers too (Retry-After)."""
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif self._token is not None and isinstance(activity, dict):
            headers["Authorization"] = f"Bearer {self._token(activity.get('serviceUrl', ''))}"
        data = activity if isinstance(activity, str) else None
        session = self._session or aiohttp.ClientSession()
        try:
            async with session.post(
                f"{self.app_url}/api/messages", json=None if data is not None else activity, data=data, headers=headers
            ) as response:
                text = await response.text()
                try:
                    body = await response.json(content_type=None) if text else None
                except ValueError:
                    body = text
                return response.status, body, dict(response.headers)
        finally:
            if self._session is None:
                await session.close()
