"""Is the lesson on the organizer's calendar? (Calendars.Read)

A scheduled Teams meeting has a calendar event whose onlineMeeting.joinUrl is the meeting's
join URL. Ad hoc and Meet Now meetings have none.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape
from urllib.parse import unquote

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import CalendarViewRequestBuilder
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.meeting import CalendarEvent

from .client import GraphClient, GraphUnavailable

WINDOW = timedelta(hours=3)


def _same_join_url(a: str | None, b: str | None) -> bool:
    # Teams and Outlook do not always agree on percent-encoding.
    return bool(a and b) and unquote(a).strip() == unquote(b).strip()


def _utc(value: str | None) -> datetime | None:
    # calendarView returns UTC times without an offset unless asked otherwise.
    if not value:
        return None
    parsed = datetime.fromisoformat(value[:26].rstrip("Z"))
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed


class _Wire(BaseModel):
    """Graph's JSON, only the fields asked for ($select); anything else is ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Time(_Wire):
    date_time: str | None = Field(None, alias="dateTime")


class _Address(_Wire):
    address: str | None = None


class _Attendee(_Wire):
    email_address: _Address | None = Field(None, alias="emailAddress")


class _JoinInfo(_Wire):
    join_url: str | None = Field(None, alias="joinUrl")


class _Body(_Wire):
    content: str | None = None


class _Event(_Wire):
    id: str | None = None
    subject: str | None = None
    categories: list[str] | None = None
    type: str | None = None
    series_master_id: str | None = Field(None, alias="seriesMasterId")
    start: _Time | None = None
    end: _Time | None = None
    online_meeting: _JoinInfo | None = Field(None, alias="onlineMeeting")
    attendees: list[_Attendee] | None = None
    body: _Body | None = None


class _CalendarView(_Wire):
    value: list[_Event] = Field(default_factory=list)


def _text(event: _Event) -> str | None:
    """The invitation's words: Outlook sends HTML; the Teams join block is boilerplate, not expectations."""
    if event.body is None:
        return None
    body = event.body.content or ""
    words = " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())
    # Outlook appends the join block (a rule of underscores, then "Microsoft Teams meeting").
    words = re.split(r"_{10,}|Microsoft Teams meeting|Microsoft Teams Need help\?", words, maxsplit=1)[0].strip()
    return words


def _event(event: _Event) -> CalendarEvent:
    return CalendarEvent(
        event_id=event.id,
        subject=event.subject,
        categories=tuple(event.categories or ()),
        is_recurring=event.type in ("occurrence", "exception", "seriesMaster") or bool(event.series_master_id),
        start=_utc(event.start.date_time if event.start else None),
        end=_utc(event.end.date_time if event.end else None),
        attendees=None if event.attendees is None else tuple(
            a.email_address.address.lower() for a in event.attendees if a.email_address and a.email_address.address
        ),
        body_text=_text(event),
    )


class CalendarReader:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def event_for(self, organizer_id: str, join_url: str | None, around: datetime) -> CalendarEvent | None:
        """The organizer's event for this meeting near `around`, or None if there is none."""
        if not join_url:
            raise GraphUnavailable("calendar: the meeting's join URL is not known")
        query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time=(around - WINDOW).astimezone(timezone.utc).isoformat(),
            end_date_time=(around + WINDOW).astimezone(timezone.utc).isoformat(),
            select=["id", "subject", "categories", "type", "seriesMasterId", "start", "end", "onlineMeeting", "attendees", "body"],
            top=100,
        )
        answer = await self._graph.get_json(
            "calendar",
            lambda sdk: sdk.users.by_user_id(organizer_id).calendar_view.to_get_request_information(
                request_configuration=RequestConfiguration(query_parameters=query)
            ),
        )
        try:
            found = _CalendarView.model_validate(answer)
        except ValidationError as exc:
            raise GraphUnavailable(f"calendar: Graph's answer could not be read ({exc.error_count()} problems)") from exc
        for event in found.value:
            if _same_join_url(event.online_meeting.join_url if event.online_meeting else None, join_url):
                return _event(event)
        return None
