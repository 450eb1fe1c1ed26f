"""Enrolment through Graph: the staff's online meetings ahead, each one's meeting chat, and
Chaperone installing itself there (and in class teams, and for staff in personal scope).

Installing the app in a meeting's chat installs it in the meeting, so Teams sends it that
meeting's events without anyone adding it. Installation is idempotent: Graph answers 409
Conflict when the app is there already, which is fine.

Permissions: Calendars.Read (calendarView), OnlineMeetings.Read.All (the meeting by join URL,
for chatInfo.threadId), AppCatalog.Read.All (Chaperone's id in the tenant's app catalog),
TeamsAppInstallation.ReadWriteSelfForChat.All / ...ForTeam.All / ...ForUser.All (installing
itself, and nothing else).
"""

from __future__ import annotations

from datetime import datetime, timezone

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.app_catalogs.teams_apps.teams_apps_request_builder import TeamsAppsRequestBuilder
from msgraph.generated.models.teams_app_installation import TeamsAppInstallation
from msgraph.generated.models.user_scope_teams_app_installation import UserScopeTeamsAppInstallation
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import CalendarViewRequestBuilder
from msgraph.generated.users.item.online_meetings.online_meetings_request_builder import OnlineMeetingsRequestBuilder

from domain.enrolment import InstallOutcome, ScheduledMeeting

from .calendar import _utc
from .client import GraphClient, GraphUnavailable

CATALOG = "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/"


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class EnrolmentGraph:
    def __init__(self, graph: GraphClient, app_id: str) -> None:
        self._graph = graph
        self._app_id = app_id  # the manifest id: the catalog app's externalId
        self._catalog_id: str | None = None

    async def meetings_ahead(self, user_id: str, start: datetime, end: datetime) -> list[ScheduledMeeting]:
        """The online meetings on a member of staff's calendar between `start` and `end`."""
        query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time=_iso(start), end_date_time=_iso(end), top=200,
            select=["id", "subject", "start", "end", "isOnlineMeeting", "onlineMeeting", "attendees", "isOrganizer", "isCancelled"],
        )
        page = await self._graph.call(
            "calendar sweep",
            lambda sdk: sdk.users.by_user_id(user_id).calendar_view.get(request_configuration=RequestConfiguration(query_parameters=query)),
        )
        found: list[ScheduledMeeting] = []
        while page is not None:
            for event in page.value or []:
                join_url = event.online_meeting.join_url if event.online_meeting else None
                if not join_url:
                    continue  # not a Teams meeting: nothing to enrol in
                found.append(ScheduledMeeting(
                    organizer_id=user_id, event_id=event.id, subject=event.subject,
                    start=_utc(event.start.date_time if event.start else None), end=_utc(event.end.date_time if event.end else None),
                    join_url=join_url, is_organizer=event.is_organizer is not False, is_cancelled=bool(event.is_cancelled),
                    attendees=tuple(a.email_address.address.lower() for a in event.attendees or [] if a.email_address and a.email_address.address),
                ))
            next_link = page.odata_next_link
            page = None
            if next_link:
                page = await self._graph.call(
                    "calendar sweep", lambda sdk: sdk.users.by_user_id(user_id).calendar_view.with_url(next_link).get())
        return found

    async def chat_thread(self, organizer_id: str, join_url: str) -> str:
        """The meeting chat's thread id (onlineMeeting.chatInfo.threadId), found by join URL."""
        query = OnlineMeetingsRequestBuilder.OnlineMeetingsRequestBuilderGetQueryParameters(
            filter=f"JoinWebUrl eq '{join_url.replace(chr(39), chr(39) * 2)}'")
        found = await self._graph.call(
            "meeting chat", lambda sdk: sdk.users.by_user_id(organizer_id).online_meetings.get(
                request_configuration=RequestConfiguration(query_parameters=query)))
        meeting = found.value[0] if found and found.value else None
        thread = meeting.chat_info.thread_id if meeting and meeting.chat_info else None
        if not thread:
            raise GraphUnavailable("meeting chat: Graph has no meeting chat for this join URL", 404)
        return thread

    async def catalog_id(self) -> str:
        """Chaperone's id in the tenant's app catalog (an uploaded app's id differs from its manifest id)."""
        if self._catalog_id is None:
            if not self._app_id:
                raise GraphUnavailable("app catalog: MicrosoftAppId is not set, so Chaperone cannot find itself in the catalog")
            query = TeamsAppsRequestBuilder.TeamsAppsRequestBuilderGetQueryParameters(
                filter=f"externalId eq '{self._app_id.replace(chr(39), chr(39) * 2)}'")
            found = await self._graph.call(
                "app catalog", lambda sdk: sdk.app_catalogs.teams_apps.get(request_configuration=RequestConfiguration(query_parameters=query)))
            if not found or not found.value:
                raise GraphUnavailable("app catalog: Chaperone is not in the organisation's app catalog (upload its package in the Teams admin centre)", 404)
            self._catalog_id = found.value[0].id
        return self._catalog_id

    async def _install(self, what: str, post) -> InstallOutcome:
        try:
            await self._graph.call(what, post)
        except GraphUnavailable as exc:
            if exc.status == 409:  # Conflict: installed already
                return InstallOutcome.already
            raise
        return InstallOutcome.installed

    def _body(self, catalog_id: str, kind=TeamsAppInstallation):
        return kind(additional_data={"teamsApp@odata.bind": CATALOG + catalog_id})

    async def install_in_chat(self, chat_id: str) -> InstallOutcome:
        body = self._body(await self.catalog_id())
        return await self._install("install in meeting chat", lambda sdk: sdk.chats.by_chat_id(chat_id).installed_apps.post(body))

    async def install_in_team(self, team_id: str) -> InstallOutcome:
        body = self._body(await self.catalog_id())
        return await self._install("install in team", lambda sdk: sdk.teams.by_team_id(team_id).installed_apps.post(body))

    async def install_for_user(self, user_id: str) -> InstallOutcome:
        body = self._body(await self.catalog_id(), UserScopeTeamsAppInstallation)
        return await self._install("install in personal scope",
                                   lambda sdk: sdk.users.by_user_id(user_id).teamwork.installed_apps.post(body))
