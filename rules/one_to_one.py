"""one-to-one: a live session with a single pupil takes place only with SLT's prior approval.

What else a one-to-one session needs has its own rule, verdict and alert: an approval that the
session may happen waives none of them (one_to_one_consent, one_to_one_adults,
one_to_one_recorded).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import Field

from config.policy import Policy
from domain.findings import Finding, Severity, Status

from .base import Rule, RuleOptions
from .snapshot import LessonSnapshot, Moment

MOMENTS = frozenset({Moment.roster, Moment.grace, Moment.end, Moment.report})


class Options(RuleOptions):
    """Shared by the one-to-one rules: [rules.one-to-one]."""

    # A spell of at least this long with exactly one pupil present is a one-to-one session.
    spell_minutes: float = Field(5, ge=0)
    minimum_adults: int = Field(2, ge=1)
    require_recording: bool = True
    require_consent: bool = True


class Spell:
    """A time when exactly one pupil was present."""

    def __init__(self, snapshot: LessonSnapshot, policy: Policy, start: datetime, end: datetime | None, pupil: str) -> None:
        self.start, self.end, self.pupil = start, end, pupil
        self.name = snapshot.name_of(pupil)
        zone = policy.school.zone
        length = int(((end or snapshot.at) - start).total_seconds() // 60)
        until = f"until {end.astimezone(zone):%H:%M}" if end else "and still going"
        self.words = f"with {self.name} from {start.astimezone(zone):%H:%M} {until} ({length} min)"


def spells(snapshot: LessonSnapshot, policy: Policy) -> list[Spell]:
    """Every one-to-one spell so far: judged by who was present at the same time, so pupils
    who came and went earlier or later do not hide it."""
    minimum = timedelta(minutes=RULE.options_for(policy).spell_minutes)
    return [Spell(snapshot, policy, start, end, next(iter(pupils)))
            for start, end, pupils in snapshot.spells(lambda present: len(present) == 1, minimum)]


def unsettled(rule: Rule, snapshot: LessonSnapshot, policy: Policy) -> list[Finding] | None:
    """While people present are not identified, a pupil count of 0 or 1 may be wrong."""
    if snapshot.unidentified() and not snapshot.roster_settled:
        return [rule.finding(snapshot, policy, Status.could_not_verify, "who is a pupil is not known yet",
                             reason=f"{len(snapshot.unidentified())} people not yet identified: {snapshot.roster_problem}")]
    return None


def judge_sessions(rule: Rule, snapshot: LessonSnapshot, policy: Policy, judge: Callable[[list[Spell]], list[Finding]]) -> list[Finding]:
    """The verdict of a one-to-one rule: could not verify while pupils are not all identified,
    a pass when there was no one-to-one spell, otherwise `judge` of the spells."""
    if unknown := unsettled(rule, snapshot, policy):
        return unknown
    found = spells(snapshot, policy)
    if not found:
        minutes = RULE.options_for(policy).spell_minutes
        return [rule.finding(snapshot, policy, Status.passed, f"no one-to-one session (no spell of {minutes:g} min or more with a single pupil)",
                             recheck_at=_becomes_a_spell_at(snapshot, policy))]
    return judge(found)


def _becomes_a_spell_at(snapshot: LessonSnapshot, policy: Policy) -> datetime | None:
    """When a single pupil alone now becomes a one-to-one session, if nobody joins or leaves
    first: the rule looks again then, rather than waiting for the next event or the end."""
    if snapshot.lesson.actual_end is not None:
        return None
    minimum = timedelta(minutes=RULE.options_for(policy).spell_minutes)
    ongoing = [start for start, end, _ in snapshot.spells(lambda present: len(present) == 1, timedelta(0)) if end is None]
    return ongoing[-1] + minimum if ongoing and ongoing[-1] + minimum > snapshot.at else None


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    return judge_sessions(RULE, snapshot, policy, lambda found: _approved(found, snapshot, policy))


def _approved(found: list[Spell], snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    approval = snapshot.approval(RULE.id, before=snapshot.started_at, person_ids={s.pupil for s in found})
    if approval is not None:
        return [RULE.finding(snapshot, policy, Status.passed,
                             f"one-to-one session {found[0].words}, approved by {approval.approved_by_name or 'SLT'} before the lesson")]
    return [RULE.finding(snapshot, policy, Status.failed, f"one-to-one session {found[0].words} without prior SLT approval",
                         details={"pupil": found[0].pupil, "since": found[0].start.isoformat()})]


RULE = Rule(
    id="one-to-one",
    title="One-to-one sessions approved in advance",
    severity=Severity.breach,
    remediation="Do not hold a one-to-one session without SLT's approval in advance. Bring in other pupils or a "
    "second member of staff, or end the session, and ask SLT before the next one.",
    evaluate=evaluate,
    moments=MOMENTS,
    options=Options,
    needs_roster=True,
    prior_approval=True,
)
