"""parental-consent: every pupil present has a remote learning consent form on file."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass

from .base import ROSTER_MOMENTS, Rule
from .snapshot import Fact, LessonSnapshot

CONSENT = "remote-learning"


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    pupils = snapshot.people(PersonClass.pupil)
    if not pupils:
        return [RULE.finding(snapshot, policy, Status.passed, "no pupils present")]
    if snapshot.consents is None:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "consent forms could not be checked",
                             reason="no parental consent register has been imported (python app.py import-consent FILE)")]
    without = sorted(snapshot.name_of(p) for p in pupils if p not in snapshot.consents.get(CONSENT, frozenset()))
    if without:
        return [RULE.finding(snapshot, policy, Status.failed, f"no remote learning consent on file for {', '.join(without)}",
                             details={"pupils": without})]
    return [RULE.finding(snapshot, policy, Status.passed, f"consent on file for all {len(pupils)} pupils")]


RULE = Rule(
    id="parental-consent",
    title="Parental consent on file",
    severity=Severity.warning,
    remediation="Check with the office that the pupil's Consent for Remote Learning Form has been returned; "
    "until it has, the pupil should not take part in live sessions.",
    evaluate=evaluate,
    moments=ROSTER_MOMENTS,
    needs_roster=True,
    needs=frozenset({Fact.consents}),
)
