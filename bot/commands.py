"""Chat commands (what people type to Chaperone): one table from command to handler."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from botbuilder.core import TurnContext

from cards import reminder
from config.policy import Policy
from domain.conversations import AlertPurpose
from outbound.activities import card_activity
from service.aup import AupSigning
from store.conversations import ConversationStore

from . import events, tenancy
from .conversations import remember, thread_root

log = logging.getLogger(__name__)

HELP_TEXT = (
    "Chaperone checks live lessons against the school's Remote Learning AUP.\n\n"
    "- **sign**: read and sign the Remote Learning AUP (staff)\n"
    "- **report**: report a concern privately to the Designated Safeguarding Lead\n"
    "- **set alert channel**: (SLT, in a team channel) post breach alerts in this channel\n"
    "- **set concern channel**: (DSL, in a private team channel) receive reported concerns there\n"
    "- **status**: your AUP signature (personal chat), or where alerts go (team channel)\n"
    "- **help**: this message"
)
NO_AUP = "This school has not set up AUP signing in Chaperone."

Command = Callable[[TurnContext], Awaitable[None]]


def command_of(turn_context: TurnContext) -> tuple[str, str]:
    """The command as typed (Chaperone's @mention removed) and in the form the table knows.

    Not the SDK's remove_recipient_mention: it uses the mention's text as a regular
    expression, and fails on a mention without text."""
    activity = turn_context.activity
    text = activity.text or ""
    bot_id = getattr(activity.recipient, "id", None)
    for entity in activity.entities or []:
        mention = getattr(entity, "additional_properties", None) or {}
        mentioned = mention.get("mentioned")
        if (entity.type == "mention" and isinstance(mentioned, dict) and mentioned.get("id") == bot_id
                and isinstance(mention.get("text"), str) and mention["text"]):
            text = text.replace(mention["text"], "")
    return text, re.sub(r"\s+", " ", text).strip().lower()


def conversation_kind(turn_context: TurnContext) -> str:
    return getattr(turn_context.activity.conversation, "conversation_type", None) or "personal"


class Commands:
    def __init__(self, *, conversations: ConversationStore, signing: AupSigning, policy: Policy) -> None:
        self._conversations = conversations
        self._signing = signing
        self._policy = policy
        self._table: dict[str, Command] = {
            "set alert channel": self._set_alert_channel,
            "set concern channel": self._set_concern_channel,
            "report": self._report,
            "status": self._status,
            "sign": self._sign,
            "help": self._help,
            "": self._help,
        }

    async def handle(self, turn_context: TurnContext) -> None:
        if not tenancy.from_school(turn_context.activity, self._policy.school.tenant_id):
            log.warning("command refused: tenant %r is not the school's", events.tenant_of(turn_context.activity))
            await turn_context.send_activity(tenancy.refusal(self._policy.school.name))
            return
        text, command = command_of(turn_context)
        handler = self._table.get(command)
        if handler is None:
            await turn_context.send_activity(f"I don't know the command '{text.strip()[:60]}'.\n\n{HELP_TEXT}")
            return
        await handler(turn_context)

    async def _help(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(HELP_TEXT)

    async def _report(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(card_activity(reminder.concern_form(None), "Report a concern"))

    async def _sign(self, turn_context: TurnContext) -> None:
        card = await self._signing.signing_card(events.sender_of(turn_context.activity))
        if card is None:
            await turn_context.send_activity(NO_AUP)
        else:
            await turn_context.send_activity(card_activity(card, "Read and sign the Remote Learning AUP"))

    async def _status(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(await self._status_text(turn_context))

    async def _status_text(self, turn_context: TurnContext) -> str:
        kind = conversation_kind(turn_context)
        if kind == "personal":
            # The signing service words it: in a trust, each of the person's schools' AUPs.
            words = await self._signing.status_text(events.sender_of(turn_context.activity))
            return NO_AUP if words is None else words
        if kind == "channel":
            lines = []
            for purpose, what in ((AlertPurpose.slt, "Breach alerts"), (AlertPurpose.dsl, "Safeguarding concerns")):
                destination = await self._conversations.alert_destination(purpose)
                where = f"the channel {destination.conversation.channel_id} (set by {destination.set_by_name})" if destination else (
                    "not set yet" if purpose is AlertPurpose.slt else "private chats with the DSL")
                lines.append(f"- {what}: {where}")
            return "Chaperone for " + self._policy.school.name + ":\n\n" + "\n".join(lines)
        # A meeting or group chat: pupils may be reading, so no findings here.
        return "Chaperone is following lessons in this chat. The organizer receives its notes privately; send **report** to raise a concern with the DSL."

    async def _set_alert_channel(self, turn_context: TurnContext) -> None:
        await self._set_channel(turn_context, AlertPurpose.slt, self._policy.people.is_slt, "senior leaders")

    async def _set_concern_channel(self, turn_context: TurnContext) -> None:
        await self._set_channel(turn_context, AlertPurpose.dsl, self._policy.people.is_dsl, "designated safeguarding leads")

    async def _set_channel(self, turn_context: TurnContext, purpose: AlertPurpose, allowed: Callable[[str | None], bool], who: str) -> None:
        activity = turn_context.activity
        sender = events.sender_of(activity)
        what = "Breach alerts" if purpose is AlertPurpose.slt else "Safeguarding concerns"
        if conversation_kind(turn_context) != "channel":
            await turn_context.send_activity(f"Post this command in the team channel that should receive {what.lower()}.")
            return
        if not allowed(sender.aad_object_id):
            log.warning("set %s channel refused for %s", purpose.value, sender.aad_object_id)
            await turn_context.send_activity(f"Only the {who} named in the school's policy can choose this channel. Nothing was changed.")
            return
        await remember(self._conversations, activity, installing=False)
        await self._conversations.set_alert_destination(purpose, thread_root(activity.conversation.id), sender.aad_object_id, sender.name)
        await turn_context.send_activity(f"{what} for {self._policy.school.name} will be posted in this channel (set by {sender.name}).")
