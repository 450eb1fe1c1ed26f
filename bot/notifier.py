"""Sends messages where no turn is in progress: the proactive path.

A channel post goes through the SDK's continue_conversation with the reference stored when
the channel was registered (tenant id included), so it survives restarts and works from
any instance.
"""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ConversationReference

from config.settings import Settings
from store.conversations import AlertPurpose, ConversationStore

from .adapter import ChaperoneAdapter

log = logging.getLogger(__name__)


class NoDestination(LookupError):
    pass


class Notifier:
    def __init__(self, adapter: ChaperoneAdapter, conversations: ConversationStore, settings: Settings) -> None:
        self._adapter = adapter
        self._conversations = conversations
        self._settings = settings

    async def send_alert(self, purpose: AlertPurpose, activity: Activity | str) -> str | None:
        """Post to the conversation registered for `purpose`; returns the new activity id."""
        destination = await self._conversations.alert_destination(purpose)
        if destination is None:
            raise NoDestination(f"no {purpose.value} alert channel has been set")
        return await self.send(destination.conversation.reference, activity)

    async def send(self, reference: dict, activity: Activity | str) -> str | None:
        ref = ConversationReference().deserialize(reference)
        refusal = self._settings.service_url_refusal(ref.service_url)
        if refusal:
            raise PermissionError(f"will not send to {ref.service_url}: {refusal}")
        sent: list[str | None] = []

        async def deliver(turn_context: TurnContext) -> None:
            response = await turn_context.send_activity(activity)
            sent.append(response.id if response else None)

        await self._adapter.continue_conversation(ref, deliver, self._settings.app_id)
        return sent[0] if sent else None
