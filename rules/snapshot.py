"""A lesson as the rules see it, at one moment: the facts, and nothing that does I/O."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.lesson import Attendance, Lesson, PersonClass


class Moment(StrEnum):
    start = "start"  # the meeting started (settings, hours, timetable)
    roster = "roster"  # someone joined or left
    grace = "grace"  # a grace period ended
    end = "end"  # the meeting ended: the final verdict
    report = "report"  # Graph's attendance report was merged


class TimetableEntry(BaseModel):
    """One lesson on the school timetable (imported from the MIS)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    organizer: str  # Entra object id or email, lower case
    class_name: str | None = None
    subject: str | None = None
    on_date: date | None = None  # a one-off lesson
    weekday: int | None = None  # 0 = Monday: every week, within valid_from..valid_to
    starts: time
    ends: time
    valid_from: date | None = None
    valid_to: date | None = None

    @property
    def class_label(self) -> str:
        """'7B Maths': the class and subject, as far as the MIS gave them."""
        return " ".join(part for part in (self.class_name, self.subject) if part)

    def occurs_on(self, day: date) -> bool:
        if self.on_date is not None:
            return self.on_date == day
        if self.weekday != day.weekday():
            return False
        return (self.valid_from is None or day >= self.valid_from) and (self.valid_to is None or day <= self.valid_to)


class ApprovedException(BaseModel):
    """An exception SLT or the DSL approved, from the exceptions register."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    rule_id: str
    lesson_id: int | None = None
    meeting_id: str | None = None  # a recurring series shares its meeting id
    person_id: str | None = None
    reason: str
    approved_by_name: str | None = None
    approved_at: datetime
    expires_at: datetime | None = None

    def covers(self, lesson: Lesson, at: datetime, person_ids: set[str] | None = None) -> bool:
        if self.expires_at is not None and at >= self.expires_at:
            return False
        if self.lesson_id is not None and self.lesson_id != lesson.id:
            return False
        if self.meeting_id is not None and self.meeting_id != lesson.meeting_id:
            return False
        if self.person_id is not None and (person_ids is None or self.person_id not in person_ids):
            return False
        return True


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

    # ---- naming -------------------------------------------------------------------

    @property
    def name(self) -> str:
        lesson = self.lesson
        title = lesson.title or "Untitled meeting"
        who = lesson.organizer_name or lesson.organizer_aad_id or "unknown organizer"
        return f"'{title}' ({who})"

    # ---- the roster ---------------------------------------------------------------

    @property
    def has_live_roster(self) -> bool:
        """Teams sends join/leave events for scheduled private meetings only."""
        if self.lesson.meeting_type in ("ChannelScheduled", "ChannelRecurring"):
            return any(a.source.value == "graph-report" for a in self.lesson.attendance)
        return True

    @property
    def roster_settled(self) -> bool:
        """Everyone present has been classified (or Graph could not say, and we know it)."""
        return (self.lesson.roster_status or "ok") == "ok"

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

    # ---- local time ---------------------------------------------------------------

    def local(self, moment: datetime, zone) -> datetime:
        return moment.astimezone(zone)

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
