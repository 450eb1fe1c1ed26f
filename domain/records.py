"""The school's record as the tab and the exports show it: register rows, verdicts, concern
status, the review's monthly figures. Built by store/records.py and store/exports.py; shown by
tab/ and written as CSV by `python app.py export`."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Verdict(StrEnum):
    """A lesson's verdict at a glance: the worst of its findings."""

    breach = "breach"  # a rule failed with severity breach
    warning = "warning"  # something failed, but not a breach (a warning or a reminder)
    could_not_verify = "could-not-verify"  # nothing failed, but a check could not be made
    clear = "clear"  # every check passed (or none has run yet)


class LessonState(StrEnum):
    running = "running"
    ended = "ended"


class ExportKind(StrEnum):
    lessons = "lessons"
    attendance = "attendance"
    findings = "findings"
    concerns = "concerns"
    audit = "audit"


class ConcernStatus(StrEnum):
    new = "new"
    seen = "seen"
    closed = "closed"


class RegisterFilter(BaseModel):
    """Which lessons the register shows: a date range (inclusive, school days) and filters."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date
    teacher: str | None = None  # the organizer's Entra object id
    class_label: str | None = None
    verdict: Verdict | None = None


class RegisterRow(BaseModel):
    """One lesson in the register: the same columns on the page, in its CSV and in
    `export lessons`."""

    model_config = ConfigDict(frozen=True)

    lesson_id: int
    day: date | None
    start: datetime | None
    end: datetime | None
    minutes: int | None
    title: str | None
    organizer: str | None
    organizer_aad_id: str | None
    class_label: str
    staff: int
    pupils: int
    external: int
    state: LessonState
    verdict: Verdict
    breaches: tuple[str, ...]  # rule ids that failed
    unverified: tuple[str, ...]  # rule ids that could not be verified


class RegisterTotals(BaseModel):
    lessons: int = 0
    minutes: int = 0
    with_breach: int = 0
    could_not_verify: int = 0


class ConcernRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    lesson_id: int | None
    lesson_title: str | None
    reporter_aad_id: str | None
    reporter_name: str | None
    text: str
    created_at: datetime
    status: ConcernStatus
    status_by: str | None = None
    status_at: datetime | None = None
    note: str | None = None


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    at: datetime
    actor: str
    actor_name: str | None
    action: str
    target: str | None
    details: dict


class ReminderSent(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    aad_object_id: str
    version: str
    sent_at: datetime
