"""one-to-one-adults: two adults present throughout a one-to-one session."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass

from . import one_to_one
from .base import Rule
from .snapshot import LessonSnapshot


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    return one_to_one.judge_sessions(RULE, snapshot, policy, lambda found: _judge(found, snapshot, policy))


def _judge(found: list[one_to_one.Spell], snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    minimum = one_to_one.RULE.options_for(policy).minimum_adults
    for spell in found:
        points = [spell.start] + [t for t in snapshot.change_points() if spell.start < t < (spell.end or snapshot.at)]
        fewest = min(points, key=lambda t: len(snapshot.people_present(PersonClass.staff, t)))
        staff = sorted(snapshot.name_of(p) for p in snapshot.people_present(PersonClass.staff, fewest))
        if len(staff) < minimum:
            who = ", ".join(staff) or "no member of staff"
            return [RULE.finding(snapshot, policy, Status.failed,
                                 f"one-to-one session {spell.words} with only {who} ({minimum} adults required)",
                                 details={"pupil": spell.pupil, "staff": staff})]
    return [RULE.finding(snapshot, policy, Status.passed, f"{minimum} adults present throughout the one-to-one session")]


RULE = Rule(
    id="one-to-one-adults",
    title="Two adults in one-to-one sessions",
    severity=Severity.breach,
    remediation="Ask a second member of staff to join the one-to-one session now, or end it.",
    evaluate=evaluate,
    moments=one_to_one.MOMENTS,
    needs_roster=True,
)
