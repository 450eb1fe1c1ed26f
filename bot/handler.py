"""The Teams activity handler: thin on purpose. It reads an activity and delegates: card
actions and commands to their tables, installs to the conversation store. (Meeting events
take the ingest path, bot/ingest.py.)"""

from __future__ import annotations

import logging
from http import HTTPStatus

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import ActivityTypes, ChannelAccount

from cards import aup as aup_cards
from config.trust import Schools
from outbound.activities import card_activity
from service.aup import AupSigning
from store.conversations import ConversationStore

from . import events, tenancy
from .card_actions import CardActions
from .commands import Commands
from .conversations import remember, scope_of, thread_root
from .responses import error_response

log = logging.getLogger(__name__)

CARD_ACTION = "adaptiveCard/action"


class ChaperoneBot(TeamsActivityHandler):
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        actions: CardActions,
        commands: Commands,
        signing: AupSigning,
        schools: Schools,
    ) -> None:
        self._conversations = conversations
        self._actions = actions
        self._commands = commands
        self._signing = signing
        self._schools = schools

    # ---- events ---------------------------------------------------------------------

    async def on_event_activity(self, turn_context: TurnContext) -> None:
        # Teams' meeting events never get here: the adapter hands them to the event log
        # (bot/ingest.py). Anything else is acknowledged and ignored.
        activity = turn_context.activity
        log.info("ignored event %r from %s", events.event_name(activity), activity.channel_id)

    # ---- installation -------------------------------------------------------------

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        conversation = await remember(self._conversations, activity, installing=True)
        log.info("installed in %s %s", scope_of(activity), activity.conversation.id)
        if scope_of(activity) == "personal" and conversation.newly_installed:
            name = self._school_name_for(events.sender_of(activity).aad_object_id)
            welcome = aup_cards.welcome_card(name, self._signing.document, offered=self._signing.offered)
            await turn_context.send_activity(card_activity(welcome, f"Welcome to Chaperone for {name}"))

    def _school_name_for(self, aad_object_id: str | None) -> str:
        """The school whose policy names this person, when exactly one does; else the trust's
        (or the single school's) name."""
        named = [p for p in self._schools if p.people.is_slt(aad_object_id) or p.people.is_dsl(aad_object_id)]
        return named[0].school.name if len(named) == 1 and self._schools.is_trust else self._schools.name

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self._conversations.uninstalled(thread_root(turn_context.activity.conversation.id))
        log.info("removed from %s", turn_context.activity.conversation.id)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        # Teams announces an install as conversationUpdate as well as installationUpdate;
        # either one records it.
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        added: list[ChannelAccount] = activity.members_added or []
        removed: list[ChannelAccount] = activity.members_removed or []
        if any(m.id == bot_id for m in added):
            await self.on_installation_update_add(turn_context)
        elif any(m.id == bot_id for m in removed):
            await self.on_installation_update_remove(turn_context)

    # ---- the school's tenant, always ------------------------------------------------

    async def on_turn(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        # Messages and card actions answer a person, so their tables refuse with words
        # (bot/commands.py, bot/card_actions.py); anything else from another tenant (a copy
        # of the app installed elsewhere) is acknowledged and ignored, and nothing is stored.
        if activity.type in (ActivityTypes.message, ActivityTypes.invoke) or tenancy.from_school(activity, self._schools.tenants):
            await super().on_turn(turn_context)
            return
        log.warning("ignored %s activity from tenant %r", activity.type, events.tenant_of(activity))

    # ---- Adaptive Card actions and commands ---------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != CARD_ACTION:
            # The SDK answers 501 for invokes it has no handler for; Teams documents 4xx with an
            # error body for a request the bot cannot act on, and shows its message.
            return error_response(HTTPStatus.BAD_REQUEST, f"Chaperone does not handle '{str(activity.name)[:40]}' requests.")
        value = activity.value if isinstance(activity.value, dict) else {}
        action = value.get("action") if isinstance(value.get("action"), dict) else {}
        data = action.get("data") if isinstance(action.get("data"), dict) else {}
        return await self._actions.handle(turn_context, str(action.get("verb") or ""), data)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await self._commands.handle(turn_context)
