"""one-to-one-recorded: a one-to-one session is recorded."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status

from . import one_to_one
from .base import Rule
from .snapshot import LessonSnapshot


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    if not one_to_one.RULE.options_for(policy).require_recording:
        return [RULE.finding(snapshot, policy, Status.passed, "the school's policy file does not ask for one-to-one sessions to be recorded")]
    return one_to_one.judge_sessions(RULE, snapshot, policy, lambda found: _judge(found, snapshot, policy))


def _judge(found: list[one_to_one.Spell], snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    for spell in found:
        states = snapshot.settings_during(spell.start, spell.end)
        if not states or any(s.settings.record_automatically is None for s in states):
            lookup = snapshot.lesson.settings_lookup
            return [RULE.finding(snapshot, policy, Status.could_not_verify, f"one-to-one session {spell.words}",
                                 reason=f"whether it was recorded: {lookup or 'the meeting settings have not been read yet'}")]
        if not all(s.settings.record_automatically for s in states):
            return [RULE.finding(snapshot, policy, Status.failed, f"one-to-one session {spell.words} not set to record automatically",
                                 details={"pupil": spell.pupil})]
    return [RULE.finding(snapshot, policy, Status.passed, "the one-to-one session was set to record automatically")]


RULE = Rule(
    id="one-to-one-recorded",
    title="One-to-one sessions recorded",
    severity=Severity.breach,
    remediation="Start recording now (More actions > Record), and set Meeting options > Record automatically for "
    "one-to-one sessions.",
    evaluate=evaluate,
    moments=one_to_one.MOMENTS,
    needs_roster=True,
)
