"""Sessions Chaperone missed: Graph's call record of each call, once it has ended.

A call with a member of staff and at least one pupil that Chaperone did not follow live
becomes an unmonitored session in the register (length, time, date and attendance from the
call record), judged by the same rules on the facts there are: who was present and when
(operating hours, two staff, one-to-one, school accounts), while what only a live lesson
shows (the meeting's options, its calendar event) is 'could not verify'. SLT get one alert.
A direct call between a member of staff and one pupil is a one-to-one session like any
other: it needs SLT's approval beforehand.

In a trust the session is placed like a live lesson (`LessonPlacement.decide`: the organizer's
staff group, then the timetable), kept under that school, judged by its policy, and its alert
goes to that school's SLT.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum

from config.trust import Schools
from domain.enrolment import CallKind, CallRecord
from domain.lesson import DirectoryEntry, PersonClass
from domain.lookups import Lookup
from graph.call_records import CallRecords
from graph.client import GraphUnavailable
from graph.people import PeopleDirectory
from jobs.worker import GiveUp, RetryLater, Worker
from rules.snapshot import Moment
from store.enrolment import EnrolmentStore, thread_of
from store.jobs import Job, JobSpec, JobStore, Priority
from store.lessons import LessonStore
from store.tables import utcnow

from .assessment import LessonAssessor
from .notices import LessonNotices
from .placement import LessonPlacement

log = logging.getLogger(__name__)

CALL_ENDED = "call-record"
CATCH_UP = "call-records-catch-up"
# A notification can be lost (Chaperone down longer than Graph retries): every few hours the
# last day and a half of call records is listed, and any not read yet is read.
CATCH_UP_EVERY_SECONDS = 4 * 3600
CATCH_UP_WINDOW = timedelta(hours=36)
# A call record can take a while to appear after the notification: look again, then give up.
RECORD_BACKOFF = (30, 120, 600, 1800)
NOT_LIVE = "not followed live: Chaperone was not in this session, and saw it only in Graph's call record afterwards"


class CallOutcome(StrEnum):
    unmonitored = "unmonitored"  # a session with staff and pupils Chaperone did not follow
    followed_live = "followed-live"  # a lesson Chaperone followed: nothing added twice
    no_pupils = "no-pupils"
    no_staff = "no-staff"
    seen_already = "seen-already"


class UnmonitoredSessions:
    def __init__(self, *, records: CallRecords, people: PeopleDirectory, store: EnrolmentStore, lessons: LessonStore,
                 assessor: LessonAssessor, notices: LessonNotices, schools: Schools, placement: LessonPlacement,
                 retry_base_seconds: float = 5.0) -> None:
        self._records = records
        self._people = people
        self._store = store
        self._lessons = lessons
        self._assessor = assessor
        self._notices = notices
        self._schools = schools
        self._placement = placement
        self._backoff = tuple(retry_base_seconds / 5 * n for n in RECORD_BACKOFF)
        self._jobs: JobStore | None = None
        self._worker: Worker | None = None

    def schedule(self, worker: Worker, jobs: JobStore) -> None:
        self._jobs, self._worker = jobs, worker
        worker.handle(CALL_ENDED, self._job)
        worker.handle(CATCH_UP, self._catch_up_job)

    async def start_schedule(self) -> None:
        if any(p.enrolment.call_records for p in self._schools) and self._jobs is not None:
            await self._jobs.enqueue(JobSpec(kind=CATCH_UP, priority=Priority.later, key="scheduled", delay_seconds=600))

    async def _catch_up_job(self, job: Job) -> None:
        try:
            queued = await self.catch_up()
            log.info("call records catch-up: %d not read yet, queued", queued)
        except GraphUnavailable as exc:
            log.warning("call records catch-up: %s", exc.reason)
        if job.payload.get("scheduled", True):
            await self._jobs.enqueue(JobSpec(kind=CATCH_UP, priority=Priority.later, key="scheduled", delay_seconds=CATCH_UP_EVERY_SECONDS))

    async def catch_up_soon(self) -> None:
        """Graph says notifications were missed: look now, besides the schedule."""
        await self._jobs.enqueue(JobSpec(kind=CATCH_UP, priority=Priority.later, key="now", payload={"scheduled": False}))
        self._worker.wake()

    async def catch_up(self, now: datetime | None = None) -> int:
        """Queue every call record of the last day and a half not read yet; returns how many."""
        now = now or utcnow()
        queued = 0
        for record_id in await self._records.ids_between(now - CATCH_UP_WINDOW, now):
            if not await self._store.call_record_seen(record_id):
                await self.call_ended(record_id)
                queued += 1
        return queued

    async def call_ended(self, record_id: str) -> None:
        """A notification that a call record exists: read it from Graph in a job."""
        await self._jobs.enqueue(JobSpec(kind=CALL_ENDED, priority=Priority.later, key=record_id[:120], payload={"id": record_id}))
        self._worker.wake()

    async def _job(self, job: Job) -> None:
        try:
            outcome = await self.process(job.payload["id"])
        except GraphUnavailable as exc:
            if job.attempts > len(self._backoff):
                raise GiveUp(f"call record could not be read: {exc.reason}") from exc
            raise RetryLater(f"call record could not be read: {exc.reason}", self._backoff[job.attempts - 1]) from exc
        log.info("call record %s: %s", job.payload["id"], outcome.value)

    async def process(self, record_id: str) -> CallOutcome:
        seen = await self._store.call_record_outcome(record_id)
        if seen is not None and seen[0] == CallOutcome.unmonitored.value and seen[1] is not None:
            # Made a session already: judged and told again in case a failure cut that short
            # last time (the outbox sends SLT one alert per session however often it is asked).
            await self._judge_and_tell(seen[1], None)
            return CallOutcome.seen_already
        if seen is not None:
            return CallOutcome.seen_already
        record = await self._records.get(record_id)
        live = await self._store.live_lesson_for(record)
        if live is not None:
            await self._store.note_call_record(record, CallOutcome.followed_live.value, live)
            return CallOutcome.followed_live
        placed = await self._placement.decide(record.organizer_id, await self._aliases(record.organizer_id), None, record.start)
        policy = self._schools.get(placed.school_id)
        classes, problems = await self._classify(record, policy.school.tenant_id)
        kinds = [c.classification for c in classes.values()]
        if PersonClass.staff not in kinds:
            await self._store.note_call_record(record, CallOutcome.no_staff.value)
            return CallOutcome.no_staff
        if PersonClass.pupil not in kinds and PersonClass.unknown not in kinds:
            await self._store.note_call_record(record, CallOutcome.no_pupils.value)
            return CallOutcome.no_pupils
        roster = Lookup.could_not_verify(f"{len(problems)} people not classified: {problems[0]}") if problems else \
            Lookup.ok("from Graph's call record")
        tenant = policy.school.tenant_id or record.organizer_tenant_id
        lesson_id = await self._store.add_unmonitored(record, self._title(record), classes, tenant, Lookup.could_not_verify(NOT_LIVE), roster,
                                                      placed)
        await self._judge_and_tell(lesson_id, record.end)
        return CallOutcome.unmonitored

    async def _aliases(self, organizer: str | None) -> set[str]:
        """The names a timetable may know the organizer by (Entra id, sign-in name): only a
        trust's placement asks, and only a teacher of two schools needs the timetable."""
        if not organizer:
            return set()
        aliases = {organizer.lower()}
        if self._schools.is_trust:
            try:
                upn = (await self._people.classify(organizer)).upn
            except GraphUnavailable:
                upn = None
            aliases |= {upn.lower()} if upn else set()
        return aliases

    async def _judge_and_tell(self, lesson_id: int, end) -> None:
        lesson = await self._lessons.get(lesson_id)
        recorded = await self._assessor.assess(lesson_id, Moment.end, end or lesson.actual_end)
        findings = await self._assessor.findings(lesson_id)
        await self._notices.unmonitored_session(lesson, findings)
        log.warning("lesson %s: an unmonitored session (call record), %d new finding(s)", lesson_id, len(recorded.new))

    async def _classify(self, record: CallRecord, school: str | None) -> tuple[dict[str, DirectoryEntry], list[str]]:
        """Each participant's class, keyed as the store keys them: Entra id, or call:<index>;
        `school` is the school's tenant (another tenant's account is external)."""
        classes: dict[str, DirectoryEntry] = {}
        problems: list[str] = []
        for index, person in enumerate(record.participants):
            key = person.aad_object_id or f"call:{index}"
            if person.aad_object_id is None or (school and person.tenant_id and person.tenant_id != school):
                # A guest, a phone caller, an anonymous joiner, or another organisation's account.
                classes[key] = DirectoryEntry(classification=PersonClass.external)
                continue
            try:
                classes[key] = await self._people.classify(person.aad_object_id)
            except GraphUnavailable as exc:
                classes[key] = DirectoryEntry(classification=PersonClass.unknown)
                problems.append(exc.reason)
        return classes, problems

    @staticmethod
    def _title(record: CallRecord) -> str:
        if record.kind is CallKind.peer_to_peer:
            return "Direct call (not followed live)"
        if thread_of(record.join_url) is None:
            return "Call (not followed live)"
        return "Meet Now or meeting Chaperone was not in (not followed live)"
