"""The lesson monitor: follows each live lesson from Teams' meeting events.

In the HTTP turn it only records what happened (the policy: "Staff will record the length,
time, date, and attendance of any sessions held") and queues the follow-up in the same
transaction. The follow-up runs as jobs, on any instance, after restarts too:

- lesson-started: the meeting's details (Bot Framework), its settings and the organizer's
  calendar event (Graph);
- roster-changed: who is staff, pupil or external (Graph, cached);
- reconcile-attendance: Graph's attendance report, once it exists, merged into the register;
- at each of those, and when a grace period ends, the rules (bot/assessment.py).

Anything that could not be found out is stored as 'could not verify: <reason>', never guessed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from config.policy import Policy
from domain.events import EventOutcome, MeetingEnded, MeetingStarted, ParticipantsChanged
from domain.findings import Status
from domain.lesson import DirectoryEntry, Lesson, PersonClass
from domain.lookups import Lookup, LookupOutcome
from domain.meeting import AttendanceReport
from graph.attendance import AttendanceReports
from graph.calendar import CalendarReader
from graph.client import GraphUnavailable
from graph.meetings import MeetingReader
from graph.people import PeopleDirectory
from jobs.worker import GiveUp, RetryLater, Worker
from outbound.connector import BotConnector, ConnectorError
from rules import waiting_room
from rules.snapshot import Moment
from store.jobs import Job, JobSpec
from store.lessons import LessonStore

from .assessment import GRACE_CHECK, LessonAssessor
from .notices import LessonNotices

log = logging.getLogger(__name__)

LESSON_STARTED = "lesson-started"
ROSTER_CHANGED = "roster-changed"
LESSON_ENDED = "lesson-ended"
RECONCILE_ATTENDANCE = "reconcile-attendance"
REPORT_MATCH_WINDOW = timedelta(minutes=30)


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
        assessor: LessonAssessor,
        notices: LessonNotices,
        policy: Policy,
        report_delays: tuple[float, ...],
        roster_settle_seconds: float = 0,
    ) -> None:
        self._store = store
        self._assessor = assessor
        self._notices = notices
        self._worker = worker
        self._connector = connector
        self._meetings = meetings
        self._calendar = calendar
        self._people = people
        self._reports = reports
        self._policy = policy
        self._report_delays = report_delays
        self._roster_job = JobSpec(kind=ROSTER_CHANGED, delay_seconds=roster_settle_seconds)
        worker.handle(LESSON_STARTED, self.lesson_started)
        worker.handle(ROSTER_CHANGED, self.roster_changed)
        worker.handle(GRACE_CHECK, self.grace_check)
        worker.handle(LESSON_ENDED, self.lesson_ended)
        worker.handle(RECONCILE_ATTENDANCE, self.reconcile_attendance)

    # ---- in the turn: record, queue, answer -----------------------------------------

    async def meeting_started(self, event: MeetingStarted, activity_key: str | None) -> tuple[Lesson, EventOutcome]:
        lesson, outcome = await self._store.record_start(event, activity_key, [JobSpec(kind=LESSON_STARTED)])
        self._worker.wake()
        log.info("meetingStart %s -> lesson %s (%s)", event.meeting.meeting_id, lesson.id, outcome)
        return lesson, outcome

    async def meeting_ended(self, event: MeetingEnded, activity_key: str | None) -> tuple[Lesson, EventOutcome]:
        reconcile = JobSpec(kind=RECONCILE_ATTENDANCE, delay_seconds=self._report_delays[0])
        lesson, outcome = await self._store.record_end(event, activity_key, [JobSpec(kind=LESSON_ENDED), reconcile])
        self._worker.wake()
        log.info("meetingEnd %s -> lesson %s (%s)", event.meeting.meeting_id, lesson.id, outcome)
        return lesson, outcome

    async def participants_changed(self, event: ParticipantsChanged, activity_key: str | None) -> tuple[Lesson, EventOutcome]:
        tenant = self._policy.school.tenant_id or event.meeting.tenant_id
        lesson, outcome = await self._store.record_participants(event, activity_key, tenant, [self._roster_job])
        self._worker.wake()
        log.info(
            "%s %d participant(s) in %s -> lesson %s (%s)",
            "join" if event.joined else "leave",
            len(event.participants),
            event.meeting.meeting_id,
            lesson.id,
            outcome,
        )
        return lesson, outcome

    # ---- jobs -----------------------------------------------------------------------

    async def lesson_started(self, job: Job) -> None:
        lesson = await self._store.get(job.lesson_id, with_attendance=False)
        if lesson.service_url:
            lesson = await self._fetch_details(lesson, lesson.service_url)
        if not lesson.organizer_aad_id:
            unknown = Lookup.could_not_verify("the organizer is not known (Teams' meeting details were not available)")
            await self._store.set_meeting_settings(lesson.id, None, unknown)
            await self._store.set_calendar(lesson.id, None, unknown)
            return
        try:
            settings = await self._meetings.settings(lesson.organizer_aad_id, lesson.graph_meeting_id, lesson.join_url)
            await self._store.set_meeting_settings(lesson.id, settings, Lookup.ok())
        except GraphUnavailable as exc:
            await self._store.set_meeting_settings(lesson.id, None, Lookup.could_not_verify(exc.reason))
        try:
            event = await self._calendar.event_for(lesson.organizer_aad_id, lesson.join_url, lesson.actual_start or lesson.scheduled_start)
            await self._store.set_calendar(lesson.id, event, Lookup.ok() if event else Lookup.none("no calendar event"))
        except GraphUnavailable as exc:
            await self._store.set_calendar(lesson.id, None, Lookup.could_not_verify(exc.reason))
        try:
            # The timetable names teachers by email; the meeting names the organizer by id.
            entry = await self._people.classify(lesson.organizer_aad_id)
            await self._store.set_organizer_upn(lesson.id, entry.upn)
        except GraphUnavailable as exc:
            log.info("lesson %s: organizer's sign-in name unknown: %s", lesson.id, exc.reason)
        await self._notices.lesson_started(lesson)
        await self._assess(lesson.id, Moment.start, lesson.actual_start)
        await self._remediate_lobby(lesson.id)

    async def _remediate_lobby(self, lesson_id: int) -> None:
        """Turn the lobby on through Graph, when the policy asks Chaperone to."""
        options = waiting_room.RULE.options_for(self._policy)
        findings = {f.rule_id: f for f in await self._assessor.findings(lesson_id)}
        failed = findings.get(waiting_room.RULE.id)
        if not options.remediate or failed is None or failed.status is not Status.failed:
            return
        lesson = await self._store.get(lesson_id, with_attendance=False)
        try:
            settings = await self._meetings.set_lobby_scope(lesson.organizer_aad_id, lesson.meeting_settings.graph_meeting_id, options.remediate_to)
        except GraphUnavailable as exc:
            log.warning("lesson %s: could not turn the lobby on: %s", lesson_id, exc.reason)
            return
        await self._store.set_meeting_settings(lesson_id, settings, Lookup.ok(f"lobby set to '{options.remediate_to.value}' by Chaperone"))
        await self._assessor.record_remediation(lesson_id, f"lobby bypass set to '{options.remediate_to.value}'")
        await self._assess(lesson_id, Moment.start, lesson.actual_start)

    async def _assess(self, lesson_id: int, moment: Moment, at: datetime | None = None) -> None:
        new = await self._assessor.assess(lesson_id, moment, at)
        if new:
            await self._notices.breaches_found(await self._store.get(lesson_id, with_attendance=False), new)

    async def grace_check(self, job: Job) -> None:
        await self._assess(job.lesson_id, Moment.grace, datetime.fromisoformat(job.payload["at"]))

    async def lesson_ended(self, job: Job) -> None:
        lesson = await self._store.get(job.lesson_id, with_attendance=False)
        await self._assess(lesson.id, Moment.end, lesson.actual_end)
        await self._notices.lesson_ended(lesson)

    async def _fetch_details(self, lesson: Lesson, service_url: str) -> Lesson:
        try:
            details = await self._connector.meeting_details(service_url, lesson.meeting_id)
        except ConnectorError as exc:
            log.warning("lesson %s: meeting details unavailable: %s", lesson.id, exc)
            return await self._store.set_details(lesson.id, None, Lookup.could_not_verify(str(exc)))
        return await self._store.set_details(lesson.id, details, Lookup.ok())

    async def roster_changed(self, job: Job) -> None:
        problem = await self._classify(job.lesson_id)
        await self._assess(job.lesson_id, Moment.roster)
        if problem:
            # Attendance is already recorded; only the classification waits for Graph.
            raise RetryLater(problem, 30)

    async def _classify(self, lesson_id: int) -> str | None:
        """Ask the directory about everyone not yet classified; returns what could not be done."""
        lesson = await self._store.get(lesson_id)
        people = sorted({a.aad_object_id for a in lesson.attendance if a.aad_object_id and a.classification is PersonClass.unknown})
        answers = await asyncio.gather(*(self._people.classify(p) for p in people), return_exceptions=True)
        known = {p: a for p, a in zip(people, answers) if isinstance(a, DirectoryEntry)}
        await self._store.set_classifications(lesson.id, known)
        unexpected = [a for a in answers if isinstance(a, BaseException) and not isinstance(a, GraphUnavailable)]
        if unexpected:
            raise unexpected[0]
        failures = [a for a in answers if isinstance(a, GraphUnavailable)]
        problem = f"{len(failures)} people not classified: {failures[0].reason}" if failures else None
        await self._store.set_roster_lookup(lesson.id, Lookup.could_not_verify(problem) if problem else Lookup.ok())
        return problem

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
        added = await self._store.merge_report(lesson.id, report)
        log.info("lesson %s: attendance report reconciled, %d added", lesson.id, added)
        await self._classify(lesson.id)
        await self._assess(lesson.id, Moment.report, lesson.actual_end)

    async def _matching_report(self, lesson: Lesson) -> AttendanceReport | None:
        if not lesson.organizer_aad_id or not lesson.graph_meeting_id:
            raise GraphUnavailable("the organizer or Graph meeting id is not known")
        reports = await self._reports.reports(lesson.organizer_aad_id, lesson.graph_meeting_id)
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
