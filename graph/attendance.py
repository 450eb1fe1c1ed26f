"""Graph's attendance report for a meeting (OnlineMeetingArtifact.Read.All).

Reports exist only after a session ends, only for the organizer's meetings, not for
channel meetings, the latest 10 per meeting.
"""

from __future__ import annotations

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.meeting_attendance_report import MeetingAttendanceReport
from msgraph.generated.users.item.online_meetings.item.attendance_reports.attendance_reports_request_builder import (
    AttendanceReportsRequestBuilder,
)

from domain.meeting import AttendanceReport, ReportedAttendee, ReportedInterval

from .client import GraphClient


def _report(report: MeetingAttendanceReport) -> AttendanceReport:
    attendees = []
    for record in report.attendance_records or []:
        identity = record.identity
        extra = identity.additional_data if identity else {}
        attendees.append(
            ReportedAttendee(
                aad_object_id=identity.id if identity else None,
                display_name=identity.display_name if identity else None,
                # kiota parses GUID-looking strings in additional data into UUIDs.
                tenant_id=str(extra["tenantId"]) if extra.get("tenantId") else None,
                role=record.role,
                email=record.email_address,
                intervals=tuple(
                    ReportedInterval(joined_at=i.join_date_time, left_at=i.leave_date_time)
                    for i in record.attendance_intervals or []
                ),
            )
        )
    return AttendanceReport(
        report_id=report.id,
        meeting_start=report.meeting_start_date_time,
        meeting_end=report.meeting_end_date_time,
        attendees=tuple(attendees),
    )


class AttendanceReports:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def reports(self, organizer_id: str, graph_meeting_id: str) -> list[AttendanceReport]:
        query = AttendanceReportsRequestBuilder.AttendanceReportsRequestBuilderGetQueryParameters(expand=["attendanceRecords"])
        found = await self._graph.call(
            "attendance report",
            lambda sdk: sdk.users.by_user_id(organizer_id)
            .online_meetings.by_online_meeting_id(graph_meeting_id)
            .attendance_reports.get(request_configuration=RequestConfiguration(query_parameters=query)),
        )
        return [_report(r) for r in (found.value if found and found.value else [])]
