"""Staff read and sign the Remote Learning AUP in Teams; reminders for those who have not.

A signature is bound to the signer's Entra object id from the authenticated activity (not
the name they type), the policy version, and a SHA-256 of the exact text they were shown.

In a trust each school has its own AUP document and version, and a member of staff signs the
AUP of each school whose staff group they are in (a teacher in two schools signs both,
separately): the card names the school, the submission carries its id, and a signature is
kept under that school. A single school's signing reads exactly as it always has.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel, field_validator

from cards import aup as aup_cards
from cards.aup import SchoolAup
from config.policy import Policy
from config.trust import Schools
from domain.aup import AupDocument
from domain.events import Sender
from graph.client import GraphClient, GraphUnavailable
from graph.people import StaffMember, staff_members
from graph.schools import staff_schools
from jobs.worker import Worker
from outbound.activities import card_activity
from outbound.notifier import NoDestination, Notifier
from store.conversations import ConversationStore
from store.jobs import Job, JobSpec, JobStore, Priority
from store.signatures import Signature, SignatureRegister

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
    school: str | None = None  # in a trust: whose AUP was signed (the card's Sign data)

    @field_validator("name", "position", mode="before")
    @classmethod
    def _text(cls, value: object) -> str:
        return value if isinstance(value, str) else ""

    @field_validator("version", "sha256", "school", mode="before")
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


class UnknownSchool(LookupError):
    """A school id that is not one of the deployment's."""


class AupSigning:
    def __init__(
        self,
        *,
        register: SignatureRegister,
        graph: GraphClient,
        notifier: Notifier,
        conversations: ConversationStore,
        schools: Schools,
    ) -> None:
        self._register = register
        self._graph = graph
        self._notifier = notifier
        self._conversations = conversations
        self._schools = schools
        # Read once: the text a signature's fingerprint is of must not change under a running card.
        self._documents: dict[str, AupDocument] = {
            p.school.id: document for p in schools.all_policies() if (document := p.aup_document()) is not None
        }

    # ---- which AUP ----------------------------------------------------------------------

    @property
    def document(self) -> AupDocument | None:
        """A single school's AUP (None without one). In a trust, where each school has its own,
        None: see `document_of`."""
        sole = self._schools.sole
        return self._documents.get(sole.school.id) if sole is not None else None

    @property
    def offered(self) -> bool:
        """Whether any school has an AUP to sign."""
        return bool(self._documents)

    def document_of(self, school_id: str) -> AupDocument | None:
        return self._documents.get(school_id)

    def _policy(self, school_id: str | None) -> Policy:
        """The school's policy; None: the single school's (in a trust, the default policy's)."""
        if school_id is None:
            return self._schools.sole or self._schools.default
        found = next((p for p in self._schools.all_policies() if p.school.id == school_id), None)
        if found is None:
            raise UnknownSchool(school_id)
        return found

    async def schools_of(self, aad_object_id: str | None) -> list[Policy]:
        """In a trust: the schools with an AUP whose staff groups this person is in, in the
        trust file's order."""
        if not aad_object_id:
            return []
        groups = {g: p.school.id for p in self._schools.all_policies() if p.school.id in self._documents
                  for g in p.people.staff_group_ids}
        # One checkMemberGroups for the person, not every school's staff list read through.
        mine = await staff_schools(self._graph, aad_object_id, groups)
        return [p for p in self._schools.all_policies() if p.school.id in mine]

    @staticmethod
    def _school(policy: Policy) -> SchoolAup:
        return SchoolAup(school_id=policy.school.id, school_name=policy.school.name)

    # ---- the signing card -----------------------------------------------------------------

    async def signing_card(self, signer: Sender, problem: str | None = None, name: str | None = None,
                           position: str | None = None, school_id: str | None = None) -> dict | None:
        """The AUP with name and position (prefilled from Teams) and Sign; None without an AUP.
        In a trust: the AUP of `school_id` if the signer is its staff, otherwise of the first of
        their schools they have not signed, with the others' offered beside it."""
        if self._schools.sole is not None:
            if self.document is None:
                return None
            return aup_cards.signing_card(self.document, name if name is not None else signer.name, position, problem)
        if not self.offered:
            return None
        try:
            mine = await self.schools_of(signer.aad_object_id)
        except GraphUnavailable:
            return _refusal_card("Chaperone could not check which schools you work in just now. Please try again in a few minutes.")
        if not mine:
            return _refusal_card(f"Only staff of {self._schools.name}'s schools can sign an AUP here, and you are not in any "
                                 "school's staff group. Nothing was recorded.")
        if school_id is not None:
            chosen = next((p for p in mine if p.school.id == school_id), None)
            if chosen is None:
                return _refusal_card("You are not on the staff of that school, so its AUP is not yours to sign.")
        else:
            chosen = await self._first_unsigned(signer.aad_object_id, mine)
        return self._trust_card(chosen, mine, signer, problem, name, position)

    async def _first_unsigned(self, aad_object_id: str, mine: list[Policy]) -> Policy:
        for policy in mine:
            document = self._documents[policy.school.id]
            if not await self._register.signed_by(document.version, {aad_object_id}, school_id=policy.school.id):
                return policy
        return mine[0]

    def _trust_card(self, policy: Policy, mine: list[Policy], signer: Sender, problem: str | None, name: str | None,
                    position: str | None) -> dict:
        others = tuple(self._school(p) for p in mine if p is not policy)
        return aup_cards.signing_card(self._documents[policy.school.id], name if name is not None else signer.name, position,
                                      problem, school=self._school(policy), others=others)

    # ---- signing --------------------------------------------------------------------------

    async def _whose(self, signer: Sender, submission: Submission) -> tuple[Policy, list[Policy]] | dict:
        """The school whose AUP the submission signs (and, in a trust, the signer's schools), or
        the refusal card: in a trust only that school's staff sign its AUP."""
        if self._schools.sole is not None:
            return self._schools.sole, [self._schools.sole]
        if submission.school is None or submission.school not in self._documents:
            return _refusal_card("This card does not say which school's AUP it is. Send **sign** for the current card. "
                                 "Nothing was recorded.")
        policy = self._policy(submission.school)
        if (refusal := self._outsider(signer, policy)) is not None:
            return refusal
        try:
            mine = await self.schools_of(signer.aad_object_id)
        except GraphUnavailable:
            return _refusal_card("Chaperone could not check that you are on the school's staff just now. Please try again "
                                 "in a few minutes. Nothing was recorded.")
        if policy not in mine:
            log.warning("AUP of %s refused: %s is not in its staff group", policy.school.id, signer.aad_object_id)
            return _refusal_card(f"Only the staff of {policy.school.name} can sign its AUP. Nothing was recorded.")
        return policy, mine

    @staticmethod
    def _outsider(signer: Sender, policy: Policy) -> dict | None:
        school_tenant = policy.school.tenant_id
        if not signer.aad_object_id or (school_tenant and signer.tenant_id != school_tenant):
            return _refusal_card(f"Only staff signed in with a {policy.school.name} account can sign this AUP. Nothing was recorded.")
        return None

    def _refusal(self, signer: Sender, submission: Submission, policy: Policy, mine: list[Policy]) -> dict | None:
        """The card a submission gets back before anything is stored: None when all of it is
        right, otherwise the signing card again (or a refusal) saying what to fix."""
        name, position = submission.name.strip(), submission.position.strip()
        document = self._documents[policy.school.id]

        def again(problem: str) -> dict:
            if self._schools.sole is not None:
                return aup_cards.signing_card(document, name, position, problem)
            return self._trust_card(policy, mine, signer, problem, name, position)

        if (refusal := self._outsider(signer, policy)) is not None:
            return refusal
        if submission.version != document.version or submission.sha256 != document.sha256:
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
        if not self.offered:
            return _refusal_card("This school has not set up AUP signing.")
        whose = await self._whose(signer, submission)
        if isinstance(whose, dict):
            return whose
        policy, mine = whose
        if (refusal := self._refusal(signer, submission, policy, mine)) is not None:
            return refusal
        document = self._documents[policy.school.id]
        signature, created = await self._register.sign(
            aad_object_id=signer.aad_object_id, tenant_id=signer.tenant_id, name=submission.name.strip(),
            position=submission.position.strip(), version=document.version, sha256=document.sha256, school_id=policy.school.id,
        )
        log.info("AUP %s of %s %s by %s", document.version, policy.school.id, "signed" if created else "already signed",
                 signer.aad_object_id)
        return aup_cards.receipt_card(signature.name, signature.position, signature.version, signature.signed_at,
                                      policy.school.zone, already=not created,
                                      school=None if self._schools.sole is not None else self._school(policy))

    async def signature_of(self, aad_object_id: str | None, school_id: str | None = None) -> Signature | None:
        """The person's signature of the school's current AUP (None: the single school's)."""
        policy = self._policy(school_id)
        document = self._documents.get(policy.school.id)
        if document is None or not aad_object_id:
            return None
        return (await self._register.signed(document.version, school_id=policy.school.id)).get(aad_object_id)

    async def status_text(self, signer: Sender) -> str | None:
        """What `status` answers in a personal chat: the person's signature of each of their
        schools' AUPs (None when no school has an AUP)."""
        if self._schools.sole is not None:
            document = self.document
            if document is None:
                return None
            signature = await self.signature_of(signer.aad_object_id)
            if signature is None:
                return f"You have not signed the {document.title}, version {document.version}. Send **sign** to read and sign it."
            when = signature.signed_at.astimezone(self._schools.sole.school.zone)
            return f"You signed the {document.title}, version {document.version}, on {when:%d %B %Y at %H:%M} as {signature.position}."
        if not self.offered:
            return None
        try:
            mine = await self.schools_of(signer.aad_object_id)
        except GraphUnavailable:
            return "Chaperone could not check which schools you work in just now. Please try again in a few minutes."
        if not mine:
            return f"You are not in any staff group of {self._schools.name}'s schools, so there is no AUP for you to sign."
        lines, unsigned = [], False
        for policy in mine:
            document = self._documents[policy.school.id]
            signature = await self.signature_of(signer.aad_object_id, policy.school.id)
            if signature is None:
                unsigned = True
                lines.append(f"- {policy.school.name}: {document.title}, version {document.version}: not signed yet")
            else:
                when = signature.signed_at.astimezone(policy.school.zone)
                lines.append(f"- {policy.school.name}: {document.title}, version {document.version}: signed on "
                             f"{when:%d %B %Y at %H:%M} as {signature.position}")
        return "Your AUPs:\n\n" + "\n".join(lines) + ("\n\nSend **sign** to read and sign the next one." if unsigned else "")

    # ---- the register and reminders --------------------------------------------------------

    async def status(self, school_id: str | None = None) -> list[StaffStatus]:
        """The school's staff and whether each has signed its current AUP (None: the single school)."""
        policy = self._policy(school_id)
        document = self._documents.get(policy.school.id)
        if document is None:
            raise NoDestination(f"{policy.school.name}'s policy names no AUP ([aup] source and version)")
        staff = await staff_members(self._graph, tuple(policy.people.staff_group_ids))
        signed = await self._register.signed(document.version, school_id=policy.school.id)
        return [
            StaffStatus(member=m, signed_at=signed[m.aad_object_id].signed_at if m.aad_object_id in signed else None,
                        position=signed[m.aad_object_id].position if m.aad_object_id in signed else None)
            for m in staff
        ]

    def schedule(self, worker: Worker, jobs: JobStore) -> None:
        self._jobs = jobs
        worker.handle(REMIND, self._scheduled_remind)

    def _reminding(self) -> list[Policy]:
        """The schools whose policy asks for daily reminders."""
        return [p for p in self._schools.all_policies() if p.school.id in self._documents and p.aup.remind_automatically]

    async def start_schedule(self) -> None:
        if self._reminding():
            await self._jobs.enqueue(JobSpec(kind=REMIND, priority=Priority.background, key="daily", delay_seconds=300))

    async def _scheduled_remind(self, job: Job) -> None:
        for policy in self._reminding():
            reminded, skipped = await self.remind(policy.school.id)
            log.info("AUP reminders (%s): %d sent, %d reminded recently", policy.school.id, reminded, skipped)
        await self._jobs.enqueue(JobSpec(kind=REMIND, priority=Priority.background, key="daily", delay_seconds=24 * 3600))

    async def remind(self, school_id: str | None = None) -> tuple[int, int]:
        """Send each of the school's unsigned staff a reminder of its AUP, at most once per
        interval (None: the single school). Returns (reminded, skipped because reminded recently)."""
        policy = self._policy(school_id)
        document = self._documents.get(policy.school.id)
        if document is None:
            raise NoDestination(f"{policy.school.name}'s policy names no AUP ([aup] source and version)")
        interval = policy.aup.remind_interval_days
        service_url = await self._conversations.latest_service_url()
        if service_url is None:
            raise NoDestination("Chaperone has not been installed anywhere yet, so it has no Bot Connector address to write from")
        school = None if self._schools.sole is not None else self._school(policy)
        reminded = skipped = 0
        for person in await self.status(policy.school.id):
            if person.signed_at is not None:
                continue
            aad = person.member.aad_object_id
            if await self._register.reminded_recently(aad, document.version, interval, school_id=policy.school.id):
                skipped += 1
                continue
            activity = card_activity(aup_cards.reminder_card(document, school), "Please sign the Remote Learning AUP")
            await self._notifier.send_personal(aad, policy.school.tenant_id, service_url, activity)
            await self._register.reminded(aad, document.version, school_id=policy.school.id)
            reminded += 1
        return reminded, skipped


def _refusal_card(words: str) -> dict:
    return aup_cards.card([aup_cards.text(words, color="Attention")])
