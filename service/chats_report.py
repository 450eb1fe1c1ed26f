"""The weekly report to the DSL of one-to-one chats between staff and pupils (rule
staff-pupil-chats, off by default): the staff group's 1:1 chats, the other member classified by
the directory, metadata only.

In a trust each school that has the rule on gets its own report, of its own staff group's chats,
to its own DSL."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from cards.chats_report import chats_report_card
from config.policy import Policy
from config.trust import Schools
from domain.chats import ChatMember, StaffPupilChat
from domain.findings import Finding
from domain.lesson import PersonClass
from domain.messages import Destination, MessageKind
from graph.chats import ChatReader
from graph.client import GraphClient
from graph.people import PeopleDirectory, staff_members
from jobs.worker import Worker
from rules import staff_pupil_chats
from store.conversations import ConversationStore
from store.jobs import Job, JobSpec, JobStore, Priority
from store.outbox import Outbox
from store.tables import utcnow

log = logging.getLogger(__name__)

WEEKLY = "staff-pupil-chats"
WEEK = 7 * 24 * 3600


class StaffPupilChatsReport:
    def __init__(self, *, graph: GraphClient, people: PeopleDirectory, outbox: Outbox, conversations: ConversationStore,
                 schools: Schools) -> None:
        self._graph = graph
        self._chats = ChatReader(graph)
        self._people = people
        self._outbox = outbox
        self._conversations = conversations
        self._schools = schools
        self._jobs: JobStore | None = None

    def _reporting(self) -> list[Policy]:
        return [p for p in self._schools if staff_pupil_chats.RULE.options_for(p).enabled]

    @property
    def enabled(self) -> bool:
        return bool(self._reporting())

    def schedule(self, worker: Worker, jobs: JobStore) -> None:
        self._jobs = jobs
        worker.handle(WEEKLY, self._weekly)

    async def start_schedule(self) -> None:
        if self.enabled and self._jobs is not None:
            await self._jobs.enqueue(JobSpec(kind=WEEKLY, priority=Priority.background, key="weekly", delay_seconds=300))

    async def _weekly(self, job: Job) -> None:
        for policy in self._reporting():
            await self.send(school_id=policy.school.id)
        await self._jobs.enqueue(JobSpec(kind=WEEKLY, priority=Priority.background, key="weekly", delay_seconds=WEEK))

    def _policy(self, school_id: str | None) -> Policy:
        if school_id is None and self._schools.is_trust:
            raise ValueError("a trust's chats report is per school: name the school")
        return self._schools.get(school_id) if school_id is not None else self._schools.default

    async def gather(self, school_id: str | None = None) -> list[StaffPupilChat]:
        """The school's staff's one-to-one chats with pupils (a single school's when none is named)."""
        staff = await staff_members(self._graph, self._policy(school_id).people.staff_group_ids)
        staff_ids = {s.aad_object_id for s in staff}
        found: dict[str, StaffPupilChat] = {}
        for member in staff:
            for chat in await self._chats.one_to_one_chats(member.aad_object_id):
                me = next((m for m in chat.members if m.aad_object_id == member.aad_object_id),
                          ChatMember(aad_object_id=member.aad_object_id, name=member.name))
                for other in chat.members:
                    if other.aad_object_id in staff_ids or chat.chat_id in found:
                        continue
                    if (await self._people.classify(other.aad_object_id)).classification is PersonClass.pupil:
                        found[chat.chat_id] = StaffPupilChat(staff=me, pupil=other, created=chat.created,
                                                             last_activity=chat.last_activity)
        return list(found.values())

    async def send(self, now: datetime | None = None, school_id: str | None = None) -> Finding:
        """Gather the week's chats and queue the report to the school's DSL; returns the verdict."""
        now = now or utcnow()
        policy = self._policy(school_id)
        since = now - timedelta(days=staff_pupil_chats.RULE.options_for(policy).look_back_days)
        finding = staff_pupil_chats.judge(await self.gather(policy.school.id if school_id else None), since, policy)
        key = f"staff-pupil-chats:{policy.school.id}:{now:%Y-%m-%d}" if self._schools.is_trust else f"staff-pupil-chats:{now:%Y-%m-%d}"
        await self._outbox.queue(
            kind=MessageKind.chats_report, destination=Destination.dsl, card=chats_report_card(policy, finding, since, now),
            summary="Weekly: one-to-one chats between staff and pupils", lesson_id=None,
            service_url=await self._conversations.latest_service_url(), dedupe_key=key, school_id=policy.school.id,
        )
        log.info("staff-pupil chats report queued for the DSL: %d chat(s)", len(finding.details.get("chats", [])))
        return finding

