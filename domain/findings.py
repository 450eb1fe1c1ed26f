"""What a rule concluded about a lesson, and the verdict as the register keeps it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    breach = "breach"


class Status(StrEnum):
    passed = "pass"
    failed = "fail"
    could_not_verify = "could-not-verify"  # a check that could not be made is never a pass


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule_id: str
    severity: Severity
    status: Status
    # The facts that passed or failed, for a person to read. The lesson is not named here:
    # every card, report and note that shows a finding already shows its lesson.
    message: str
    # Why it could not be verified, or which approved exception applies.
    reason: str | None = None
    # When the rule wants to look again (a grace period ending, closing time).
    recheck_at: datetime | None = None
    # Facts behind the verdict (e.g. the lobby scope that failed), for the record.
    details: dict = {}


class StoredFinding(BaseModel):
    """A rule's current verdict on one lesson, as the register keeps it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    lesson_id: int
    rule_id: str
    severity: Severity
    status: Status
    message: str
    reason: str | None
    recheck_at: datetime | None = None
    details: dict
    moment: str
    episode: int
    final: bool
    first_failed_at: datetime | None
    evaluated_at: datetime
