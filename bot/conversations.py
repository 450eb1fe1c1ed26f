"""Reading where an activity came from, and remembering the conversation so Chaperone can
write there later (alerts, reminders)."""

from __future__ import annotations

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from domain.conversations import Conversation, SeenConversation
from store.conversations import ConversationStore

from . import events


def scope_of(activity: Activity) -> str:
    kind = getattr(activity.conversation, "conversation_type", None) or "personal"
    return "team" if kind == "channel" else kind


def thread_root(conversation_id: str) -> str:
    # "19:...@thread.tacv2;messageid=123" is one reply thread; alerts start new posts.
    return conversation_id.split(";messageid=")[0]


def conversation_reference(activity: Activity) -> dict:
    reference = TurnContext.get_conversation_reference(activity).serialize()
    # The SDK's reference drops Teams' tenant id, which proactive messages need.
    conversation = reference.setdefault("conversation", {})
    tenant = events.tenant_of(activity)
    if tenant:
        conversation["tenantId"] = tenant
    if conversation.get("id"):
        conversation["id"] = thread_root(conversation["id"])
    return reference


def _team_and_channel(activity: Activity) -> tuple[str | None, str | None]:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}

    def id_of(key: str) -> str | None:
        value = data.get(key)
        found = value.get("id") if isinstance(value, dict) else None
        return found if isinstance(found, str) else None

    return id_of("team"), id_of("channel")


async def remember(conversations: ConversationStore, activity: Activity, *, installing: bool) -> Conversation:
    return await conversations.remember(seen_in(activity, installing=installing))


def seen_in(activity: Activity, *, installing: bool) -> SeenConversation:
    """The conversation `activity` came from, as Chaperone keeps it."""
    team, channel = _team_and_channel(activity)
    return SeenConversation(
        conversation_id=thread_root(activity.conversation.id),
        scope=scope_of(activity),
        service_url=activity.service_url,
        reference=conversation_reference(activity),
        tenant_id=events.tenant_of(activity),
        team_id=team,
        channel_id=channel,
        installed_by=getattr(activity.from_property, "aad_object_id", None),
        installing=installing,
    )
