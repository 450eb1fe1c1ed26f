"""The Teams activity handler: thin on purpose. It reads an activity and delegates."""

from __future__ import annotations

import logging
import re

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity, ChannelAccount

from config.policy import Policy
from store.conversations import AlertPurpose, ConversationStore

from cards import aup as aup_cards
from cards import reminder

from . import events
from .alerts import card_activity
from .aup import AupSigning
from .card_actions import CardActions
from .lessons import LessonMonitor

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


def conversation_reference(activity: Activity) -> dict:
    reference = TurnContext.get_conversation_reference(activity).serialize()
    # The SDK's reference drops Teams' tenant id, which proactive messages need.
    conversation = reference.setdefault("conversation", {})
    tenant = events.tenant_of(activity)
    if tenant:
        conversation["tenantId"] = tenant
    if conversation.get("id"):
        conversation["id"] = _thread_root(conversation["id"])
    return reference


def _scope(activity: Activity) -> str:
    kind = getattr(activity.conversation, "conversation_type", None) or "personal"
    return "team" if kind == "channel" else kind


def _channel_data(activity: Activity) -> dict:
    return activity.channel_data if isinstance(activity.channel_data, dict) else {}


def _team_and_channel(activity: Activity) -> tuple[str | None, str | None]:
    data = _channel_data(activity)
    team = (data.get("team") or {}).get("id")
    channel = (data.get("channel") or {}).get("id")
    return team, channel


def _thread_root(conversation_id: str) -> str:
    # "19:...@thread.tacv2;messageid=123" is one reply thread; alerts start new posts.
    return conversation_id.split(";messageid=")[0]


class ChaperoneBot(TeamsActivityHandler):
    def __init__(
        self, monitor: LessonMonitor, conversations: ConversationStore, actions: CardActions, signing: AupSigning, policy: Policy
    ) -> None:
        self._signing = signing
        self._monitor = monitor
        self._conversations = conversations
        self._actions = actions
        self._policy = policy

    # ---- meeting events -----------------------------------------------------------

    async def on_event_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        name = events.event_name(activity)
        if activity.channel_id != "msteams" or name not in events.MEETING_EVENTS:
            log.info("ignored event %r from %s", name, activity.channel_id)
            return
        key = events.activity_key(activity)
        if name == events.MEETING_START:
            started = events.parse_meeting_start(activity)
            # The meeting chat is where the reminder and the organizer's note will go.
            await self._remember(activity, installing=False)
            await self._monitor.meeting_started(started, key)
        elif name == events.MEETING_END:
            await self._monitor.meeting_ended(events.parse_meeting_end(activity), key)
        else:
            joined = name == events.PARTICIPANT_JOIN
            await self._monitor.participants_changed(events.parse_participants(activity, joined), key)

    # ---- installation -------------------------------------------------------------

    async def _remember(self, activity: Activity, *, installing: bool) -> None:
        team, channel = _team_and_channel(activity)
        await self._conversations.remember(
            conversation_id=_thread_root(activity.conversation.id),
            scope=_scope(activity),
            service_url=activity.service_url,
            reference=conversation_reference(activity),
            tenant_id=events.tenant_of(activity),
            team_id=team,
            channel_id=channel,
            installed_by=getattr(activity.from_property, "aad_object_id", None),
            installing=installing,
        )

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context.activity, installing=True)
        log.info("installed in %s %s", _scope(turn_context.activity), turn_context.activity.conversation.id)
        if _scope(turn_context.activity) == "personal":
            welcome = aup_cards.welcome_card(self._policy.school.name, self._signing.document)
            await turn_context.send_activity(card_activity(welcome, f"Welcome to Chaperone for {self._policy.school.name}"))

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self._conversations.uninstalled(_thread_root(turn_context.activity.conversation.id))
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

    # ---- Adaptive Card actions ----------------------------------------------------

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        value = activity.value if isinstance(activity.value, dict) else {}
        action = value.get("action") or {}
        data = action.get("data") if isinstance(action.get("data"), dict) else {}
        # A plain dict body: the adapter returns it as it is (see bot/adapter.py).
        return InvokeResponse(status=200, body=await self._actions.handle(turn_context, str(action.get("verb") or ""), data))

    # ---- commands -----------------------------------------------------------------

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        text = TurnContext.remove_recipient_mention(activity) or ""
        command = re.sub(r"\s+", " ", text).strip().lower()
        if command == "set alert channel":
            await self._set_alert_channel(turn_context, AlertPurpose.slt, self._policy.people.is_slt, "senior leaders")
        elif command == "set concern channel":
            await self._set_alert_channel(turn_context, AlertPurpose.dsl, self._policy.people.is_dsl, "designated safeguarding leads")
        elif command == "report":
            await turn_context.send_activity(card_activity(reminder.concern_form(None), "Report a concern"))
        elif command == "status":
            await turn_context.send_activity(await self._status(turn_context))
        elif command == "sign":
            card = await self._signing.signing_card(turn_context)
            if card is None:
                await turn_context.send_activity("This school has not set up AUP signing in Chaperone.")
            else:
                await turn_context.send_activity(card_activity(card, "Read and sign the Remote Learning AUP"))
        elif command in ("help", ""):
            await turn_context.send_activity(HELP_TEXT)
        else:
            await turn_context.send_activity(f"I don't know the command '{text.strip()[:60]}'.\n\n{HELP_TEXT}")

    async def _status(self, turn_context: TurnContext) -> str:
        activity = turn_context.activity
        kind = getattr(activity.conversation, "conversation_type", None) or "personal"
        if kind == "personal":
            document = self._signing.document
            if document is None:
                return "This school has not set up AUP signing in Chaperone."
            signature = await self._signing.signature_of(getattr(activity.from_property, "aad_object_id", None))
            if signature is None:
                return f"You have not signed the {document.title}, version {document.version}. Send **sign** to read and sign it."
            when = signature.signed_at.astimezone(self._policy.school.zone)
            return f"You signed the {document.title}, version {document.version}, on {when:%d %B %Y at %H:%M} as {signature.position}."
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

    async def _set_alert_channel(self, turn_context: TurnContext, purpose: AlertPurpose, allowed, who: str) -> None:
        activity = turn_context.activity
        sender = activity.from_property
        what = "Breach alerts" if purpose is AlertPurpose.slt else "Safeguarding concerns"
        if getattr(activity.conversation, "conversation_type", None) != "channel":
            await turn_context.send_activity(f"Post this command in the team channel that should receive {what.lower()}.")
            return
        if not allowed(getattr(sender, "aad_object_id", None)):
            log.warning("set %s channel refused for %s", purpose.value, getattr(sender, "aad_object_id", None))
            await turn_context.send_activity(
                f"Only the {who} named in the school's policy can choose this channel. Nothing was changed."
            )
            return
        await self._remember(activity, installing=False)
        await self._conversations.set_alert_destination(purpose, _thread_root(activity.conversation.id), sender.aad_object_id, sender.name)
        await turn_context.send_activity(f"{what} for {self._policy.school.name} will be posted in this channel (set by {sender.name}).")
