"""The meeting's recordings, once Teams has processed them (OnlineMeetingRecording.Read.All).

The setting `recordAutomatically` says a recording was meant to happen; only a recording Graph
lists shows one was made and kept.
"""

from __future__ import annotations

from msgraph.generated.models.call_recording import CallRecording

from domain.meeting import Recording

from .client import GraphClient


def _recording(item: CallRecording) -> Recording:
    organizer = item.meeting_organizer.user if item.meeting_organizer else None
    extra = organizer.additional_data if organizer else {}
    # kiota parses GUID-looking strings in additional data into UUIDs.
    tenant = extra.get("tenantId") or (getattr(organizer, "tenant_id", None) if organizer else None)
    return Recording(recording_id=item.id, created=item.created_date_time, ended=item.end_date_time,
                     tenant_id=str(tenant) if tenant else None)


class Recordings:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def recordings(self, organizer_id: str, graph_meeting_id: str) -> list[Recording]:
        found = await self._graph.call(
            "recordings",
            lambda sdk: sdk.users.by_user_id(organizer_id).online_meetings.by_online_meeting_id(graph_meeting_id).recordings.get(),
        )
        return [_recording(r) for r in (found.value if found and found.value else [])]
