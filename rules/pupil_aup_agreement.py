"""pupil-aup-agreement: every pupil present has a Pupil/Parent AUP Agreement on file."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass
from domain.school import ConsentKind

from .base import ROSTER_MOMENTS, Rule, forms_verdict
from .snapshot import Fact, LessonSnapshot


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    if not snapshot.people(PersonClass.pupil):
        return [RULE.finding(snapshot, policy, Status.passed, "no pupils present")]
    return forms_verdict(RULE, snapshot, policy, ConsentKind.pupil_aup, "pupil/parent AUP agreement", "import-pupil-aup")


RULE = Rule(
    id="pupil-aup-agreement",
    title="Pupil/parent AUP agreement on file",
    severity=Severity.warning,
    remediation="Ask the office to chase the pupil's Pupil/Parent Acceptable Use Policy Agreement, and record it in the MIS.",
    evaluate=evaluate,
    moments=ROSTER_MOMENTS,
    needs_roster=True,
    needs=frozenset({Fact.consents}),
)
