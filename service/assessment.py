"""Judging a lesson against the school's policy: build the snapshot, run the rules, keep
the verdicts, and book the next look when a rule asks for one (a grace period ending,
closing time)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from config.policy import Policy
from config.trust import Schools
from domain.aup import AupDocument
from domain.findings import Finding, Severity, StoredFinding
from domain.lesson import Lesson
from domain.placement import Placement
from rules import recording_kept, registry
from rules.snapshot import Fact, LessonSnapshot, Moment
from store.db import read_sessions
from store.findings import FindingStore, RaiseNew, Recorded
from store.jobs import JobSpec, Priority
from store.lessons import LessonStore
from store.register import ExceptionRegister
from store.school_data import SchoolData
from store.signatures import SignatureRegister
from store.tables import utcnow
from telemetry import metrics

log = logging.getLogger(__name__)

GRACE_CHECK = "grace-check"


def latest_event(lesson: Lesson) -> datetime | None:
    """The time of the last thing that happened in the lesson: 'now' in the lesson's own clock."""
    times = [lesson.actual_start, lesson.actual_end]
    for a in lesson.attendance:
        times += [a.joined_at, a.left_at]
    known = [t for t in times if t is not None]
    return max(known) if known else None


class LessonAssessor:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        lessons: LessonStore,
        findings: FindingStore,
        exceptions: ExceptionRegister,
        school_data: SchoolData,
        signatures: SignatureRegister,
        schools: Schools,
    ) -> None:
        self._reads = read_sessions(engine)
        self._signatures = signatures
        # Each school's AUP as its staff sign it (read once: the policy names a file).
        self._aups: dict[str, AupDocument | None] = {p.school.id: p.aup_document() for p in schools.all_policies()}
        self._lessons = lessons
        self._findings = findings
        self._exceptions = exceptions
        self._school_data = school_data
        self._schools = schools

    def policy_for(self, lesson: Lesson) -> Policy:
        """The policy the lesson is judged by: its school's, or the trust's default when no school claimed it."""
        return self._schools.get(lesson.school_id)

    async def snapshot(self, lesson: Lesson, moment: Moment, at: datetime) -> LessonSnapshot:
        """What the rules judge: the lesson, and only the registers an enabled rule reads, each
        asked about this lesson's people (indexed), never read whole."""
        policy = self.policy_for(lesson)
        school = policy.school.id
        needs = frozenset().union(*(rule.needs for rule in registry.enabled(policy)))
        organizer_ids = lesson.organizer_aliases
        consents, consent_kinds, signed = None, frozenset(), None
        aup = self._aups.get(school)
        # Every register read on one connection.
        async with self._reads() as session:
            timetable, loaded = (await self._school_data.timetable_for(organizer_ids, school_id=school, session=session)
                                 if Fact.timetable in needs else ([], False))
            if Fact.consents in needs:
                aliases = {a.person_id: {i.lower() for i in (a.person_id, a.aad_object_id, a.upn) if i} for a in lesson.attendance}
                # Consent must be on file by the day of the lesson itself.
                local_day = (lesson.actual_start or lesson.scheduled_start or at).astimezone(policy.school.zone).date()
                # The kinds imported say whether a register has been at all: one query, not two.
                consent_kinds = await self._school_data.consent_kinds(school_id=school, session=session)
                consents = await self._school_data.consents_for(aliases, local_day, school_id=school, session=session,
                                                                imported=bool(consent_kinds))
            # A 'school unknown' lesson's staff signed their own schools' AUPs, not the default
            # policy's: whether they signed cannot be told, so the rule says so.
            if Fact.signatures in needs and aup and lesson.placement is not Placement.unknown:
                # Staff present who signed the school's current version; None when it has no AUP set up.
                present = {a.aad_object_id for a in lesson.attendance if a.aad_object_id} | {lesson.organizer_aad_id} - {None}
                signed = frozenset(await self._signatures.signed_by(aup.version, present, school_id=school, session=session))
            exceptions = tuple(await self._exceptions.active(lesson.id, lesson.meeting_id, at, school_id=school, session=session))
        return LessonSnapshot(
            lesson=lesson,
            moment=moment,
            at=at,
            organizer_ids=frozenset(organizer_ids),
            timetable=tuple(timetable),
            timetable_loaded=loaded,
            exceptions=exceptions,
            consents=consents,
            consent_kinds=consent_kinds,
            aup_signed=signed,
            aup_unknown_because=("the lesson's school is not known: its staff sign their own schools' AUPs"
                                 if lesson.placement is Placement.unknown else None),
        )

    async def assess(self, lesson_id: int, moment: Moment, at: datetime | None = None, lesson: Lesson | None = None,
                     raise_new: RaiseNew | None = None) -> Recorded:
        """Evaluate the rules for `moment` (on `lesson` when the caller has just read it, with its
        register); returns what changed (new breaches, cleared ones). `raise_new` queues the
        cards for new failures with the verdicts (store/findings.py)."""
        lesson = lesson or await self._lessons.get(lesson_id)
        if lesson.placement is Placement.pending:
            # A trust's lesson not yet placed: judged once its school is known (and at the
            # latest at its end, as 'school unknown'), never first by another school's policy.
            log.info("lesson %s: not judged yet: its school is not known yet", lesson.id)
            return Recorded(new=[], cleared=[], failing=set())
        at = at or latest_event(lesson) or utcnow()
        snapshot = await self.snapshot(lesson, moment, at)
        findings = registry.evaluate(snapshot, self.policy_for(lesson))
        next_looks = _next_looks(findings, at) if lesson.actual_end is None else []
        recorded = await self._findings.record(lesson.id, findings, moment.value, at, final=moment in (Moment.end, Moment.report),
                                               then=next_looks, raise_new=raise_new)
        metrics.verdicts_reached(findings)
        for finding in recorded.new:
            # Ids only: finding messages name pupils and staff. An info finding (nobody is told)
            # at INFO: at a trust's 09:00 they were thousands of WARNING lines.
            level = logging.INFO if finding.severity is Severity.info else logging.WARNING
            log.log(level, "lesson %s: %s %s (finding %s)", lesson.id, finding.severity.value, finding.rule_id, finding.id)
        return recorded

    async def recording_required(self, lesson_id: int) -> bool:
        """Whether the policy asks for this lesson to be recorded (so Graph's recordings are read)."""
        lesson = await self._lessons.get(lesson_id)
        policy = self.policy_for(lesson)
        if not recording_kept.RULE.options_for(policy).enabled:
            return False
        at = lesson.actual_end or latest_event(lesson) or utcnow()
        return recording_kept.required(await self.snapshot(lesson, Moment.end, at), policy) is not None

    async def findings(self, lesson_id: int) -> list[StoredFinding]:
        return await self._findings.for_lesson(lesson_id)

    async def record_remediation(self, lesson_id: int, what: str) -> None:
        await self._exceptions.record_action("chaperone", "remediation", f"lesson:{lesson_id}", {"change": what})


def _next_looks(findings: list[Finding], at: datetime) -> list[JobSpec]:
    """A grace check at each instant a rule asked to be looked at again (a grace period's end,
    closing time), queued with the verdicts."""
    looks = []
    for when in sorted({f.recheck_at for f in findings if f.recheck_at is not None}):
        # The lesson's clock is Teams' event time; the job waits the same span in real time.
        delay = max(0.0, (when - at).total_seconds())
        # One look per instant, whichever rules asked for it: every rule is judged then.
        looks.append(JobSpec(kind=GRACE_CHECK, priority=Priority.grace, delay_seconds=delay, key=when.isoformat(),
                             payload={"at": when.isoformat()}))
    return looks
