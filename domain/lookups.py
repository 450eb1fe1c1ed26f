"""The outcome of asking Teams or Graph something about a lesson.

Other modules branch on `outcome`, never on the wording of `reason`: the reason is for a
person to read (the lesson record, the demo report, a could-not-verify finding).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class LookupOutcome(StrEnum):
    ok = "ok"  # asked and answered
    none = "none"  # asked, and there is nothing (no calendar event; no report for channel meetings)
    pending = "pending"  # not yet: asked again later (an attendance report not published yet)
    could_not_verify = "could-not-verify"  # asking failed; never a pass


class Lookup(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: LookupOutcome
    reason: str | None = None

    @classmethod
    def ok(cls, note: str | None = None) -> Lookup:
        return cls(outcome=LookupOutcome.ok, reason=note)

    @classmethod
    def none(cls, reason: str) -> Lookup:
        return cls(outcome=LookupOutcome.none, reason=reason)

    @classmethod
    def pending(cls, reason: str) -> Lookup:
        return cls(outcome=LookupOutcome.pending, reason=reason)

    @classmethod
    def could_not_verify(cls, reason: str) -> Lookup:
        return cls(outcome=LookupOutcome.could_not_verify, reason=reason)

    @property
    def answered(self) -> bool:
        """Asked and answered, with something or with nothing."""
        return self.outcome in (LookupOutcome.ok, LookupOutcome.none)

    def __str__(self) -> str:
        if self.outcome is LookupOutcome.none and self.reason:
            return self.reason  # says what there is none of: "no calendar event"
        words = {LookupOutcome.could_not_verify: "could not verify"}.get(self.outcome, self.outcome.value)
        return f"{words}: {self.reason}" if self.reason else words
