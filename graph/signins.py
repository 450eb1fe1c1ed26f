"""Which device the organizer signed in to Teams from (AuditLog.Read.All; Entra ID P1 or P2).

Only read when the school turns the managed-device rule on: sign-in logs are personal data, and
the rule is information, not a breach.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.audit_logs.sign_ins.sign_ins_request_builder import SignInsRequestBuilder

from domain.meeting import OrganizerDevice

from .client import GraphClient

LOOK_BACK = timedelta(hours=12)


class SignInLogs:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def teams_device(self, user_id: str, before: datetime) -> OrganizerDevice | None:
        """The device of the user's latest Teams sign-in in the hours before `before`, or None."""
        start = (before - LOOK_BACK).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        end = before.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = SignInsRequestBuilder.SignInsRequestBuilderGetQueryParameters(
            filter=f"userId eq '{user_id}' and createdDateTime ge {start} and createdDateTime le {end} "
            "and appDisplayName eq 'Microsoft Teams'",
            top=1,
            orderby=["createdDateTime desc"],
        )
        found = await self._graph.call(
            "sign-in logs", lambda sdk: sdk.audit_logs.sign_ins.get(request_configuration=RequestConfiguration(query_parameters=query))
        )
        for sign_in in (found.value if found and found.value else [])[:1]:
            device = sign_in.device_detail
            parts = [p for p in (device.operating_system, device.browser) if p] if device else []
            return OrganizerDevice(signed_in_at=sign_in.created_date_time, managed=device.is_managed if device else None,
                                   compliant=device.is_compliant if device else None, description=", ".join(parts) or None)
        return None
