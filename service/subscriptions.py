"""Graph change notifications, done properly.

- Subscriptions: one for call records (when call records are on) and one per member of staff's
  calendar events (when enrolment is on), each with a random clientState kept in the database.
- Renewal is a job in the queue (any instance), well before Graph's expiry; a subscription
  Graph no longer has is made again.
- Notifications (`receive`): every one's clientState is compared, in constant time, with the
  one kept for its subscription; one that does not match changes nothing. A valid one is a
  hint, never data: it queues a job that reads from Graph again (the calendar, the call record).
- Lifecycle notifications: reauthorizationRequired renews, subscriptionRemoved makes it again,
  missed sweeps the calendar again.
- In a trust: one call-records subscription for the tenant, and one per member of staff of
  every school that enrols (a teacher in two schools once).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.trust import Schools
from domain.enrolment import LifecycleEvent, Notification, Subscription, SubscriptionPurpose
from graph.client import GraphClient, GraphUnavailable
from graph.people import staff_members
from graph.subscriptions import SubscriptionsGraph
from jobs.worker import Worker
from store.jobs import Job, JobSpec, JobStore, Priority
from store.subscriptions import SubscriptionStore
from store.tables import utcnow

from .enrolment import EnrolmentService
from .unmonitored import UnmonitoredSessions

log = logging.getLogger(__name__)

RENEW = "graph-subscriptions"  # the scheduled look: renew what expires soon, make what is missing
REPAIR = "graph-subscription"  # one subscription, after a lifecycle notification
CALL_RECORDS = "communications/callRecords"
# Graph's longest lifetime for calendar events and call records is 4230 minutes: ask for two days
# and renew when less than a day is left, looking every few hours.
LIFETIME = timedelta(days=2)
RENEW_WITHIN = timedelta(hours=24)
LOOK_EVERY_SECONDS = 3 * 3600
MAX_NOTIFICATIONS = 1000
RECORD_ID = re.compile(r"[A-Za-z0-9-]{1,100}")  # call record ids are GUIDs


class _Wire(BaseModel):
    """One item of Graph's changeNotificationCollection, as sent (camelCase)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    subscription_id: str = Field(alias="subscriptionId", min_length=1, max_length=128)
    client_state: str | None = Field(None, alias="clientState", max_length=256)
    change_type: str | None = Field(None, alias="changeType", max_length=64)
    resource: str | None = Field(None, max_length=1024)
    resource_data: dict | None = Field(None, alias="resourceData")
    lifecycle_event: LifecycleEvent | None = Field(None, alias="lifecycleEvent")


class _Collection(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: list[_Wire] = Field(max_length=MAX_NOTIFICATIONS)


class NotificationError(ValueError):
    """The body is not a change notification collection."""


def parse_notifications(body: bytes) -> list[Notification]:
    try:
        collection = _Collection.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise NotificationError("not a Graph change notification collection") from exc
    out = []
    for item in collection.value:
        data = item.resource_data or {}
        resource_id = data.get("id") if isinstance(data.get("id"), str) else None
        out.append(Notification(subscription_id=item.subscription_id, client_state=item.client_state, change_type=item.change_type,
                                resource=item.resource, resource_id=resource_id, lifecycle_event=item.lifecycle_event))
    return out


@dataclass
class Received:
    accepted: int = 0
    refused: int = 0


def _same_secret(given: str | None, kept: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), kept.encode())


class GraphSubscriptions:
    def __init__(self, *, graph: GraphClient, store: SubscriptionStore, enrolment: EnrolmentService, unmonitored: UnmonitoredSessions,
                 schools: Schools, notification_url: str | None) -> None:
        self._graph = graph
        self._api = SubscriptionsGraph(graph)
        self._store = store
        self._enrolment = enrolment
        self._unmonitored = unmonitored
        self._schools = schools
        self._url = notification_url
        self._jobs: JobStore | None = None
        self._worker: Worker | None = None

    @property
    def _call_records(self) -> bool:
        return any(p.enrolment.call_records for p in self._schools)

    @property
    def _staff_groups(self) -> tuple[str, ...]:
        """The staff groups of the schools that enrol: their calendars are watched."""
        return tuple(dict.fromkeys(g for p in self._schools if p.enrolment.enabled for g in p.people.staff_group_ids))

    @property
    def wanted(self) -> bool:
        return bool(self._url) and (any(p.enrolment.enabled for p in self._schools) or self._call_records)

    def schedule(self, worker: Worker, jobs: JobStore) -> None:
        self._jobs, self._worker = jobs, worker
        worker.handle(RENEW, self._scheduled)
        worker.handle(REPAIR, self._repair)

    async def start_schedule(self) -> None:
        if not self._url:
            log.warning("no CHAPERONE_PUBLIC_URL (or CHAPERONE_GRAPH_NOTIFICATION_URL): no Graph change notifications; "
                        "calendars are swept on the schedule only, and call records are read by the catch-up every few hours")
            return
        if self.wanted and self._jobs is not None:
            await self._jobs.enqueue(JobSpec(kind=RENEW, priority=Priority.background, key="scheduled", delay_seconds=5))

    async def _scheduled(self, job: Job) -> None:
        await self.maintain()
        await self._jobs.enqueue(JobSpec(kind=RENEW, priority=Priority.background, key="scheduled", delay_seconds=LOOK_EVERY_SECONDS))

    # ---- keeping them --------------------------------------------------------------------

    async def maintain(self, now: datetime | None = None) -> list[str]:
        """Renew what expires within a day; make what is missing. Returns what was done."""
        done = await self.renew_due(now)
        done += await self.ensure()
        return done

    async def ensure(self) -> list[str]:
        if not self.wanted:
            return []
        wanted: list[tuple[SubscriptionPurpose, str, str, str | None]] = []
        if self._call_records:
            wanted.append((SubscriptionPurpose.call_records, CALL_RECORDS, "created", None))
        if any(p.enrolment.enabled for p in self._schools):
            try:
                staff = await staff_members(self._graph, self._staff_groups)
            except GraphUnavailable as exc:
                log.warning("calendar subscriptions: the staff group could not be read: %s", exc.reason)
                staff = []
            wanted += [(SubscriptionPurpose.calendar, f"users/{m.aad_object_id}/events", "created,updated,deleted", m.aad_object_id)
                       for m in staff]
        done = []
        for purpose, resource, change_type, owner in wanted:
            if await self._store.for_resource(resource) is None:
                done.append(await self._create(purpose, resource, change_type, owner))
        return done

    async def _create(self, purpose: SubscriptionPurpose, resource: str, change_type: str, owner: str | None) -> str:
        secret = secrets.token_urlsafe(32)
        try:
            made, expires = await self._api.create(resource=resource, change_type=change_type, notification_url=self._url,
                                                   client_state=secret, expires_at=utcnow() + LIFETIME)
        except GraphUnavailable as exc:
            log.warning("subscription to %s could not be made: %s", purpose.value, exc.reason)
            return f"could not subscribe to {resource}: {exc.reason}"
        await self._store.add(subscription_id=made, purpose=purpose, resource=resource, change_type=change_type, owner_id=owner,
                              client_state=secret, expires_at=expires)
        return f"subscribed to {resource} until {expires:%Y-%m-%d %H:%M} UTC"

    async def renew_due(self, now: datetime | None = None) -> list[str]:
        now = now or utcnow()
        return [await self.renew(s) for s in await self._store.expiring_before(now + RENEW_WITHIN)]

    async def renew(self, subscription: Subscription) -> str:
        try:
            expires = await self._api.renew(subscription.id, utcnow() + LIFETIME)
        except GraphUnavailable as exc:
            if exc.status == 404:  # Graph no longer has it: make it again
                return await self.recreate(subscription)
            await self._store.failed(subscription.id, exc.reason)
            return f"could not renew {subscription.resource}: {exc.reason}"
        await self._store.renewed(subscription.id, expires)
        return f"renewed {subscription.resource} until {expires:%Y-%m-%d %H:%M} UTC"

    async def recreate(self, subscription: Subscription) -> str:
        await self._store.remove(subscription.id)
        try:
            await self._api.delete(subscription.id)
        except GraphUnavailable as exc:
            log.info("old subscription %s not deleted: %s", subscription.id, exc.reason)
        return await self._create(subscription.purpose, subscription.resource, subscription.change_type, subscription.owner_id)

    async def _repair(self, job: Job) -> None:
        held = await self._store.get(job.payload["id"])
        if held is None:
            return
        subscription, _ = held
        event = LifecycleEvent(job.payload["event"])
        if event is LifecycleEvent.reauthorization_required:
            await self.renew(subscription)
        elif event is LifecycleEvent.subscription_removed:
            await self.recreate(subscription)
        elif subscription.purpose is SubscriptionPurpose.calendar and subscription.owner_id:
            await self._enrolment.sweep_calendar(subscription.owner_id)
        elif subscription.purpose is SubscriptionPurpose.call_records:
            await self._unmonitored.catch_up_soon()

    # ---- receiving -------------------------------------------------------------------------

    async def receive(self, notifications: list[Notification]) -> Received:
        """Check each notification's clientState and queue what it hints at. Nothing from a
        notification is trusted beyond which subscription it is for."""
        received = Received()
        for note in notifications:
            held = await self._store.get(note.subscription_id)
            if held is None or not _same_secret(note.client_state, held[1]):
                received.refused += 1
                continue
            subscription = held[0]
            received.accepted += 1
            if note.lifecycle_event is not None:
                await self._jobs.enqueue(JobSpec(kind=REPAIR, priority=Priority.later, key=f"{subscription.id}:{note.lifecycle_event.value}"[:150],
                                                 payload={"id": subscription.id, "event": note.lifecycle_event.value}))
                self._worker.wake()
            elif subscription.purpose is SubscriptionPurpose.calendar and subscription.owner_id:
                await self._enrolment.calendar_changed(subscription.owner_id)
            elif subscription.purpose is SubscriptionPurpose.call_records:
                record_id = note.resource_id or (note.resource or "").rstrip("/").rsplit("/", 1)[-1].strip("')").split("('")[-1]
                if record_id and RECORD_ID.fullmatch(record_id):
                    await self._unmonitored.call_ended(record_id)
        if received.refused:
            log.warning("Graph notifications refused: %d with an unknown subscription or the wrong clientState", received.refused)
        return received

    async def held(self) -> list[Subscription]:
        return await self._store.all()
