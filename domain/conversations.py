"""Where Chaperone is installed, and which conversation receives which alerts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class AlertPurpose(StrEnum):
    slt = "slt"  # breach alerts for senior leaders
    dsl = "dsl"  # safeguarding concerns for the designated safeguarding lead


class SeenConversation(BaseModel):
    """A conversation as an activity shows it: its reference, to write there later."""

    conversation_id: str
    scope: str
    service_url: str
    reference: dict
    tenant_id: str | None
    team_id: str | None = None
    channel_id: str | None = None
    installed_by: str | None = None
    installing: bool = False  # the activity is Chaperone's install there


class Conversation(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    conversation_id: str
    scope: str
    tenant_id: str | None
    team_id: str | None
    channel_id: str | None
    service_url: str
    reference: dict
    installed: bool
    installed_at: datetime | None
    removed_at: datetime | None
    # Set by the write that installed it: Teams announces one install twice (installationUpdate
    # and conversationUpdate), and only the first is a new install to welcome.
    newly_installed: bool = False


class AlertDestination(BaseModel):
    purpose: AlertPurpose
    school_id: str  # whose alerts: each school of a trust has its own destinations
    conversation: Conversation
    set_by_aad_id: str
    set_by_name: str | None
    set_at: datetime
