"""One-to-one Teams chats between a member of staff and a pupil: metadata only, never content."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ChatMember(BaseModel):
    model_config = ConfigDict(frozen=True)

    aad_object_id: str
    name: str | None = None


class ChatSummary(BaseModel):
    """A 1:1 chat as Graph lists it (chatType oneOnOne): who, when created, last activity."""

    model_config = ConfigDict(frozen=True)

    chat_id: str
    created: datetime | None = None
    last_activity: datetime | None = None
    members: tuple[ChatMember, ...] = ()


class StaffPupilChat(BaseModel):
    model_config = ConfigDict(frozen=True)

    staff: ChatMember
    pupil: ChatMember
    created: datetime | None = None
    last_activity: datetime | None = None
