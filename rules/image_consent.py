"""image-consent: a recorded lesson has image consent on file for every pupil in it."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass
from domain.school import ConsentKind

from .base import Rule, forms_verdict
from .snapshot import Fact, LessonSnapshot, Moment


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    if not snapshot.people(PersonClass.pupil):
        return [RULE.finding(snapshot, policy, Status.passed, "no pupils present")]
    recorded = snapshot.ever_recorded()
    if recorded is None:
        return RULE.settings_unknown(snapshot, policy, "whether pupils' images were recorded")
    if not recorded:
        return [RULE.finding(snapshot, policy, Status.passed, "the lesson was not set to record")]
    return forms_verdict(RULE, snapshot, policy, ConsentKind.image, "image consent", "import-image-consent",
                         failed_as="recorded with no {form} on file for {names}")


RULE = Rule(
    id="image-consent",
    title="Image consent for recorded lessons",
    severity=Severity.warning,
    remediation="Keep the recording to the school's own use: do not display or share it until the pupils' image "
    "consent is on file, or edit them out.",
    evaluate=evaluate,
    moments=frozenset({Moment.roster, Moment.end, Moment.report}),
    needs_roster=True,
    needs=frozenset({Fact.consents}),
)
