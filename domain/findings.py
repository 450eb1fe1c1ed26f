"""What a rule concluded about a lesson."""

from __future__ import annotations

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
    # Names the lesson and the facts that failed, for a person to read.
    message: str
    # Why it could not be verified, or which approved exception applies.
    reason: str | None = None
    # Facts behind the verdict (e.g. when a grace period ends), for follow-up and cards.
    details: dict = {}
