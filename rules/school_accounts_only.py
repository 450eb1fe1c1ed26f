"""school-accounts-only: only the school's own accounts in a lesson."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass

from domain.wording import plural

from .base import ROSTER_MOMENTS, Rule
from .snapshot import LessonSnapshot


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    outsiders = sorted({snapshot.name_of(p) for p in snapshot.people(PersonClass.external)})
    organizer = snapshot.lesson.organizer_aad_id
    organizer_outside = any(a.aad_object_id == organizer and a.classification is PersonClass.external for a in snapshot.lesson.attendance)
    if organizer_outside:
        return [RULE.finding(snapshot, policy, Status.failed, "the organizer is not using a school account")]
    if outsiders:
        return [
            RULE.finding(
                snapshot, policy, Status.failed,
                f"{plural(len(outsiders), 'participant')} without a school account: {', '.join(outsiders)}",
                details={"people": outsiders},
            )
        ]
    if not snapshot.roster_settled:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "not every participant could be checked",
                             reason=snapshot.roster_problem)]
    return [RULE.finding(snapshot, policy, Status.passed, "only school accounts present")]


RULE = Rule(
    id="school-accounts-only",
    title="School accounts only",
    severity=Severity.breach,
    remediation="Remove anyone who joined without a school account (guests, other organisations, anonymous "
    "callers), and use the waiting room to admit only people you expect.",
    evaluate=evaluate,
    moments=ROSTER_MOMENTS,
    needs_roster=True,
)
