"""pupil-aup-agreement: every pupil present has a Pupil/Parent AUP Agreement on file."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass
from domain.school import ConsentKind

from .base import ROSTER_MOMENTS, Rule
from .snapshot import LessonSnapshot


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    if not snapshot.people(PersonClass.pupil):
        return [RULE.finding(snapshot, policy, Status.passed, "no pupils present")]
    without = snapshot.without_form(ConsentKind.pupil_aup)
    if without is None:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "pupil/parent AUP agreements could not be checked",
                             reason="no register of Pupil/Parent AUP Agreements has been imported (python app.py import-pupil-aup FILE)")]
    if without:
        return [RULE.finding(snapshot, policy, Status.failed, f"no pupil/parent AUP agreement on file for {', '.join(without)}",
                             details={"pupils": without})]
    return [RULE.finding(snapshot, policy, Status.passed, "every pupil present has a pupil/parent AUP agreement on file")]


RULE = Rule(
    id="pupil-aup-agreement",
    title="Pupil/parent AUP agreement on file",
    severity=Severity.warning,
    remediation="Ask the office to chase the pupil's Pupil/Parent Acceptable Use Policy Agreement, and record it in the MIS.",
    evaluate=evaluate,
    moments=ROSTER_MOMENTS,
    needs_roster=True,
)
