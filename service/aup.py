"""Staff read and sign the Remote Learning AUP in Teams; reminders for those who have not.

A signature is bound to the signer's Entra object id from the authenticated activity (not
the name they type), the policy version, and a SHA-256 of the exact text they were shown.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel, field_validator

from cards import aup as aup_cards
from config.policy import Policy
from domain.aup import AupDocument
from domain.events import Sender
from graph.client import GraphClient
from graph.people import StaffMember, staff_members
from jobs.worker import Worker
from outbound.activities import card_activity
from outbound.notifier import NoDestination, Notifier
from store.conversations import ConversationStore
from store.jobs import Job, JobSpec, JobStore, Priority
from store.signatures import SignatureRegister

log = logging.getLogger(__name__)

REMIND = "aup-remind"


class Submission(BaseModel):
    """What a member of staff entered on the signing card. Any shape is read: what is not
    right is answered on the card (the signing card again), not refused."""

    name: str = ""
    position: str = ""
    understood: bool = False
    version: str | None = None
    sha256: str | None = None

    @field_validator("name", "position", mode="before")
    @classmethod
    def _text(cls, value: object) -> str:
        return value if isinstance(value, str) else ""

    @field_validator("version", "sha256", mode="before")
    @classmethod
    def _optional_text(cls, value: object) -> str | None:
        return value if isinstance(value, str) else None

    @field_validator("understood", mode="before")
    @classmethod
    def _toggle(cls, value: object) -> bool:
        return str(value).lower() == "true"  # the toggle's valueOn


class StaffStatus(BaseModel):
    member: StaffMember
    signed_at: datetime | None = None
    position: str | None = None


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

    def signing_card(self, signer: Sender, problem: str | None = None, name: str | None = None,
                     position: str | None = None) -> dict | None:
        """The AUP with name and position (prefilled from Teams) and Sign; None without an AUP."""
        if self.document is None:
            return None
        return aup_cards.signing_card(self.document, name if name is not None else signer.name, position, problem)

    def _refusal(self, signer: Sender, submission: Submission) -> dict | None:
        """The card a submission gets back before anything is stored: None when all of it is
        right, otherwise the signing card again (or a refusal) saying what to fix."""
        name, position = submission.name.strip(), submission.position.strip()

        def again(problem: str) -> dict:
            return self.signing_card(signer, problem, name, position)

        school_tenant = self._policy.school.tenant_id
        if not signer.aad_object_id or (school_tenant and signer.tenant_id != school_tenant):
            return aup_cards.card([aup_cards.text(f"Only staff signed in with a {self._policy.school.name} account can sign this AUP. Nothing was recorded.", color="Attention")])
        if submission.version != self.document.version or submission.sha256 != self.document.sha256:
            return again("The AUP has changed since this card was sent. Please read the current version below and sign again.")
        if not name or len(name) > 120:
            return again("Enter your name.")
        if not position or len(position) > 120:
            return again("Enter your position.")
        if not submission.understood:
            return again("Confirm that you have read and understood the AUP.")
        return None

    async def sign(self, signer: Sender, submission: Submission) -> dict:
        """Check the submission; store nothing unless all of it is right. Returns the card to show."""
        if (refusal := self._refusal(signer, submission)) is not None:
            return refusal
        signature, created = await self._register.sign(
            aad_object_id=signer.aad_object_id, tenant_id=signer.tenant_id, name=submission.name.strip(),
            position=submission.position.strip(), version=self.document.version, sha256=self.document.sha256,
        )
        log.info("AUP %s %s by %s", self.document.version, "signed" if created else "already signed", signer.aad_object_id)
        return aup_cards.receipt_card(signature.name, signature.position, signature.version, signature.signed_at,
                                      self._policy.school.zone, already=not created)

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
            await self._jobs.enqueue(JobSpec(kind=REMIND, priority=Priority.background, key="daily", delay_seconds=300))

    async def _scheduled_remind(self, job: Job) -> None:
        reminded, skipped = await self.remind()
        log.info("AUP reminders: %d sent, %d reminded recently", reminded, skipped)
        await self._jobs.enqueue(JobSpec(kind=REMIND, priority=Priority.background, key="daily", delay_seconds=24 * 3600))

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
