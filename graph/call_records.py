"""Graph's call records (CallRecords.Read.All): after each call or meeting ends, who organised
it, who took part and when, and whether it was a meeting or a direct (peer-to-peer) call.

`organizer` and `participants` on the record are deprecated (no data after June 2026), so
the organizer and participants come from the `organizer_v2` and `participants_v2`
relationships; each person's times from the record's sessions.
"""

from __future__ import annotations

from datetime import datetime, timezone

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.communications.call_records.call_records_request_builder import CallRecordsRequestBuilder
from msgraph.generated.communications.call_records.item.call_record_item_request_builder import CallRecordItemRequestBuilder

from domain.enrolment import CallKind, CallParticipant, CallRecord

from .client import GraphClient, GraphUnavailable


def _user(identity_set) -> tuple[str | None, str | None, str | None] | None:
    """(Entra id, name, tenant) of the person an identity set names; None for none."""
    if identity_set is None:
        return None
    user = getattr(identity_set, "user", None)
    if user is not None and user.id:
        extra = getattr(user, "additional_data", None) or {}
        tenant = getattr(user, "tenant_id", None) or extra.get("tenantId")
        return user.id, user.display_name, str(tenant) if tenant else None
    for other in ("guest", "phone", "application_instance", "azure_communication_services_user"):
        who = getattr(identity_set, other, None)
        if who is not None and (who.id or who.display_name):
            return None, who.display_name, None
    return None


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class CallRecords:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def ids_between(self, start: datetime, end: datetime) -> list[str]:
        """The ids of the call records that started in [start, end) (Graph keeps 30 days)."""
        query = CallRecordsRequestBuilder.CallRecordsRequestBuilderGetQueryParameters(
            filter=f"startDateTime ge {_iso(start)} and startDateTime lt {_iso(end)}", select=["id"])
        page = await self._graph.call("call records", lambda sdk: sdk.communications.call_records.get(
            request_configuration=RequestConfiguration(query_parameters=query)))
        found: list[str] = []
        while page is not None:
            found += [r.id for r in page.value or [] if r.id]
            next_link = page.odata_next_link
            page = None
            if next_link:
                page = await self._graph.call("call records", lambda sdk: sdk.communications.call_records.with_url(next_link).get())
        return found

    async def get(self, record_id: str) -> CallRecord:
        query = CallRecordItemRequestBuilder.CallRecordItemRequestBuilderGetQueryParameters(expand=["sessions"])
        record = await self._graph.call(
            "call record", lambda sdk: sdk.communications.call_records.by_call_record_id(record_id).get(
                request_configuration=RequestConfiguration(query_parameters=query)))
        if record is None or record.start_date_time is None or record.end_date_time is None:
            raise GraphUnavailable("call record: Graph returned no start or end time", 404)
        organizer = await self._graph.call(
            "call record organizer", lambda sdk: sdk.communications.call_records.by_call_record_id(record_id).organizer_v2.get())
        page = await self._graph.call(
            "call record participants", lambda sdk: sdk.communications.call_records.by_call_record_id(record_id).participants_v2.get())
        identities = []
        while page is not None:
            identities += [p.identity for p in page.value or []]
            next_link = page.odata_next_link
            page = None
            if next_link:
                page = await self._graph.call("call record participants", lambda sdk: sdk.communications.call_records.by_call_record_id(
                    record_id).participants_v2.with_url(next_link).get())
        # Each person's first and last moment in the call, from the sessions they were in.
        times: dict[str, tuple[datetime, datetime]] = {}
        for session in record.sessions or []:
            for endpoint in (session.caller, session.callee):
                who = _user(getattr(endpoint, "identity", None))
                if who and who[0] and session.start_date_time and session.end_date_time:
                    start, end = times.get(who[0], (session.start_date_time, session.end_date_time))
                    times[who[0]] = (min(start, session.start_date_time), max(end, session.end_date_time))
        people: dict[str, CallParticipant] = {}
        for identity in identities or (record.participants or []):
            who = _user(identity)
            if who is None:
                continue
            key = who[0] or f"anonymous:{who[1] or len(people)}"
            joined, left = times.get(who[0] or "", (record.start_date_time, record.end_date_time))
            people[key] = CallParticipant(aad_object_id=who[0], display_name=who[1], tenant_id=who[2], joined_at=joined, left_at=left)
        boss = _user(organizer.identity if organizer else None) or _user(record.organizer) or (None, None, None)
        kind = getattr(record.type, "value", None)
        return CallRecord(
            id=record.id or record_id, kind=CallKind(kind) if kind in CallKind._value2member_map_ else CallKind.unknown,
            version=record.version, organizer_id=boss[0], organizer_name=boss[1], organizer_tenant_id=boss[2],
            join_url=record.join_web_url, start=record.start_date_time, end=record.end_date_time, participants=tuple(people.values()),
        )
