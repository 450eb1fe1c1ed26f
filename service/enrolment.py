"""Enrolment: Chaperone joins each lesson by itself.

Teams sends meeting events only to a bot added to the meeting. So, on a schedule and whenever
a member of staff's calendar changes, Chaperone reads the staff group's calendars for the
coming hours, decides which online meetings are lessons (the policy's [enrolment] lessons),
finds each one's meeting chat and installs itself there through Graph. Every meeting it
could not enrol in is recorded with why, for coverage.

In a trust each school's staff group is swept (a teacher in two schools' groups once), and
each meeting is kept under its school: the organizer's one school, or, for a teacher of two,
the school `LessonPlacement.decide` finds (the timetable), judged by that school's [enrolment].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from config.policy import EnrolmentPolicy, Policy
from config.trust import Schools
from domain.enrolment import Enrolment, EnrolmentStatus, InstallOutcome, LessonSelection, ScheduledMeeting
from domain.lesson import PersonClass
from graph.client import GraphClient, GraphUnavailable
from graph.enrolment import EnrolmentGraph
from graph.people import PeopleDirectory, staff_members
from graph.schools import staff_schools
from jobs.worker import Worker
from store.enrolment import EnrolmentStore
from store.jobs import Job, JobSpec, JobStore, Priority
from store.tables import utcnow

from .placement import LessonPlacement

log = logging.getLogger(__name__)

SWEEP = "enrol-sweep"
SWEEP_CALENDAR = "enrol-calendar"
FIRST_SWEEP_SECONDS = 300  # after start-up: an instance that restarts does not sweep at once


@dataclass
class SweepReport:
    enrolments: list[Enrolment] = field(default_factory=list)
    personal: dict[str, str] = field(default_factory=dict)  # person -> installed | already | why not
    problems: list[str] = field(default_factory=list)

    def count(self, status: EnrolmentStatus) -> int:
        return sum(1 for e in self.enrolments if e.status is status)


def _is_channel(thread_id: str) -> bool:
    # A channel meeting's chat is its channel's thread (19:...@thread.tacv2); a meeting chat is @thread.v2.
    return thread_id.endswith("@thread.tacv2") or thread_id.endswith("@thread.skype")


class EnrolmentService:
    def __init__(self, *, graph: GraphClient, people: PeopleDirectory, store: EnrolmentStore, schools: Schools,
                 placement: LessonPlacement, app_id: str) -> None:
        self._graph = graph
        self._teams = EnrolmentGraph(graph, app_id)
        self._people = people
        self._store = store
        self._schools = schools
        self._placement = placement
        self._staff_groups = {g: p.school.id for p in schools for g in p.people.staff_group_ids}
        self._jobs: JobStore | None = None
        self._worker: Worker | None = None
        self._personal_done: set[str] = set()  # only a cache: a repeat install answers 409, which is fine

    @property
    def options(self) -> EnrolmentPolicy:
        """The single school's [enrolment]; in a trust, the default policy's (see `enabled`)."""
        return self._schools.default.enrolment

    @property
    def enabled(self) -> bool:
        return any(p.enrolment.enabled for p in self._schools)

    def _enrolling(self) -> list[Policy]:
        return [p for p in self._schools if p.enrolment.enabled]

    # ---- the schedule ----------------------------------------------------------------

    def schedule(self, worker: Worker, jobs: JobStore) -> None:
        self._jobs, self._worker = jobs, worker
        worker.handle(SWEEP, self._scheduled_sweep)
        worker.handle(SWEEP_CALENDAR, self._calendar_changed)

    async def start_schedule(self) -> None:
        if self.enabled and self._jobs is not None:
            await self._jobs.enqueue(JobSpec(kind=SWEEP, priority=Priority.later, key="scheduled", delay_seconds=FIRST_SWEEP_SECONDS))

    async def _scheduled_sweep(self, job: Job) -> None:
        if self.enabled:
            report = await self.sweep()
            log.info("enrolment sweep: %d enrolled, %d already, %d skipped, %d could not",
                     *(report.count(s) for s in EnrolmentStatus))
        # One sweep covers every school: at the shortest interval any school asks for.
        every = min((p.enrolment.sweep_every_minutes for p in self._enrolling()), default=self.options.sweep_every_minutes)
        await self._jobs.enqueue(JobSpec(kind=SWEEP, priority=Priority.later, key="scheduled", delay_seconds=every * 60))

    async def calendar_changed(self, user_id: str) -> None:
        """A change notification for this calendar: a hint to sweep it again (the notification's
        own data is never used), queued so an acknowledged notification is never lost."""
        await self._jobs.enqueue(JobSpec(kind=SWEEP_CALENDAR, priority=Priority.later, key=user_id, payload={"user": user_id}))
        self._worker.wake()

    async def _calendar_changed(self, job: Job) -> None:
        if self.enabled:
            await self.sweep_calendar(job.payload["user"])

    # ---- sweeping --------------------------------------------------------------------

    async def sweep(self, now: datetime | None = None) -> SweepReport:
        """One sweep of every member of staff's calendar (each school's staff group, a teacher
        in two schools once), and personal-scope installs."""
        report = SweepReport()
        member_of: dict[str, set[str]] = {}  # person -> the schools whose staff group lists them
        upns: dict[str, str] = {}  # person -> sign-in name (a timetable may know them by it)
        swept: list[Policy] = []  # the schools whose staff group could be read
        for policy in self._enrolling():
            try:
                staff = await staff_members(self._graph, policy.people.staff_group_ids)
            except GraphUnavailable as exc:
                report.problems.append(f"{self._about(policy)}the staff group could not be read: {exc.reason}")
                continue
            swept.append(policy)
            for member in staff:
                member_of.setdefault(member.aad_object_id, set()).add(policy.school.id)
                if member.upn:
                    upns[member.aad_object_id] = member.upn
        for person, schools in member_of.items():
            report.enrolments += await self.sweep_calendar(person, now, report, schools=schools, upn=upns.get(person))
        personal = [(person, schools) for person, schools in member_of.items()]
        personal += [(p.aad_object_id, {policy.school.id}) for policy in swept for p in policy.people.slt + policy.people.dsl]
        for person, schools in personal:
            if person in report.personal or not any(self._schools.get(s).enrolment.personal_scope for s in schools):
                continue
            report.personal[person] = await self._install_personal(person)
        return report

    def _about(self, policy: Policy) -> str:
        return f"{policy.school.name}: " if self._schools.is_trust else ""

    async def _schools_of(self, user_id: str) -> set[str]:
        """The schools whose staff group lists this person (a calendar change names only them)."""
        sole = self._schools.sole
        if sole is not None:
            return {sole.school.id}
        try:
            return await staff_schools(self._graph, user_id, self._staff_groups)
        except GraphUnavailable as exc:
            log.info("enrolment: staff groups could not be read (%s): each meeting placed on its own", exc.reason)
            return set()

    async def sweep_calendar(self, user_id: str, now: datetime | None = None, report: SweepReport | None = None,
                             schools: set[str] | None = None, upn: str | None = None) -> list[Enrolment]:
        now = now or utcnow()
        schools = schools if schools is not None else await self._schools_of(user_id)
        policies = [self._schools.get(s) for s in sorted(schools)] or [self._schools.default]
        end = now + timedelta(hours=max(p.enrolment.look_ahead_hours for p in policies))
        try:
            meetings = await self._teams.meetings_ahead(user_id, now, end)
        except GraphUnavailable as exc:
            failed = Enrolment(organizer_id=user_id, event_id=f"calendar:{now:%Y-%m-%d}", start=now, end=end,
                               status=EnrolmentStatus.failed, reason=f"their calendar could not be read: {exc.reason}",
                               school_id=policies[0].school.id if len(policies) == 1 else None)
            await self._store.record(failed)
            if report is not None:
                report.problems.append(f"a calendar could not be read: {exc.reason}")
            return [failed]
        done = []
        for meeting in meetings:
            if not meeting.is_organizer:
                continue  # enrolled from its organizer's calendar, when they are staff
            school = await self._school_for(meeting, schools, upn)
            enrolment = (await self._enrol(meeting, self._schools.get(school).enrolment)).model_copy(update={"school_id": school})
            await self._store.record(enrolment)
            done.append(enrolment)
        return done

    async def _school_for(self, meeting: ScheduledMeeting, schools: set[str], upn: str | None) -> str:
        """The organizer's one school; for a teacher of several (or none known), the placement's
        answer for this meeting (its timetable, by Entra id or sign-in name), else the trust's
        default policy's id."""
        if len(schools) == 1:
            (school,) = schools
            return school
        aliases = {a.lower() for a in (meeting.organizer_id, upn) if a}
        placed = await self._placement.decide(meeting.organizer_id, aliases, None, meeting.start)
        return placed.school_id

    async def _enrol(self, meeting: ScheduledMeeting, options: EnrolmentPolicy) -> Enrolment:
        base = dict(organizer_id=meeting.organizer_id, event_id=meeting.event_id, subject=meeting.subject, start=meeting.start,
                    end=meeting.end, join_url=meeting.join_url)
        if meeting.is_cancelled:
            return Enrolment(**base, status=EnrolmentStatus.skipped, reason="cancelled")
        earlier = await self._store.get(meeting.organizer_id, meeting.event_id)
        if earlier and earlier.status in (EnrolmentStatus.enrolled, EnrolmentStatus.already) and earlier.join_url == meeting.join_url:
            return earlier.model_copy(update={"status": EnrolmentStatus.already, "reason": "enrolled by an earlier sweep",
                                              "subject": meeting.subject, "start": meeting.start, "end": meeting.end})
        try:
            thread = await self._teams.chat_thread(meeting.organizer_id, meeting.join_url)
        except GraphUnavailable as exc:
            return Enrolment(**base, status=EnrolmentStatus.failed, reason=f"its meeting chat could not be found: {exc.reason}")
        base["chat_id"] = thread
        channel = _is_channel(thread)
        is_lesson, why = await self._is_lesson(meeting, channel, options)
        if not is_lesson:
            return Enrolment(**base, status=EnrolmentStatus.skipped, reason=why)
        try:
            if channel:
                return await self._enrol_in_class_teams(base, why, options)
            outcome = await self._teams.install_in_chat(thread)
        except GraphUnavailable as exc:
            return Enrolment(**base, status=EnrolmentStatus.failed, reason=f"Chaperone could not be installed: {exc.reason}")
        status = EnrolmentStatus.enrolled if outcome is InstallOutcome.installed else EnrolmentStatus.already
        return Enrolment(**base, status=status, reason=why)

    async def _enrol_in_class_teams(self, base: dict, why: str, options: EnrolmentPolicy) -> Enrolment:
        teams = options.class_team_ids
        if not teams:
            return Enrolment(**base, status=EnrolmentStatus.failed,
                             reason="a channel meeting: Chaperone joins through its class team, and [enrolment] class_team_ids names none")
        outcomes = [await self._teams.install_in_team(team) for team in teams]
        status = EnrolmentStatus.enrolled if InstallOutcome.installed in outcomes else EnrolmentStatus.already
        return Enrolment(**base, status=status, reason=f"{why}; through the class teams")

    async def _is_lesson(self, meeting: ScheduledMeeting, channel: bool, options: EnrolmentPolicy) -> tuple[bool, str]:
        selection = options.lessons
        if selection is LessonSelection.all_staff_meetings:
            return True, "every staff meeting is enrolled"
        if channel and selection is LessonSelection.class_teams:
            return True, "a channel meeting of a class team"
        pupils, unknown, strangers = 0, [], 0
        for email in meeting.attendees:
            try:
                kind = await self._classify_email(email)
            except GraphUnavailable as exc:
                if exc.status == 404:
                    strangers += 1  # a class group's address, or someone outside the school (a parent)
                else:
                    unknown.append(exc.reason)
                continue
            pupils += kind is PersonClass.pupil
        if pupils:
            return True, f"{pupils} pupil(s) invited"
        # Not knowing whether pupils are invited is no reason to leave a lesson unwatched.
        if strangers:
            return True, (f"enrolled to be safe: {strangers} invitee(s) not in the school's directory "
                          "(a class group's address, or someone outside the school)")
        if unknown:
            return True, f"enrolled to be safe: {len(unknown)} invitee(s) could not be identified ({unknown[0]})"
        return False, "no pupils invited (the policy enrols meetings with pupils invited)"

    async def _classify_email(self, email: str) -> PersonClass:
        user = await self._graph.call("invitee", lambda sdk: sdk.users.by_user_id(email).get())
        if user is None or not user.id:
            return PersonClass.unknown
        return (await self._people.classify(user.id)).classification

    async def _install_personal(self, person: str) -> str:
        if person in self._personal_done:
            return InstallOutcome.already.value
        try:
            outcome = await self._teams.install_for_user(person)
        except GraphUnavailable as exc:
            return f"could not: {exc.reason}"
        self._personal_done.add(person)
        return outcome.value
