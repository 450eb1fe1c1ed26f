"""Staff read and sign the Remote Learning AUP in Teams; reminders for those who have not.

A signature is bound to the signer's Entra object id from the authenticated activity (not
the name they type), the policy version, and a SHA-256 of the exact text they were shown.
"""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from pydantic import BaseModel

from cards import aup as aup_cards
from config.policy import Policy
from domain.aup import AupDocument
from graph.client import GraphClient
from graph.people import StaffMember, staff_members
from store.conversations import ConversationStore
from store.jobs import Job, JobSpec, JobStore
from store.signatures import SignatureRegister

from . import events
from .alerts import card_activity
from .notifier import NoDestination, Notifier
from .worker import Worker

log = logging.getLogger(__name__)

CARD = "application/vnd.microsoft.card.adaptive"
REMIND = "aup-remind"


class StaffStatus(BaseModel):
    member: StaffMember
    signed_at: object | None = None
    position: str | None = None


def _card(card: dict) -> dict:
    return {"statusCode": 200, "type": CARD, "value": card}


class AupSigning:
    def __init__(
        self,
        document: AupDocument | None,
        register: SignatureRegister,
        graph: GraphClient,
        notifier: Notifier,
        conversations: ConversationStore,
        policy: Policy,
    ) -> None:
        self.document = document
        self._register = register
        self._graph = graph
        self._notifier = notifier
        self._conversations = conversations
        self._policy = policy

    async def signing_card(self, turn_context: TurnContext, problem: str | None = None, name: str | None = None,
                           position: str | None = None) -> dict | None:
        if self.document is None:
            return None
        sender = turn_context.activity.from_property
        return aup_cards.signing_card(self.document, name if name is not None else getattr(sender, "name", None), position, problem)

    async def sign(self, turn_context: TurnContext, data: dict) -> dict:
        """Check the submission; store nothing unless all of it is right."""
        if self.document is None:
            return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "This school has not set up AUP signing."}
        activity = turn_context.activity
        sender = activity.from_property
        aad_id = getattr(sender, "aad_object_id", None)
        name = str(data.get("name") or "").strip()
        position = str(data.get("position") or "").strip()

        async def again(problem: str) -> dict:
            return _card(await self.signing_card(turn_context, problem, name, position))

        school_tenant = self._policy.school.tenant_id
        if not aad_id or (school_tenant and events.tenant_of(activity) != school_tenant):
            return _card(aup_cards.card([aup_cards.text(f"Only staff signed in with a {self._policy.school.name} account can sign this AUP. Nothing was recorded.", color="Attention")]))
        if data.get("version") != self.document.version or data.get("sha256") != self.document.sha256:
            return await again("The AUP has changed since this card was sent. Please read the current version below and sign again.")
        if not name or len(name) > 120:
            return await again("Enter your name.")
        if not position or len(position) > 120:
            return await again("Enter your position.")
        if str(data.get("understood")).lower() != "true":
            return await again("Confirm that you have read and understood the AUP.")
        signature, created = await self._register.sign(
            aad_object_id=aad_id, tenant_id=events.tenant_of(activity), name=name, position=position,
            version=self.document.version, sha256=self.document.sha256,
        )
        log.info("AUP %s %s by %s", self.document.version, "signed" if created else "already signed", aad_id)
        return _card(aup_cards.receipt_card(signature.name, signature.position, signature.version, signature.signed_at,
                                            self._policy.school.zone, already=not created))

    async def signature_of(self, aad_object_id: str | None):
        if self.document is None or not aad_object_id:
            return None
        return (await self._register.signed(self.document.version)).get(aad_object_id)

    async def status(self) -> list[StaffStatus]:
        if self.document is None:
            raise NoDestination("the policy names no AUP ([aup] source and version)")
        staff = await staff_members(self._graph, self._policy.people.staff_group_ids)
        signed = await self._register.signed(self.document.version)
        return [
            StaffStatus(member=m, signed_at=signed[m.aad_object_id].signed_at if m.aad_object_id in signed else None,
                        position=signed[m.aad_object_id].position if m.aad_object_id in signed else None)
            for m in staff
        ]

    def schedule(self, worker: Worker, jobs: JobStore) -> None:
        self._jobs = jobs
        worker.handle(REMIND, self._scheduled_remind)

    async def start_schedule(self) -> None:
        if self.document is not None and self._policy.aup.remind_automatically:
            await self._jobs.enqueue(JobSpec(kind=REMIND, key="daily", delay_seconds=300))

    async def _scheduled_remind(self, job: Job) -> None:
        reminded, skipped = await self.remind()
        log.info("AUP reminders: %d sent, %d reminded recently", reminded, skipped)
        await self._jobs.enqueue(JobSpec(kind=REMIND, key="daily", delay_seconds=24 * 3600))

    async def remind(self) -> tuple[int, int]:
        """Send each unsigned member of staff a reminder, at most once per interval.
        Returns (reminded, skipped because reminded recently)."""
        interval = self._policy.aup.remind_interval_days
        service_url = await self._conversations.latest_service_url()
        if service_url is None:
            raise NoDestination("Chaperone has not been installed anywhere yet, so it has no Bot Connector address to write from")
        reminded = skipped = 0
        for person in await self.status():
            if person.signed_at is not None:
                continue
            if await self._register.reminded_recently(person.member.aad_object_id, self.document.version, interval):
                skipped += 1
                continue
            activity = card_activity(aup_cards.reminder_card(self.document), "Please sign the Remote Learning AUP")
            await self._notifier.send_personal(person.member.aad_object_id, self._policy.school.tenant_id, service_url, activity)
            await self._register.reminded(person.member.aad_object_id, self.document.version)
            reminded += 1
        return reminded, skipped
