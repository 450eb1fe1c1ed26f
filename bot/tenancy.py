"""Whether an activity comes from the school's own Microsoft 365 tenant.

Teams names the tenant twice (channelData.tenant.id and conversation.tenantId). Both, where
present, must be the policy's tenant: an object id alone proves nothing across tenants, and a
copy of the app installed in another tenant must not reach the school's records.
"""

from __future__ import annotations

from botbuilder.schema import Activity

from . import events


def tenants_named(activity: Activity) -> set[str]:
    conversation = activity.conversation
    # botbuilder 4.17 maps conversation.tenant_id from "tenantID": Teams' "tenantId" lands in
    # additional_properties.
    extra = getattr(conversation, "additional_properties", None) or {}
    named = {events.tenant_of(activity), getattr(conversation, "tenant_id", None), extra.get("tenantId")}
    return {t for t in named if isinstance(t, str) and t}


Tenants = str | frozenset[str] | None  # the school's tenant, or a trust's schools' tenants


def _allowed(tenants: Tenants) -> frozenset[str]:
    if isinstance(tenants, str):
        return frozenset({tenants})
    return tenants or frozenset()


def from_school(activity: Activity, school_tenants: Tenants) -> bool:
    """True when no tenant is configured (nothing to compare with), or the activity names
    exactly one tenant and it is one of the schools'."""
    allowed = _allowed(school_tenants)
    if not allowed:
        return True
    named = tenants_named(activity)
    return len(named) == 1 and named <= allowed


def body_from_school(body: dict, school_tenants: Tenants) -> bool:
    """`from_school` for a meeting event read as JSON (the ingest path builds no SDK model)."""
    allowed = _allowed(school_tenants)
    if not allowed:
        return True
    named = events.tenants_in(body)
    return len(named) == 1 and named <= allowed


def refusal(school_name: str) -> str:
    return f"Chaperone works only inside {school_name}'s own Microsoft 365 tenant. Nothing was changed."
