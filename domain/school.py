"""The school's own registers, as imported from its MIS or recorded by SLT: the timetable,
parental consent forms, and approved exceptions."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from .lesson import Lesson


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


class ConsentKind(StrEnum):
    """The forms a school keeps for each pupil, as its registers import them."""

    remote_learning = "remote-learning"  # the Consent for Remote Learning Form
    one_to_one = "one-to-one"  # written parental consent for one-to-one sessions
    pupil_aup = "pupil-aup"  # the Pupil/Parent Acceptable Use Policy Agreement
    image = "image"  # consent to display or distribute the pupil's image


class Consent(BaseModel):
    """A parental consent form on file (imported from the MIS)."""

    model_config = ConfigDict(frozen=True)

    person: str
    kind: str  # a ConsentKind value
    given_on: date | None = None
    expires_on: date | None = None


class ApprovedException(BaseModel):
    """An exception SLT or the DSL approved, from the exceptions register."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    rule_id: str
    lesson_id: int | None = None
    meeting_id: str | None = None  # a recurring series shares its meeting id
    person_id: str | None = None
    reason: str
    approved_by: str | None = None  # Entra object id
    approved_by_name: str | None = None
    approved_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

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
