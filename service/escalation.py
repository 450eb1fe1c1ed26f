"""Escalation in a trust: a school's breach alert that nobody acknowledged, resolved, recorded
an exception for (nor Chaperone cleared) within `[trust] escalate_after_minutes` of being sent
is escalated once to the trust's safeguarding leads: the trust default policy's alert channel,
if set, and each lead 1:1 (outbound/delivery.py, Destination.trust_leads).

A sweep job, like the other schedules, looks every few minutes; each escalation is an outbox
message with a dedupe key per alert, so any number of instances and sweeps escalate an alert
once. A single-school deployment has no trust to escalate to, and schedules nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cards.escalation import escalation_card
from config.trust import Schools
from domain.messages import Destination, Message, MessageKind
from jobs.worker import Worker
from rules.registry import BY_ID
from store.conversations import ConversationStore
from store.jobs import Job, JobSpec, JobStore, Priority
from store.lessons import LessonStore
from store.outbox import Outbox
from store.tables import utcnow

SWEEP = "escalation-sweep"
# Alerts older than this past their limit are left alone: a trust file adopted (or an outage
# ended) today must not flood the leads with last month's alerts.
LOOK_BACK = timedelta(days=7)


def dedupe_key(alert_id: int) -> str:
    return f"escalation:{alert_id}"


class AlertEscalation:
    def __init__(self, *, outbox: Outbox, lessons: LessonStore, conversations: ConversationStore, schools: Schools) -> None:
        self._outbox = outbox
        self._lessons = lessons
        self._conversations = conversations
        self._schools = schools
        self._jobs: JobStore | None = None
        self._worker: Worker | None = None

    @property
    def limit(self) -> timedelta | None:
        """How long an alert may wait before it is escalated; None outside a trust."""
        trust = self._schools.trust
        return timedelta(minutes=trust.escalate_after_minutes) if trust else None

    @property
    def sweep_every_seconds(self) -> float:
        # A tenth of the limit, between 30 s and 5 min: late by a few minutes at most.
        return min(300.0, max(30.0, self.limit.total_seconds() / 10)) if self.limit else 0.0

    def schedule(self, worker: Worker, jobs: JobStore) -> None:
        self._jobs, self._worker = jobs, worker
        worker.handle(SWEEP, self._sweep_job)

    async def start_schedule(self) -> None:
        if self.limit is not None and self._jobs is not None:
            await self._next_sweep()

    async def _next_sweep(self) -> None:
        await self._jobs.enqueue(JobSpec(kind=SWEEP, priority=Priority.grace, key="sweep", delay_seconds=self.sweep_every_seconds))

    async def _sweep_job(self, job: Job) -> None:
        try:
            await self.sweep(utcnow())
        finally:
            await self._next_sweep()

    async def sweep(self, now: datetime) -> list[int]:
        """Escalate every alert past its limit at `now` not escalated yet; the escalations queued."""
        limit = self.limit
        if limit is None:
            return []
        due = await self._outbox.unacted_alerts(sent_between=(now - limit - LOOK_BACK, now - limit),
                                                excluding_school=self._schools.default.school.id)
        done = await self._outbox.queued_keys([dedupe_key(a.id) for a in due])
        queued = []
        for alert in due:
            if dedupe_key(alert.id) not in done and (escalation := await self._escalate(alert, now)) is not None:
                queued.append(escalation)
        if queued and self._worker is not None:
            self._worker.wake()
        return queued

    async def _escalate(self, alert: Message, now: datetime) -> int | None:
        policy = self._schools.get(alert.school_id)
        lesson = await self._lessons.find(alert.lesson_id) if alert.lesson_id else None
        rules = list(dict.fromkeys(BY_ID[r.finding.rule_id].title for r in alert.raised or [] if r.finding.rule_id in BY_ID))
        card = escalation_card(self._schools.name, policy, lesson, rules, alert.sent_at, now, alert.id)
        # A lead's 1:1 chat is started through the Bot Connector the school's Teams last used.
        service_url = alert.service_url or await self._conversations.latest_service_url()
        return await self._outbox.queue(
            kind=MessageKind.escalation, destination=Destination.trust_leads, card=card, lesson_id=alert.lesson_id,
            summary=f"Escalated: {policy.school.name} breach alert not acknowledged", service_url=service_url,
            dedupe_key=dedupe_key(alert.id), finding_ids=list(alert.finding_ids), school_id=alert.school_id,
        )
