"""The lesson monitor: follows each live lesson from Teams' meeting events.

Teams' meeting events reach it from the event log (bot/ingest.py), a meeting's waiting events
at once, in event-time order: it records what happened (the policy: "Staff will record the
length, time, date, and attendance of any sessions held") and queues the follow-up in the
same transaction. The follow-up runs as jobs, on any instance, after restarts too:

- lesson-started: the meeting's details (Bot Framework), its settings and the organizer's
  calendar event (Graph);
- roster-changed: who is staff, pupil or external (Graph, cached);
- reconcile-attendance: Graph's attendance report, once it exists, merged into the register;
- at each of those, and when a grace period ends, the rules (bot/assessment.py).

Anything that could not be found out is stored as 'could not verify: <reason>', never guessed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from config.policy import Policy
from config.trust import Schools
from domain.events import MeetingEnded, MeetingEvent, MeetingStarted
from domain.findings import Status, StoredFinding
from domain.lesson import DirectoryEntry, Lesson, PersonClass
from domain.lookups import Lookup, LookupOutcome
from domain.messages import MessageKind
from domain.meeting import AttendanceReport, CalendarEvent, OrganizerDevice
from graph.attendance import AttendanceReports
from graph.calendar import CalendarReader
from graph.client import GraphUnavailable
from graph.meetings import MeetingReader
from graph.people import PeopleDirectory
from graph.recordings import Recordings
from graph.signins import SignInLogs
from jobs.worker import GiveUp, RetryLater, Worker
from outbound.connector import BotConnector, ConnectorError
from outbound.delivery import Delivery
from rules import managed_device, waiting_room
from rules.snapshot import Moment
from store.event_log import EventLogReader
from store.jobs import Job, JobSpec, JobStore, Lease, Priority
from store.lessons import Applied, DetailsRead, EventJobs, GraphView, LessonStore, SettingsRead
from store.outbox import Held
from sqlalchemy.ext.asyncio import AsyncSession

from store.tables import utcnow

from .assessment import GRACE_CHECK, LessonAssessor, latest_event
from .notices import LessonNotices
from .placement import LessonPlacement

log = logging.getLogger(__name__)

LESSON_STARTED = "lesson-started"
MEETING_DETAILS = "meeting-details"
ROSTER_CHANGED = "roster-changed"
LESSON_ENDED = "lesson-ended"
RECONCILE_ATTENDANCE = "reconcile-attendance"
CLOSE_IDLE = "close-idle"
CLOSE_OVERDUE = "close-overdue"
CHECK_RECORDINGS = "check-recordings"
REPORT_MATCH_WINDOW = timedelta(minutes=30)
# Back-off, in multiples of the retry base (5 s by default), for Teams' meeting details and for
# people the directory could not classify yet: each is tried a bounded number of times, then
# left as 'could not verify'.
DETAILS_BACKOFF = (1, 6, 24, 60, 180)
ROSTER_BACKOFF = (6, 12, 24, 60, 120, 180)
# Seconds a timed check waits, try by try, for the meeting's logged events to be derived.
LOG_WAITS = (0.5, 1, 2, 4, 8, 16)


class LessonMonitor:
    def __init__(
        self,
        *,
        store: LessonStore,
        worker: Worker,
        connector: BotConnector,
        meetings: MeetingReader,
        calendar: CalendarReader,
        people: PeopleDirectory,
        reports: AttendanceReports,
        recordings: Recordings,
        sign_ins: SignInLogs,
        jobs: JobStore,
        assessor: LessonAssessor,
        notices: LessonNotices,
        delivery: Delivery,
        schools: Schools,
        placement: LessonPlacement,
        report_delays: tuple[float, ...],
        event_log: EventLogReader,
        roster_settle_seconds: float = 0,
        retry_base_seconds: float = 5.0,
    ) -> None:
        self._details_retry = tuple(retry_base_seconds * n for n in DETAILS_BACKOFF)
        self._roster_retry = tuple(retry_base_seconds * n for n in ROSTER_BACKOFF)
        self._store = store
        self._event_log = event_log
        self._jobs = jobs
        self._assessor = assessor
        self._notices = notices
        self._delivery = delivery
        self._worker = worker
        self._connector = connector
        self._meetings = meetings
        self._calendar = calendar
        self._people = people
        self._reports = reports
        self._recordings = recordings
        self._sign_ins = sign_ins
        self._schools = schools
        self._placement = placement
        self._report_delays = report_delays
        self._roster_job = JobSpec(kind=ROSTER_CHANGED, priority=Priority.roster, delay_seconds=roster_settle_seconds)
        worker.handle(LESSON_STARTED, self.lesson_started)
        worker.handle(MEETING_DETAILS, self.meeting_details)
        worker.handle(ROSTER_CHANGED, self.roster_changed)
        worker.handle(CLOSE_IDLE, self.close_idle)
        worker.handle(CLOSE_OVERDUE, self.close_overdue)
        worker.handle(CHECK_RECORDINGS, self.check_recordings)
        worker.handle(GRACE_CHECK, self.grace_check)
        worker.handle(LESSON_ENDED, self.lesson_ended)
        worker.handle(RECONCILE_ATTENDANCE, self.reconcile_attendance)

    # ---- the event log, derived: record, queue ------------------------------------------

    def _event_jobs(self, start_lease: Lease | None = None) -> EventJobs:
        return EventJobs(start=(JobSpec(kind=LESSON_STARTED, priority=Priority.lesson),), end=tuple(self._end_jobs()),
                         roster=(self._roster_job,), start_lease=start_lease)

    async def apply_events(
        self, events: Sequence[MeetingEvent], then: Callable[[AsyncSession], Awaitable[None]] | None = None
    ) -> Applied:
        """One meeting's events from the log, in event-time order, applied in one transaction;
        the follow-up (start look-ups, one roster check per lesson, the end) queued with them,
        a start's leased to this worker: the caller runs them at once (`run_started`)."""
        tenants = self._schools.tenants
        tenant = next(iter(tenants)) if len(tenants) == 1 else (events[0].meeting.tenant_id if events else None)
        applied = await self._store.apply(events, self._event_jobs(start_lease=self._worker.lease), tenant, then)
        self._worker.wake()
        # One line an event only at DEBUG: a trust's 09:00 is 75,000 of them in two minutes.
        for event, (lesson, outcome) in zip(events, applied.lessons):
            log.debug("%s %s -> lesson %s (%s)", _describe(event), event.meeting.meeting_id, lesson.id, outcome)
        return applied

    def run_started(self, applied: Applied) -> None:
        """A derivation's lesson starts, followed up at once by the worker that derived them,
        beside the derivation (which does not wait for Graph), from the lessons as it stored
        them: finished, retried or given up like any claimed job."""
        lessons = {lesson.id: lesson for lesson, _ in applied.lessons}
        for job in applied.held:
            self._worker.start_held(job, functools.partial(self.lesson_started, lesson=lessons.get(job.lesson_id)))

    # ---- jobs -----------------------------------------------------------------------

    async def lesson_started(self, job: Job, lesson: Lesson | None = None) -> None:
        """The start's look-ups, reminder and verdicts (`lesson`: as the derivation that
        started it stored it, without its register; else read)."""
        lesson = lesson or await self._store.get(job.lesson_id, with_attendance=False)
        asked = None
        if lesson.service_url and not _answered(lesson.details_lookup):
            asked = await self._ask_details(lesson, lesson.service_url)
            if not _answered(asked.lookup):
                await self._queue(JobSpec(kind=MEETING_DETAILS, priority=Priority.lesson, delay_seconds=self._details_retry[0]), lesson.id)
            if (named := asked.applied_to(lesson)).organizer_aad_id:
                # Stored with Graph's answers about that organizer, in one transaction.
                lesson = named
            else:
                lesson = await self._store.set_details(lesson.id, asked.details, asked.lookup)
                asked = None
        # The organizer's look-ups, and with them (in a trust) the lesson's school, before the
        # reminder: the school's policy says what the reminder says and how the lesson is judged.
        judged = None  # the lesson as stored with its register, when in hand
        if lesson.organizer_aad_id:
            try:
                lesson = judged = await self._organizer_lookups(lesson, asked)
            except Exception:
                if asked is not None:
                    # Kept though Graph's side failed: the retried start does not need them again.
                    await self._store.set_details(lesson.id, asked.details, asked.lookup)
                raise
        else:
            unknown = Lookup.could_not_verify(f"the organizer is not known yet ({lesson.details_lookup or 'no meeting details'})")
            judged = await self._store.set_graph_view(lesson.id, GraphView(settings=SettingsRead(settings=None, lookup=unknown, observed_at=None),
                                                                           calendar_event=None, calendar_lookup=unknown))
            # Without the organizer a trust's lesson stays unplaced (its verdicts wait) until
            # the meeting details or the organizer's join name them, or the lesson ends.
            lesson = await self._placement.place(judged, final=False)
            judged = judged if lesson is judged else None  # placed now: read again, with its school
        reminder = await self._notices.lesson_started(lesson)
        await self._assess(lesson.id, Moment.start, lesson.actual_start, judged, held=reminder)
        await self._remediate_lobby(lesson)
        await self._book_overdue_close(lesson)

    async def meeting_details(self, job: Job) -> None:
        """Teams' meeting details again, with back-off, after they could not be read at the start."""
        lesson = await self._store.get(job.lesson_id, with_attendance=False)
        if not lesson.service_url or _answered(lesson.details_lookup):
            return
        looked_up = lesson.settings_read_at is not None  # Graph was asked already (the organizer's join named them)
        lesson = await self._fetch_details(lesson, lesson.service_url)
        if not _answered(lesson.details_lookup):
            if job.attempts >= len(self._details_retry):
                # No organizer, ever: in a trust the lesson is 'school unknown' from now, and judged.
                await self._placement.place(lesson, final=True)
                await self._assess(lesson.id, Moment.start, lesson.actual_start)
                raise GiveUp(f"meeting details still unavailable after {job.attempts} tries")
            raise RetryLater("meeting details unavailable", self._details_retry[job.attempts])
        if lesson.organizer_aad_id and not looked_up:
            await self._organizer_now_known(lesson)

    async def _organizer_now_known(self, lesson: Lesson) -> None:
        """The start's look-ups and checks, now that the organizer is known."""
        lesson = await self._organizer_lookups(lesson)
        await self._assess(lesson.id, Moment.start, lesson.actual_start, lesson)
        await self._remediate_lobby(lesson)

    async def _organizer_lookups(self, lesson: Lesson, asked: DetailsRead | None = None) -> Lesson:
        """Graph's view of the meeting: its settings, the calendar event, the organizer's sign-in
        name (and device, when checked) and, in a trust, the schools' staff groups they are in,
        asked at once (each waits on Graph, not on the others) and stored together with the
        lesson's school (and the meeting details `asked` just now, which named the organizer).
        The lesson as stored, with its register."""
        checks_device = managed_device.RULE.options_for(self._policy_of(lesson)).enabled
        settings, (event, calendar), upn, (device, device_lookup), staff = await asyncio.gather(
            self._settings(lesson, lesson.actual_start or lesson.scheduled_start, "start"), self._calendar_event(lesson),
            self._organizer_upn(lesson), self._device(lesson) if checks_device else _not_asked(),
            self._placement.staff_groups(lesson.organizer_aad_id) if self._placement.needs_staff_groups(lesson) else _none())
        # Placed now the organizer and their sign-in name (which the timetable knows them by) are.
        placed = await self._placement.decision(lesson.model_copy(update={"organizer_upn": upn or lesson.organizer_upn}), final=True, staff=staff)
        return await self._store.set_graph_view(lesson.id, GraphView(settings=settings, calendar_event=event, calendar_lookup=calendar,
                                                                     organizer_upn=upn, device=device, device_lookup=device_lookup,
                                                                     placement=placed, details=asked))

    async def _calendar_event(self, lesson: Lesson) -> tuple[CalendarEvent | None, Lookup]:
        try:
            event = await self._calendar.event_for(lesson.organizer_aad_id, lesson.join_url, lesson.actual_start or lesson.scheduled_start)
        except GraphUnavailable as exc:
            return None, Lookup.could_not_verify(exc.reason)
        return event, Lookup.ok() if event else Lookup.none("no calendar event")

    async def _organizer_upn(self, lesson: Lesson) -> str | None:
        try:
            # The timetable names teachers by email; the meeting names the organizer by id.
            return (await self._people.classify(lesson.organizer_aad_id)).upn
        except GraphUnavailable as exc:
            log.info("lesson %s: organizer's sign-in name unknown: %s", lesson.id, exc.reason)
            return None

    async def _device(self, lesson: Lesson) -> tuple[OrganizerDevice | None, Lookup]:
        """The organizer's device from the sign-in logs (only when the school checks it)."""
        try:
            device = await self._sign_ins.teams_device(lesson.organizer_aad_id, lesson.actual_start or lesson.scheduled_start or utcnow())
        except GraphUnavailable as exc:
            return None, Lookup.could_not_verify(exc.reason)
        return device, Lookup.ok() if device else Lookup.none("no Teams sign-in found")

    async def _settings(self, lesson: Lesson, observed_at: datetime | None, source: str) -> SettingsRead:
        """The meeting's options from Graph; a change is kept with its lesson-clock time."""
        observed_at = observed_at or utcnow()
        try:
            settings = await self._meetings.settings(lesson.organizer_aad_id, lesson.graph_meeting_id, lesson.join_url)
        except GraphUnavailable as exc:
            return SettingsRead(settings=None, lookup=Lookup.could_not_verify(exc.reason), observed_at=observed_at, source=source)
        return SettingsRead(settings=settings, lookup=Lookup.ok(), observed_at=observed_at, source=source)

    async def _read_settings(self, lesson: Lesson, observed_at: datetime | None, source: str) -> None:
        read = await self._settings(lesson, observed_at, source)
        await self._store.set_meeting_settings(lesson.id, read.settings, read.lookup, observed_at=read.observed_at, source=source)

    async def _remediate_lobby(self, placed: Lesson) -> None:
        """Turn the lobby on through Graph, when the policy (of the lesson's school, as just
        placed) asks Chaperone to."""
        options = waiting_room.RULE.options_for(self._policy_of(placed))
        if not options.remediate:
            return
        lesson_id = placed.id
        findings = {f.rule_id: f for f in await self._assessor.findings(lesson_id)}
        failed = findings.get(waiting_room.RULE.id)
        if failed is None or failed.status is not Status.failed:
            return
        lesson = await self._store.get(lesson_id)
        try:
            settings = await self._meetings.set_lobby_scope(lesson.organizer_aad_id, lesson.meeting_settings.graph_meeting_id, options.remediate_to)
        except GraphUnavailable as exc:
            log.warning("lesson %s: could not turn the lobby on: %s", lesson_id, exc.reason)
            return
        at = latest_event(lesson) or lesson.actual_start
        await self._store.set_meeting_settings(
            lesson_id, settings, Lookup.ok(f"lobby set to '{options.remediate_to.value}' by Chaperone"), observed_at=at, source="remediation"
        )
        await self._assessor.record_remediation(lesson_id, f"lobby bypass set to '{options.remediate_to.value}'")
        await self._assess(lesson_id, Moment.start, lesson.actual_start)

    async def _assess(self, lesson_id: int, moment: Moment, at: datetime | None = None, lesson: Lesson | None = None,
                      held: Sequence[Held] = ()) -> None:
        """Judge the lesson now, and send the cards its new breaches raise (after `held`, cards
        queued before: the start's reminder) at once, from the facts in hand."""
        # Read here (with its register) when the caller has not: the new breaches' cards name
        # who was present, from the same read.
        lesson = lesson or await self._store.get(lesson_id)

        async def raise_new(session: AsyncSession, new: list[StoredFinding]) -> list[Held]:
            held = await self._notices.breaches_found(session, lesson, new)
            # Not only when the lesson as read knew the organizer: their join may be naming
            # them (id and name together) at this moment.
            if (not lesson.organizer_name and any(h.message.kind is MessageKind.slt_alert for h in held)
                    and await self._store.organizer_name_now(session, lesson.id)):
                # Their join named them while this verdict was made (its derivation runs beside
                # it): the alert goes out as composed, then is updated with their name. A join
                # committed after this reads the alert and queues its update itself.
                await self._notices.organizer_named(session, lesson.id)
            return held

        recorded = await self._assessor.assess(lesson_id, moment, at, lesson, raise_new=raise_new)
        if held or recorded.raised:
            await self._delivery.deliver_held([*held, *recorded.raised], lesson)
        if moment is Moment.report:
            # Only what is known after the lesson (Graph's attendance report, its recordings)
            # clears an alert: one whose findings all pass now.
            why = "checked again after the lesson with Graph's attendance report and recordings: it now passes"
            await self._notices.breaches_cleared(await self._store.get(lesson_id, with_attendance=False), recorded.passing, why)

    async def grace_check(self, job: Job) -> None:
        at = datetime.fromisoformat(job.payload["at"])
        await self._wait_for_the_log(job, await self._store.get(job.lesson_id, with_attendance=False), at)
        await self._assess(job.lesson_id, Moment.grace, at)

    async def _wait_for_the_log(self, job: Job, lesson: Lesson, until: datetime | None) -> None:
        """A timed check (a grace period's end, an idle close) judges the register as the log
        has it up to that time (Teams' clock; None: everything logged): at a 09:00 peak the
        joins may be logged but not yet derived, and a TA who joined in time must not read as
        absent. The derivation is hurried; the check waits for it about half a minute at most
        (a derivation that keeps failing must not hold the verdict back for good)."""
        if not await self._event_log.behind(lesson.meeting_id, until):
            return
        if job.attempts > len(LOG_WAITS):
            log.warning("lesson %s: %s judged before the meeting's latest events were derived", lesson.id, job.kind)
            return
        raise RetryLater("the meeting's events up to this time are still being derived", LOG_WAITS[job.attempts - 1])

    async def lesson_ended(self, job: Job) -> None:
        lesson = await self._store.get(job.lesson_id, with_attendance=False)
        # Judged on every event logged up to the end: the joins and leaves of the lesson's last
        # moments may wait in the log behind the end itself (lesson jobs run before derivations).
        await self._wait_for_the_log(job, lesson, lesson.actual_end)
        # A trust's lesson still unplaced at its end is 'school unknown': judged by the default policy.
        lesson = await self._placement.place(lesson, final=True)
        if lesson.organizer_aad_id and lesson.settings_read_at is not None:
            # Once after the end: an option changed in the lesson's last minutes is seen too.
            await self._read_settings(lesson, lesson.actual_end, "end")
        await self._assess(lesson.id, Moment.end, lesson.actual_end)
        await self._notices.lesson_ended(await self._store.get(lesson.id, with_attendance=False))
        if await self._assessor.recording_required(lesson.id):
            await self._queue(JobSpec(kind=CHECK_RECORDINGS, priority=Priority.later, delay_seconds=self._report_delays[0]), lesson.id)

    async def check_recordings(self, job: Job) -> None:
        """Graph's recordings of a lesson that had to be recorded: Teams lists one only once it
        has processed it, so an empty list is looked at again, like the attendance report."""
        lesson = await self._store.get(job.lesson_id, with_attendance=False)
        graph_id = lesson.graph_meeting_id or (lesson.meeting_settings.graph_meeting_id if lesson.meeting_settings else None)
        if not lesson.organizer_aad_id or not graph_id:
            await self._store.set_recordings(lesson.id, None, Lookup.could_not_verify("the organizer or Graph meeting id is not known"))
        else:
            try:
                found = await self._recordings.recordings(lesson.organizer_aad_id, graph_id)
            except GraphUnavailable as exc:
                found, why = None, Lookup.could_not_verify(exc.reason)
            else:
                why = None if found else Lookup.pending("no recording listed yet (Teams may still be processing it)")
            if why is not None and job.attempts < len(self._report_delays):
                await self._store.set_recordings(lesson.id, None, why)
                raise RetryLater(why.reason or "recordings", self._report_delays[job.attempts])
            if why is not None and why.outcome is LookupOutcome.could_not_verify:
                await self._store.set_recordings(lesson.id, None, why)
            else:
                await self._store.set_recordings(lesson.id, found or [], Lookup.ok(f"{len(found or [])} recording(s) listed"))
        await self._assess(lesson.id, Moment.report, lesson.actual_end)

    async def _fetch_details(self, lesson: Lesson, service_url: str) -> Lesson:
        asked = await self._ask_details(lesson, service_url)
        return await self._store.set_details(lesson.id, asked.details, asked.lookup)

    async def _ask_details(self, lesson: Lesson, service_url: str) -> DetailsRead:
        try:
            return DetailsRead(details=await self._connector.meeting_details(service_url, lesson.meeting_id), lookup=Lookup.ok())
        except ConnectorError as exc:
            log.warning("lesson %s: meeting details unavailable: %s", lesson.id, exc)
            return DetailsRead(details=None, lookup=Lookup.could_not_verify(str(exc)))

    async def roster_changed(self, job: Job) -> None:
        lesson = await self._store.get(job.lesson_id)
        now = latest_event(lesson)
        # Judged as the log has the lesson up to its latest moment: a join stamped earlier but
        # logged later (Teams does not promise order; another instance's derivation may be
        # applying it now) would otherwise read as a pupil alone or staff missing. Its
        # derivation is hurried and the check asked for again after the settle window, as that
        # derivation would ask, folded into any waiting one (not retried: a stream of such joins
        # would pile up retries and push back Graph's back-off).
        if await self._event_log.behind(lesson.meeting_id, now):
            await self._queue(self._roster_job, lesson.id)
            return
        lesson, problem = await self._classify(lesson)
        reread = False
        if lesson.organizer_aad_id and lesson.settings_read_at is None and lesson.details_lookup is not None:
            await self._organizer_now_known(lesson)
            reread = True
        elif lesson.organizer_aad_id and lesson.actual_end is None and self._settings_due(lesson, now):
            await self._read_settings(lesson, now, "refresh")
            reread = True
        # A retried roster job may run after the lesson ended: then its verdict is the end's.
        # The lesson just read is judged as it is, unless its settings were read again since.
        moment = Moment.end if lesson.actual_end else Moment.roster
        await self._assess(job.lesson_id, moment, lesson.actual_end, None if reread else lesson)
        if lesson.actual_end is None and lesson.attendance and all(a.left_at is not None for a in lesson.attendance):
            await self._book_idle_close(lesson, now)
        if problem:
            # Attendance is already recorded; only the classification waits for Graph.
            if job.attempts >= len(self._roster_retry):
                raise GiveUp(f"{problem} (after {job.attempts} tries)")
            raise RetryLater(problem, self._roster_retry[job.attempts])

    def _settings_due(self, lesson: Lesson, now: datetime | None) -> bool:
        every = timedelta(minutes=self._policy_of(lesson).lessons.settings_refresh_minutes)
        return now is not None and (lesson.settings_read_at is None or now - lesson.settings_read_at >= every)

    # ---- lessons Teams never said had ended ---------------------------------------------

    async def _book_idle_close(self, lesson: Lesson, last: datetime | None) -> None:
        if last is None:
            return
        delay = self._policy_of(lesson).lessons.close_idle_minutes * 60
        spec = JobSpec(kind=CLOSE_IDLE, priority=Priority.later, delay_seconds=delay, key=last.isoformat(), payload={"last": last.isoformat()})
        await self._queue(spec, lesson.id)

    async def _book_overdue_close(self, lesson: Lesson) -> None:
        # The later of the two: a reused meeting link keeps an old occurrence's scheduled start.
        starts = [t for t in (lesson.scheduled_start, lesson.actual_start) if t is not None]
        if not starts or lesson.actual_end is not None:
            return
        start = max(starts)
        deadline = start + timedelta(hours=self._policy_of(lesson).lessons.close_after_hours)
        # The deadline is on the lesson's clock (Teams' event times); the job waits the same span.
        now = lesson.actual_start or start
        spec = JobSpec(kind=CLOSE_OVERDUE, priority=Priority.later, delay_seconds=max(0.0, (deadline - now).total_seconds()), payload={"at": deadline.isoformat()})
        await self._queue(spec, lesson.id)

    async def close_idle(self, job: Job) -> None:
        """Everyone left and nobody came back: the lesson ended when the last person left."""
        await self._wait_for_the_log(job, await self._store.get(job.lesson_id, with_attendance=False), None)  # anyone back?
        lesson = await self._store.get(job.lesson_id)
        last = datetime.fromisoformat(job.payload["last"])
        if lesson.actual_end is not None or any(a.left_at is None for a in lesson.attendance) or latest_event(lesson) != last:
            return
        await self._close(lesson, last, "everyone had left")

    async def close_overdue(self, job: Job) -> None:
        lesson = await self._store.get(job.lesson_id, with_attendance=False)
        if lesson.actual_end is None:
            hours = self._policy_of(lesson).lessons.close_after_hours
            await self._close(lesson, datetime.fromisoformat(job.payload["at"]), f"still open {hours:g} hours after it started")

    def _end_jobs(self) -> list[JobSpec]:
        """What follows a lesson's end, however it ended: the end verdict and record, then the report."""
        # The end verdict waits as long as a roster check does: Teams may deliver a join or leave
        # of the lesson's last moments just after its end, and a register without it can read as
        # a breach (one adult left alone with a pupil) that never happened.
        return [JobSpec(kind=LESSON_ENDED, priority=Priority.lesson, delay_seconds=self._roster_job.delay_seconds),
                JobSpec(kind=RECONCILE_ATTENDANCE, priority=Priority.later, delay_seconds=self._report_delays[0])]

    async def _close(self, lesson: Lesson, at: datetime, why: str) -> None:
        closed = await self._store.close_inferred(lesson.id, at, self._end_jobs())
        if closed is not None:
            log.info("lesson %s closed without an end event from Teams: %s", lesson.id, why)
            self._worker.wake()

    def _policy_of(self, lesson: Lesson) -> Policy:
        return self._schools.get(lesson.school_id)

    async def _queue(self, spec: JobSpec, lesson_id: int) -> None:
        await self._jobs.enqueue(spec, lesson_id)
        self._worker.wake()

    async def _classify(self, lesson: Lesson) -> tuple[Lesson, str | None]:
        """Ask the directory about everyone not yet classified; returns the lesson as it is now
        recorded (not read again: the register is the costliest read of a 09:00 burst) and what
        could not be done."""
        people = sorted({a.aad_object_id for a in lesson.attendance if a.aad_object_id and a.classification is PersonClass.unknown})
        answers = await self._people.classify_many(people) if people else {}
        known = {p: a for p, a in answers.items() if isinstance(a, DirectoryEntry)}
        failures = [a for a in answers.values() if isinstance(a, GraphUnavailable)]
        problem = f"{len(failures)} people not classified: {failures[0].reason}" if failures else None
        roster = Lookup.could_not_verify(problem) if problem else Lookup.ok()
        await self._store.set_classifications(lesson.id, known, roster)
        return with_classifications(lesson, known, roster), problem

    async def reconcile_attendance(self, job: Job) -> None:
        lesson = await self._store.get(job.lesson_id, with_attendance=False)
        if lesson.is_channel_meeting:
            await self._store.set_report_lookup(lesson.id, Lookup.none("Teams keeps no attendance report for channel meetings"))
            return
        try:
            report = await self._matching_report(lesson)
        except GraphUnavailable as exc:
            await self._not_yet(job, lesson, Lookup.could_not_verify(exc.reason))
            return
        if report is None:
            await self._not_yet(job, lesson, Lookup.pending("no attendance report yet"))
            return
        added, corrected = await self._store.merge_report(lesson.id, report)
        log.info("lesson %s: attendance report reconciled, %d added, %d corrected", lesson.id, added, corrected)
        await self._classify(await self._store.get(lesson.id))
        lesson = await self._store.get(lesson.id, with_attendance=False)
        await self._assess(lesson.id, Moment.report, lesson.actual_end)

    async def _matching_report(self, lesson: Lesson) -> AttendanceReport | None:
        graph_id = lesson.graph_meeting_id or (lesson.meeting_settings.graph_meeting_id if lesson.meeting_settings else None)
        if not lesson.organizer_aad_id or not graph_id:
            raise GraphUnavailable("the organizer or Graph meeting id is not known")
        reports = await self._reports.reports(lesson.organizer_aad_id, graph_id)
        if lesson.actual_start is None:
            return reports[-1] if reports else None
        # A recurring meeting keeps one report per occurrence: take this lesson's.
        for report in reports:
            if report.meeting_start and abs(report.meeting_start - lesson.actual_start) <= REPORT_MATCH_WINDOW:
                return report
        return None

    async def _not_yet(self, job: Job, lesson: Lesson, why: Lookup) -> None:
        """Look for the report again later; after the last look, say it could not be verified."""
        reason = str(why) if why.outcome is LookupOutcome.could_not_verify else why.reason
        if job.attempts < len(self._report_delays):
            await self._store.set_report_lookup(lesson.id, Lookup.pending(reason))
            raise RetryLater(reason, self._report_delays[job.attempts])
        final = why if why.outcome is LookupOutcome.could_not_verify else Lookup.could_not_verify(f"{why.reason} after {job.attempts} tries")
        await self._store.set_report_lookup(lesson.id, final)
        raise GiveUp(str(final))


def with_classifications(lesson: Lesson, known: dict[str, DirectoryEntry], roster: Lookup) -> Lesson:
    """The lesson as `LessonStore.set_classifications` has just recorded it (external stays external)."""
    def classified(a):
        entry = known.get(a.person_id)
        if entry is None:
            return a
        kind = a.classification if a.classification is PersonClass.external else entry.classification
        return a.model_copy(update={"classification": kind, "upn": entry.upn or a.upn})

    return lesson.model_copy(update={"attendance": [classified(a) for a in lesson.attendance], "roster_lookup": roster})


async def _not_asked() -> tuple[None, None]:
    return None, None


async def _none() -> None:
    return None


def _answered(lookup: Lookup | None) -> bool:
    return lookup is not None and lookup.outcome is LookupOutcome.ok


def _describe(event: MeetingEvent) -> str:
    if isinstance(event, MeetingStarted):
        return "meetingStart"
    if isinstance(event, MeetingEnded):
        return "meetingEnd"
    return f"{'join' if event.joined else 'leave'} of {len(event.participants)} participant(s) in"
