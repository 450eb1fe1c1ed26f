"""Sends messages where no turn is in progress: the proactive path.

Destinations are conversation references stored when a conversation was registered
(tenant id included: the SDK drops it), so sending survives restarts and works from any
instance. A team channel gets a new post (POST /v3/conversations with the channel id, as
Teams documents for starting a channel thread); any other conversation gets a message via
the SDK's continue_conversation.
"""

from __future__ import annotations

import logging

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters, ConversationReference

from pydantic import BaseModel

from config.settings import Settings
from domain.conversations import AlertPurpose, Conversation
from domain.placement import SOLE_SCHOOL_ID
from store.conversations import ConversationStore


log = logging.getLogger(__name__)


class NoDestination(LookupError):
    pass


class Sent(BaseModel):
    conversation_id: str | None
    activity_id: str | None


class Notifier:
    def __init__(self, adapter: BotAdapter, conversations: ConversationStore, settings: Settings) -> None:
        self._adapter = adapter
        self._conversations = conversations
        self._settings = settings

    async def send_alert(self, purpose: AlertPurpose, activity: Activity, school_id: str = SOLE_SCHOOL_ID) -> Sent:
        """Post to the conversation `school_id` registered for `purpose`."""
        destination = await self._conversations.destination_for_sending(purpose, school_id)
        if destination is None:
            raise NoDestination(f"no {purpose.value} alert channel has been set for {school_id}")
        return await self.send(destination.conversation, activity)

    async def send_to(self, conversation_id: str, activity: Activity) -> Sent:
        conversation = await self._conversations.for_sending(conversation_id)
        if conversation is None:
            raise NoDestination(f"Chaperone has no reference for conversation {conversation_id}")
        return await self.send(conversation, activity)

    def _checked(self, service_url: str | None) -> str:
        refusal = self._settings.service_url_refusal(service_url)
        if refusal:
            raise PermissionError(f"will not send to {service_url}: {refusal}")
        return service_url

    async def send(self, conversation: Conversation, activity: Activity) -> Sent:
        ref = ConversationReference().deserialize(conversation.reference)
        self._checked(ref.service_url)
        if conversation.scope == "team" and conversation.channel_id:
            return await self._create(
                ref.service_url,
                ConversationParameters(
                    is_group=True,
                    bot=ref.bot or ChannelAccount(id=self._settings.app_id),
                    channel_data={"channel": {"id": conversation.channel_id}, "tenant": {"id": conversation.tenant_id}},
                    tenant_id=conversation.tenant_id,
                    activity=activity,
                ),
            )
        return await self._continue(ref, activity)

    async def _continue(self, ref: ConversationReference, activity: Activity) -> Sent:
        """Send `activity` into an existing conversation, outside any turn."""
        sent: list[Sent] = []

        async def deliver(turn_context: TurnContext) -> None:
            response = await turn_context.send_activity(activity)
            sent.append(Sent(conversation_id=ref.conversation.id, activity_id=response.id if response else None))

        await self._adapter.continue_conversation(ref, deliver, self._settings.app_id)
        return sent[0]

    async def reply(self, reference: dict, activity: Activity) -> Sent:
        """Send `activity` where a turn's reply should have gone (a reply queued in the outbox)."""
        ref = ConversationReference().deserialize(reference)
        self._checked(ref.service_url)
        return await self._continue(ref, activity)

    async def send_personal(self, member_id: str, tenant_id: str | None, service_url: str | None, activity: Activity) -> Sent:
        """A 1:1 chat with one person (their 29: id or Entra object id), started by Chaperone."""
        return await self._create(
            self._checked(service_url),
            ConversationParameters(
                is_group=False,
                bot=ChannelAccount(id=f"28:{self._settings.app_id}" if self._settings.app_id else "28:chaperone"),
                members=[ChannelAccount(id=member_id)],
                channel_data={"tenant": {"id": tenant_id}},
                tenant_id=tenant_id,
                activity=activity,
            ),
        )

    async def _create(self, service_url: str, parameters: ConversationParameters) -> Sent:
        created: list[Sent] = []

        async def record(turn_context: TurnContext) -> None:
            created.append(Sent(conversation_id=turn_context.activity.conversation.id, activity_id=turn_context.activity.id))

        await self._adapter.create_conversation(self._settings.app_id, record, parameters, channel_id="msteams", service_url=service_url)
        return created[0]

    async def update_alert(self, purpose: AlertPurpose, conversation_id: str, activity_id: str, activity: Activity,
                           school_id: str = SOLE_SCHOOL_ID) -> None:
        """Replace a card Chaperone posted in `school_id`'s `purpose` channel (its thread's
        conversation id and the activity id the post returned)."""
        destination = await self._conversations.destination_for_sending(purpose, school_id)
        if destination is None:
            raise NoDestination(f"no {purpose.value} alert channel has been set for {school_id}")
        ref = ConversationReference().deserialize(destination.conversation.reference)
        self._checked(ref.service_url)
        ref.conversation.id = conversation_id
        activity.id = activity_id

        async def update(turn_context: TurnContext) -> None:
            await turn_context.update_activity(activity)

        await self._adapter.continue_conversation(ref, update, self._settings.app_id)
