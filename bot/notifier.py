"""Sends messages where no turn is in progress: the proactive path.

Destinations are conversation references stored when a conversation was registered
(tenant id included: the SDK drops it), so sending survives restarts and works from any
instance. A team channel gets a new post (POST /v3/conversations with the channel id, as
Teams documents for starting a channel thread); any other conversation gets a message via
the SDK's continue_conversation.
"""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters, ConversationReference

from config.settings import Settings
from store.conversations import AlertPurpose, Conversation, ConversationStore

from .adapter import ChaperoneAdapter

log = logging.getLogger(__name__)


class NoDestination(LookupError):
    pass


class Notifier:
    def __init__(self, adapter: ChaperoneAdapter, conversations: ConversationStore, settings: Settings) -> None:
        self._adapter = adapter
        self._conversations = conversations
        self._settings = settings

    async def send_alert(self, purpose: AlertPurpose, activity: Activity) -> str | None:
        """Post to the conversation registered for `purpose`; returns the new activity id."""
        destination = await self._conversations.alert_destination(purpose)
        if destination is None:
            raise NoDestination(f"no {purpose.value} alert channel has been set")
        return await self.send(destination.conversation, activity)

    async def send(self, conversation: Conversation, activity: Activity) -> str | None:
        ref = ConversationReference().deserialize(conversation.reference)
        refusal = self._settings.service_url_refusal(ref.service_url)
        if refusal:
            raise PermissionError(f"will not send to {ref.service_url}: {refusal}")
        if conversation.scope == "team" and conversation.channel_id:
            return await self._new_channel_post(conversation, ref, activity)
        sent: list[str | None] = []

        async def deliver(turn_context: TurnContext) -> None:
            response = await turn_context.send_activity(activity)
            sent.append(response.id if response else None)

        await self._adapter.continue_conversation(ref, deliver, self._settings.app_id)
        return sent[0] if sent else None

    async def _new_channel_post(self, conversation: Conversation, ref: ConversationReference, activity: Activity) -> str | None:
        parameters = ConversationParameters(
            is_group=True,
            bot=ref.bot or ChannelAccount(id=self._settings.app_id),
            channel_data={"channel": {"id": conversation.channel_id}, "tenant": {"id": conversation.tenant_id}},
            tenant_id=conversation.tenant_id,
            activity=activity,
        )
        created: list[str | None] = []

        async def record(turn_context: TurnContext) -> None:
            created.append(turn_context.activity.id)

        await self._adapter.create_conversation(
            self._settings.app_id, record, parameters, channel_id="msteams", service_url=ref.service_url
        )
        return created[0] if created else None
