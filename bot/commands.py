"""Chat commands (what people type to Chaperone): one table from command to handler."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from botbuilder.core import TurnContext

from cards import reminder
from config.policy import Policy
from config.trust import Schools
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
# Commands that may name a school after them (a trust's leaders choose which school's channel).
SET_CHANNEL = {"set alert channel": AlertPurpose.slt, "set concern channel": AlertPurpose.dsl}
WHAT = {AlertPurpose.slt: "Breach alerts", AlertPurpose.dsl: "Safeguarding concerns"}


def help_text(schools: Schools) -> str:
    """The help, naming the trust and how its leaders name a school; a single school's unchanged."""
    if not schools.is_trust:
        return HELP_TEXT
    return (
        f"Chaperone checks live lessons in {schools.name}'s schools against each school's Remote Learning AUP.\n\n"
        "- **sign**: read and sign the Remote Learning AUP (staff)\n"
        "- **report**: report a concern privately to your school's Designated Safeguarding Lead\n"
        "- **set alert channel**: (SLT, in a team channel) post your school's breach alerts in this channel; "
        "if you lead more than one school, name it: **set alert channel SCHOOL**\n"
        "- **set concern channel**: (DSL, in a private team channel) receive your school's reported concerns there "
        "(**set concern channel SCHOOL** likewise)\n"
        "- **status**: your AUP signature (personal chat), or which schools' alerts this channel receives (team channel)\n"
        "- **help**: this message"
    )

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
    def __init__(self, *, conversations: ConversationStore, signing: AupSigning, schools: Schools) -> None:
        self._conversations = conversations
        self._signing = signing
        self._schools = schools
        self._policy = schools.default  # a single school's; in a trust, its default policy
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
        if not tenancy.from_school(turn_context.activity, self._schools.tenants):
            log.warning("command refused: tenant %r is not the school's", events.tenant_of(turn_context.activity))
            await turn_context.send_activity(tenancy.refusal(self._schools.name))
            return
        text, command = command_of(turn_context)
        handler = self._table.get(command)
        if handler is not None:
            await handler(turn_context)
            return
        for prefix, purpose in SET_CHANNEL.items():
            if command.startswith(prefix + " "):
                await self._set_channel(turn_context, purpose, command[len(prefix) + 1:])
                return
        await turn_context.send_activity(f"I don't know the command '{text.strip()[:60]}'.\n\n{help_text(self._schools)}")

    async def _help(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(help_text(self._schools))

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
            if self._schools.is_trust:
                return await self._trust_channel_status(turn_context)
            lines = []
            for purpose, what in WHAT.items():
                destination = await self._conversations.alert_destination(purpose, self._policy.school.id)
                where = f"the channel {destination.conversation.channel_id} (set by {destination.set_by_name})" if destination else (
                    "not set yet" if purpose is AlertPurpose.slt else "private chats with the DSL")
                lines.append(f"- {what}: {where}")
            return "Chaperone for " + self._policy.school.name + ":\n\n" + "\n".join(lines)
        # A meeting or group chat: pupils may be reading, so no findings here.
        return "Chaperone is following lessons in this chat. The organizer receives its notes privately; send **report** to raise a concern with the DSL."

    async def _trust_channel_status(self, turn_context: TurnContext) -> str:
        """In a trust: which schools' alerts this channel receives (no other channel is named)."""
        here = await self._conversations.destinations_in(thread_root(turn_context.activity.conversation.id))
        if not here:
            return (f"Chaperone for {self._schools.name}: this channel receives no school's alerts. A school's senior leaders "
                    "choose theirs with **set alert channel**, its DSL with **set concern channel**.")
        lines = [f"- {WHAT[d.purpose]} for {self._schools.get(d.school_id).school.name} (set by {d.set_by_name})" for d in here]
        return f"Chaperone for {self._schools.name}: this channel receives\n\n" + "\n".join(lines)

    async def _set_alert_channel(self, turn_context: TurnContext) -> None:
        await self._set_channel(turn_context, AlertPurpose.slt, "")

    async def _set_concern_channel(self, turn_context: TurnContext) -> None:
        await self._set_channel(turn_context, AlertPurpose.dsl, "")

    def _school_named(self, named: str) -> Policy | None:
        wanted = named.strip().lower()
        return next((p for p in self._schools.all_policies() if wanted in (p.school.id.lower(), p.school.name.lower())), None)

    async def _set_channel(self, turn_context: TurnContext, purpose: AlertPurpose, named: str) -> None:
        """A school's SLT (alerts) or DSL (concerns) choose ITS channel: the one school that names
        them, or the school they name when they lead several (a trust lead always names it)."""
        activity = turn_context.activity
        sender = events.sender_of(activity)
        what = WHAT[purpose]
        if conversation_kind(turn_context) != "channel":
            await turn_context.send_activity(f"Post this command in the team channel that should receive {what.lower()}.")
            return
        if purpose is AlertPurpose.slt:
            mine, who = self._schools.where_slt(sender.aad_object_id), "senior leaders"
        else:
            mine, who = self._schools.where_dsl(sender.aad_object_id), "designated safeguarding leads"
        if not mine:
            log.warning("set %s channel refused for %s", purpose.value, sender.aad_object_id)
            await turn_context.send_activity(f"Only the {who} named in the school's policy can choose this channel. Nothing was changed.")
            return
        choices = ", ".join(f"**{p.school.id}** ({p.school.name})" for p in mine)
        command = "set alert channel" if purpose is AlertPurpose.slt else "set concern channel"
        if named:
            school = self._school_named(named)
            if school is None:
                await turn_context.send_activity(f"There is no school '{named[:60]}' here. You may choose: {choices}. Nothing was changed.")
                return
            if school.school.id not in {p.school.id for p in mine}:
                log.warning("set %s channel for %s refused for %s", purpose.value, school.school.id, sender.aad_object_id)
                await turn_context.send_activity(f"Only {school.school.name}'s {who} can choose its channel. Nothing was changed.")
                return
        elif len(mine) == 1 and self._schools.lead(sender.aad_object_id) is None:
            school = mine[0]
        else:
            await turn_context.send_activity(f"Say which school's {what.lower()} this channel should receive: "
                                             f"**{command} SCHOOL**, one of {choices}. Nothing was changed.")
            return
        await remember(self._conversations, activity, installing=False)
        await self._conversations.set_alert_destination(purpose, thread_root(activity.conversation.id), sender.aad_object_id, sender.name,
                                                        school.school.id)
        await turn_context.send_activity(f"{what} for {school.school.name} will be posted in this channel (set by {sender.name}).")
