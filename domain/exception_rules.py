"""The rules an exception must meet before it is recorded, whoever records it (the command
line or the tab): a reason, one scope that exists, an expiry not past, and one for a person.

The problem found is an enum: the command line words it with its flags (`--expires`), the tab
with its form's labels."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class ExceptionProblem(StrEnum):
    empty_reason = "empty-reason"
    not_one_scope = "not-one-scope"
    no_such_lesson = "no-such-lesson"
    unknown_meeting = "unknown-meeting"
    person_without_expiry = "person-without-expiry"
    expiry_passed = "expiry-passed"
    expiry_too_far = "expiry-too-far"


class ExceptionRefused(ValueError):
    def __init__(self, problem: ExceptionProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def is_teams_meeting_id(meeting_id: str) -> bool:
    """Teams meeting ids are base64 of "0#<thread id>#<message id>": a series can be approved
    before its first lesson is recorded, but only by a real meeting id."""
    try:
        return base64.b64decode(meeting_id, validate=True).startswith(b"0#")
    except (binascii.Error, ValueError):
        return False


def lesson_id_in_range(lesson_id: int) -> bool:
    return 0 < lesson_id < 2**31


def checked_exception(
    *,
    reason: str,
    lesson_id: int | None,
    lesson_recorded: bool,
    meeting_id: str | None,
    meeting_recorded: bool,
    person_id: str | None,
    expires: date | None,
    today: date,
    zone: ZoneInfo,
) -> tuple[str, datetime | None]:
    """The reason (trimmed) and the moment the exception ends, or ExceptionRefused.

    `expires` is the last day it applies: it ends at the start of the next day, school time."""
    reason = reason.strip()
    if not reason:
        raise ExceptionRefused(ExceptionProblem.empty_reason)
    if sum(x is not None for x in (lesson_id, meeting_id, person_id)) != 1:
        raise ExceptionRefused(ExceptionProblem.not_one_scope)
    if lesson_id is not None and not (lesson_id_in_range(lesson_id) and lesson_recorded):
        raise ExceptionRefused(ExceptionProblem.no_such_lesson)
    if meeting_id is not None and not (meeting_recorded or is_teams_meeting_id(meeting_id)):
        raise ExceptionRefused(ExceptionProblem.unknown_meeting)
    if person_id is not None and expires is None:
        raise ExceptionRefused(ExceptionProblem.person_without_expiry)
    if expires is None:
        return reason, None
    if expires < today:
        raise ExceptionRefused(ExceptionProblem.expiry_passed)
    if expires >= date.max:
        raise ExceptionRefused(ExceptionProblem.expiry_too_far)
    return reason, datetime.combine(expires + timedelta(days=1), time(0), tzinfo=zone)
