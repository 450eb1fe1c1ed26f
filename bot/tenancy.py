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


def from_school(activity: Activity, school_tenant: str | None) -> bool:
    """True when the school's tenant is not configured (nothing to compare with), or every
    tenant the activity names is the school's and it names at least one."""
    if not school_tenant:
        return True
    named = tenants_named(activity)
    return bool(named) and named == {school_tenant}


def body_from_school(body: dict, school_tenant: str | None) -> bool:
    """`from_school` for a meeting event read as JSON (the ingest path builds no SDK model)."""
    if not school_tenant:
        return True
    named = events.tenants_in(body)
    return bool(named) and named == {school_tenant}


def refusal(school_name: str) -> str:
    return f"Chaperone works only inside {school_name}'s own Microsoft 365 tenant. Nothing was changed."
