"""aup-signed: every member of staff present has signed the current Remote Learning AUP."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass

from .base import ROSTER_MOMENTS, Rule
from .snapshot import Fact, LessonSnapshot


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    staff = snapshot.people(PersonClass.staff)
    if not staff:
        return [RULE.finding(snapshot, policy, Status.passed, "no staff identified yet")]
    if snapshot.aup_signed is None:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "AUP signatures could not be checked",
                             reason=snapshot.aup_unknown_because or "the policy names no AUP for staff to sign ([aup])")]
    unsigned = sorted(snapshot.name_of(p) for p in staff if p not in snapshot.aup_signed)
    if unsigned:
        return [RULE.finding(snapshot, policy, Status.failed, f"not signed the current AUP: {', '.join(unsigned)}",
                             details={"staff": unsigned})]
    return [RULE.finding(snapshot, policy, Status.passed, "all staff present have signed the current AUP")]


RULE = Rule(
    id="aup-signed",
    title="Staff have signed the AUP",
    severity=Severity.warning,
    remediation="Send 'sign' to Chaperone in a personal chat and sign the current Remote Learning AUP.",
    evaluate=evaluate,
    moments=ROSTER_MOMENTS,
    needs_roster=True,
    needs=frozenset({Fact.signatures}),
)
