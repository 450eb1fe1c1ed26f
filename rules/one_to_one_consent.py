"""one-to-one-consent: written parental consent for a one-to-one session, on file beforehand."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status

from . import one_to_one
from .base import Rule
from .snapshot import Fact, LessonSnapshot

CONSENT = "one-to-one"


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    if not one_to_one.RULE.options_for(policy).require_consent:
        return [RULE.finding(snapshot, policy, Status.passed, "the school's policy file does not ask for one-to-one consent")]
    return one_to_one.judge_sessions(RULE, snapshot, policy, lambda found: _judge(found, snapshot, policy))


def _judge(found: list[one_to_one.Spell], snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    if snapshot.consents is None:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, f"one-to-one session {found[0].words}",
                             reason="no parental consent register has been imported (python app.py import-consent FILE)")]
    without = [s for s in found if s.pupil not in snapshot.consents.get(CONSENT, frozenset())]
    if without:
        return [RULE.finding(snapshot, policy, Status.failed,
                             f"one-to-one session {without[0].words} without written parental consent for one-to-one sessions on file",
                             details={"pupil": without[0].pupil})]
    return [RULE.finding(snapshot, policy, Status.passed, f"one-to-one consent on file for {', '.join(sorted({s.name for s in found}))}")]


RULE = Rule(
    id="one-to-one-consent",
    title="One-to-one sessions have written parental consent",
    severity=Severity.breach,
    remediation="Do not continue the one-to-one session until the pupil's parents have given written consent for "
    "one-to-one sessions; check with the office.",
    evaluate=evaluate,
    moments=one_to_one.MOMENTS,
    needs_roster=True,
    needs=frozenset({Fact.consents}),
)
