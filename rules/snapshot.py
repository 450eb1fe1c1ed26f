"""A lesson as the rules see it, at one moment: the facts, and nothing that does I/O."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.lesson import Attendance, AttendanceSource, Lesson, PersonClass
from domain.lookups import LookupOutcome
from domain.school import ApprovedException, TimetableEntry


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
    # Staff who signed the current AUP version; None: no signature register yet.
    aup_signed: frozenset[str] | None = None

    # ---- the roster ---------------------------------------------------------------

    @property
    def has_live_roster(self) -> bool:
        """Teams sends join/leave events for scheduled private meetings only."""
        if self.lesson.is_channel_meeting:
            return any(a.source is AttendanceSource.graph_report for a in self.lesson.attendance)
        return True

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
        return {a.person_id for a in self.intervals(kind) if self.present(a, moment)}

    def people(self, kind: PersonClass) -> set[str]:
        return {a.person_id for a in self.intervals(kind)}

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
