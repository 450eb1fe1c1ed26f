"""Teams' meeting events: appended to the event log in the HTTP turn, derived by the workers.

In the turn (after authentication, in bot/adapter.py): the school's tenant, the payload read
with our own models (a malformed one is refused with 400 and never stored), one append to the
log (store/event_log.py, group commit), and 200. Nothing else: the register, the
attendance intervals and the verdicts are derived from the log by the `derive-events` job,
a meeting's waiting events at once, in event-time order, so a lesson's burst of thirty joins
is one transaction and one roster check, not thirty.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict

from aiohttp import web
from botbuilder.schema import Activity

from domain.conversations import Conversation, SeenConversation
from domain.events import EventKind, MeetingEvent, MeetingStarted
from jobs.worker import Worker
from service.monitor import LessonMonitor
from store.conversations import ConversationStore
from store.event_log import (DERIVE_EVENTS, EventLog, EventLogReader, InboundEvent, LoggedEvent, Overloaded, derive_job,
                             mark_derived, through_last_start_or_end)
from store.jobs import Job, JobSpec, Priority, add_jobs

from . import events, tenancy
from .adapter import busy_response
from .envelope import MalformedActivity
from .conversations import seen_in

log = logging.getLogger(__name__)

# A meeting's derivation that failed this often is retried event by event (see `derive`).
POISON_AFTER_ATTEMPTS = 3
# Meetings whose chat a process remembers having stored: more than a trust's 09:00.
CHATS_KNOWN = 10_000


class MeetingEventIngest:
    def __init__(
        self,
        *,
        log_writer: EventLog,
        log_reader: EventLogReader,
        monitor: LessonMonitor,
        conversations: ConversationStore,
        worker: Worker,
        school_tenant: str | None,
    ) -> None:
        self._writer = log_writer
        self._reader = log_reader
        self._monitor = monitor
        self._conversations = conversations
        self._school_tenant = school_tenant
        # Meetings whose chat this process has remembered lately (ids only, the oldest forgotten).
        self._chats_known: OrderedDict[str, None] = OrderedDict()
        worker.handle(DERIVE_EVENTS, self.derive)

    # ---- the HTTP turn ------------------------------------------------------------

    async def receive(self, body: dict, raw: bytes, kind: EventKind) -> web.Response:
        """Append an authenticated meeting event to the log; the answer Teams gets."""
        if not tenancy.body_from_school(body, self._school_tenant):
            # A copy of the app installed in another tenant: acknowledged, nothing stored.
            log.warning("ignored %s event from another tenant", kind.value)
            return web.Response(status=200)
        event = events.parse_event(body, kind)  # MalformedActivity -> 400 in the adapter
        entry = InboundEvent(activity_key=events.activity_key(body), meeting_id=event.meeting.meeting_id, kind=kind,
                             event_at=event.at, activity=raw.decode("utf-8"))
        try:
            await self._writer.append(entry)
        except Overloaded as exc:
            log.warning("meeting event refused for now: %s", exc)
            return busy_response("Chaperone is busy; retry this activity shortly")
        except Exception as exc:  # noqa: BLE001 - the database is unreachable: not acknowledged, so Teams retries
            log.error("could not store a meeting event: %s: %s", type(exc).__name__, str(exc)[:200])
            return busy_response("the event could not be stored; retry this activity shortly")
        return web.Response(status=200)

    # ---- the derive-events job ------------------------------------------------------

    async def derive(self, job: Job) -> None:
        meeting_id = job.payload["meeting_id"]
        waiting = await self._reader.waiting(meeting_id)
        rest: list[LoggedEvent] = []
        if job.priority == Priority.lesson_events:
            # Derived because the meeting started (or ended): that far only, at once. The joins
            # logged after it (at a 09:00 peak, a class's thirty) follow as bulk work, so the
            # start's look-ups and alerts do not wait for the register (its checks wait for it).
            waiting, rest = through_last_start_or_end(waiting)
        parsed, chats = [], []
        for logged in waiting:
            # One meeting's events: its chat is read from a start, else from its first event.
            if (read := self._read(logged, chat_wanted=not chats)) is not None:
                parsed.append((logged, read[0]))
                chats += [(read[0].meeting.meeting_id, read[1])] if read[1] else []
        unreadable = [logged.id for logged in waiting if logged.id not in {l.id for l, _ in parsed}]
        follow = [(derive_job(meeting_id), None)] if rest else []
        try:
            await self._apply(parsed, unreadable, follow, chats)
        except Exception:  # noqa: BLE001 - decided below: retried, or the event at fault set aside
            if job.attempts < POISON_AFTER_ATTEMPTS:
                raise
            # Failed again and again: apply the events one at a time, so one that cannot be
            # applied is set aside (recorded, said once) and the lesson's others still count;
            # the meeting chat on its own, so a chat that cannot be stored holds nothing back.
            await self._apply([], unreadable, follow)
            await self._remember_alone(chats)
            for logged, event in parsed:
                try:
                    await self._apply([(logged, event)], [])
                except Exception as exc:  # noqa: BLE001 - set aside with the reason, never a loop
                    log.error("logged event %s of %s set aside after %d tries: %s", logged.id, logged.kind.value,
                              job.attempts, type(exc).__name__)
                    await self._reader.set_aside(logged.id, f"{type(exc).__name__}: could not be applied")

    async def _remember_alone(self, chats: list[tuple[str, SeenConversation]]) -> None:
        for meeting_id, chat in chats:
            try:
                await self._conversations.remember(chat)
            except Exception as exc:  # noqa: BLE001 - the lesson is followed whether or not its chat is known
                log.warning("meeting chat of meeting event(s) not remembered: %s", type(exc).__name__)
            else:
                self._chats_known[meeting_id] = None

    def _read(self, logged: LoggedEvent, *, chat_wanted: bool = True) -> tuple[MeetingEvent, SeenConversation | None] | None:
        """The logged event, and its meeting chat when that is to be remembered with it (a
        start's always; another event's when `chat_wanted` and the process has not stored it)."""
        try:
            body = json.loads(logged.activity)
            # The time it was logged with (its own timestamp, or when it arrived when it had none).
            event = events.parse_event(body, logged.kind, received_at=logged.event_at)
        except (ValueError, MalformedActivity) as exc:
            # Checked before it was logged; a payload that no longer reads is set aside, said once.
            log.error("logged event %s cannot be read any more and is set aside: %s", logged.id, type(exc).__name__)
            return None
        # The meeting chat is where the reminder and the organizer's note will go. A start names
        # it; so does a join that Teams delivered before the start (the lesson opens with the
        # join, and its cards must not fail for want of a chat), once per meeting per process.
        if isinstance(event, MeetingStarted) or (chat_wanted and event.meeting.meeting_id not in self._chats_known):
            try:
                return event, seen_in(Activity().deserialize(body), installing=False)
            except Exception as exc:  # noqa: BLE001 - the lesson is followed whether or not its chat is known
                log.warning("meeting chat of logged event %s not remembered: %s", logged.id, type(exc).__name__)
        return event, None

    async def _apply(self, parsed: list[tuple[LoggedEvent, MeetingEvent]], unreadable: list[int],
                     follow: list[tuple[JobSpec, None]] | None = None, chats: list[tuple[str, SeenConversation]] = ()) -> None:
        """Apply the meeting's events in one transaction, with the log marked, the jobs that
        follow queued, and the meeting chats (meeting id, chat) they named remembered."""
        ids = [logged.id for logged, _ in parsed] + unreadable

        async def derived(session) -> None:
            await mark_derived(session, ids)
            await add_jobs(session, follow or [])
            # Stored with the lesson: its reminder's delivery finds the meeting chat.
            remembered[:] = [await self._conversations.remember(chat, session)
                             for chat in {chat.conversation_id: chat for _, chat in chats}.values()]

        remembered: list[Conversation] = []
        applied = await self._monitor.apply_events([event for _, event in parsed], then=derived)
        for conversation in remembered:  # committed: the start's cards go to it without reading it back
            self._conversations.keep_for_sending(conversation)
        for meeting_id, _ in chats:
            self._chats_known[meeting_id] = None
        while len(self._chats_known) > CHATS_KNOWN:
            self._chats_known.popitem(last=False)
        # The starts derived: their look-ups, verdicts and alerts now, by this worker.
        self._monitor.run_started(applied)


