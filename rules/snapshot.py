"""A lesson as the rules see it, at one moment: the facts, and nothing that does I/O."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, PrivateAttr

from domain.lesson import Attendance, Lesson, PersonClass, SettingsObservation
from domain.lookups import LookupOutcome
from domain.school import ApprovedException, TimetableEntry


class Fact(StrEnum):
    """A register of the school's that a rule reads besides the lesson itself."""

    timetable = "timetable"
    consents = "consents"
    signatures = "signatures"


class Moment(StrEnum):
    start = "start"  # the meeting started (settings, hours, timetable)
    roster = "roster"  # someone joined or left
    grace = "grace"  # a grace period ended
    end = "end"  # the meeting ended: the final verdict
    report = "report"  # Graph's attendance report was merged


class LessonSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    lesson: Lesson
    moment: Moment
    at: datetime  # the time the verdict is about
    organizer_ids: frozenset[str] = frozenset()  # Entra id, UPN and mail, lower case
    timetable: tuple[TimetableEntry, ...] = ()
    timetable_loaded: bool = False
    exceptions: tuple[ApprovedException, ...] = ()
    # Person ids with each kind of parental consent on file; None: no register imported.
    consents: dict[str, frozenset[str]] | None = None
    # The kinds of form the school has imported a register of (domain.school.ConsentKind values).
    consent_kinds: frozenset[str] = frozenset()
    # Staff who signed the current AUP version; None: no signature register yet.
    aup_signed: frozenset[str] | None = None
    # Why the signatures could not be checked, when not because the policy names no AUP.
    aup_unknown_because: str | None = None
    # Who of each class was present at each moment asked about: several rules ask about every
    # change point of a class of thirty (two staff, one-to-one spells), each once. Keyed by the
    # lesson too: a copy of the snapshot shares this dict, perhaps with another lesson.
    _present_at: dict[tuple[int, datetime], dict[PersonClass, frozenset[str]]] = PrivateAttr(default_factory=dict)

    # ---- the roster ---------------------------------------------------------------

    @property
    def has_live_roster(self) -> bool:
        """Teams sends no join/leave events for channel meetings, and Graph keeps no
        attendance report for them: who was present is never known."""
        return not self.lesson.is_channel_meeting

    @property
    def organizer_known(self) -> bool:
        return bool(self.lesson.organizer_aad_id)

    @property
    def started_at(self) -> datetime:
        """When the lesson started (approvals must come before it)."""
        return self.lesson.actual_start or self.lesson.scheduled_start or self.at

    @property
    def roster_settled(self) -> bool:
        """Everyone present has been classified (or Graph could not say, and we know it)."""
        roster = self.lesson.roster_lookup
        return roster is None or roster.outcome is LookupOutcome.ok

    @property
    def roster_problem(self) -> str | None:
        """Why not everyone present is classified, or None when they are."""
        return None if self.roster_settled else str(self.lesson.roster_lookup)

    def intervals(self, kind: PersonClass | None = None) -> list[Attendance]:
        return [a for a in self.lesson.attendance if kind is None or a.classification is kind]

    def present(self, attendance: Attendance, moment: datetime) -> bool:
        joined = attendance.joined_at or self.lesson.actual_start
        if joined is None or joined > moment:
            return False
        return attendance.left_at is None or attendance.left_at > moment

    def people_present(self, kind: PersonClass, moment: datetime) -> set[str]:
        key = (id(self.lesson), moment)
        if (present := self._present_at.get(key)) is None:
            by_class: dict[PersonClass, set[str]] = {}
            for a in self.lesson.attendance:
                if self.present(a, moment):
                    by_class.setdefault(a.classification, set()).add(a.person_id)
            present = self._present_at[key] = {k: frozenset(ids) for k, ids in by_class.items()}
        return set(present.get(kind, ()))

    def people(self, kind: PersonClass) -> set[str]:
        return {a.person_id for a in self.intervals(kind)}

    def unidentified(self) -> set[str]:
        """People present at some point whom the directory has not classified (yet)."""
        return self.people(PersonClass.unknown)

    def contact(self) -> bool | None:
        """Were pupils, or people who may be parents (guests, other organisations, anonymous
        callers), ever present? None when that is not known yet: nobody non-staff is known,
        but some people are not identified."""
        if self.people(PersonClass.pupil) or self.people(PersonClass.external):
            return True
        if self.unidentified():
            return None
        return False

    def spells(self, people_wanted, minimum: timedelta) -> list[tuple[datetime, datetime | None, frozenset[str]]]:
        """Spells of at least `minimum` in which `people_wanted(present pupils)` holds, each as
        (start, end or None if still going, the pupils present)."""
        spells, current, since = [], None, None
        points = self.change_points()
        for moment in points + [None]:
            pupils = frozenset(self.people_present(PersonClass.pupil, moment)) if moment else None
            if current is not None and pupils != current:
                end = moment
                if (end or self.at) - since >= minimum:
                    spells.append((since, end, current))
                current = None
            if pupils is not None and current is None and people_wanted(pupils):
                current, since = pupils, moment
        return spells

    # ---- the meeting's settings through the lesson -------------------------------------

    def settings_seen(self) -> list[SettingsObservation]:
        """Each state of the meeting's options seen up to `at`, oldest first; just the latest
        read when there is no history."""
        seen = [o for o in self.lesson.settings_history if o.observed_at <= self.at]
        if not seen and self.lesson.meeting_settings is not None:
            when = self.lesson.settings_read_at or self.started_at
            seen = [SettingsObservation(observed_at=when, settings=self.lesson.meeting_settings, source="latest")]
        return seen

    def settings_during(self, start: datetime, end: datetime | None) -> list[SettingsObservation]:
        """The states of the options in effect at some time in [start, end]."""
        seen = self.settings_seen()
        before = [o for o in seen if o.observed_at <= start]
        inside = [o for o in seen if start < o.observed_at <= (end or self.at)]
        return ([before[-1]] if before else seen[:1]) + inside

    def name_of(self, person_id: str) -> str:
        for a in self.lesson.attendance:
            if a.person_id == person_id:
                return a.display_name or person_id
        return person_id

    def change_points(self) -> list[datetime]:
        """Every time someone joined or left, up to `at`, in order."""
        points = set()
        for a in self.lesson.attendance:
            for t in (a.joined_at or self.lesson.actual_start, a.left_at):
                if t is not None and t <= self.at:
                    points.add(t)
        return sorted(points)

    def without_form(self, kind: str) -> list[str] | None:
        """Names of the pupils present with no form of `kind` on file that counts for this lesson;
        None when the school has imported no register of that kind."""
        if self.consents is None or kind not in self.consent_kinds:
            return None
        on_file = self.consents.get(kind, frozenset())
        return sorted(self.name_of(p) for p in self.people(PersonClass.pupil) if p not in on_file)

    def ever_recorded(self) -> bool | None:
        """Was the lesson set to record at any time? None when its settings were never read."""
        seen = self.settings_seen()
        if not seen or all(o.settings.record_automatically is None for o in seen):
            return None
        return any(o.settings.record_automatically for o in seen)

    # ---- approvals ----------------------------------------------------------------

    def approval(self, rule_id: str, *, before: datetime | None = None, person_ids: set[str] | None = None) -> ApprovedException | None:
        for exception in self.exceptions:
            if exception.rule_id != rule_id:
                continue
            if before is not None and exception.approved_at > before:
                continue
            if exception.covers(self.lesson, self.at, person_ids):
                return exception
        return None


def minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
