"""recording: live lessons are recorded when the school requires it (one-to-one sessions: one_to_one_recorded)."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.meeting import MeetingSettings

from .base import Rule, RuleOptions
from .snapshot import LessonSnapshot


class Options(RuleOptions):
    # The 2023 policy: "live lessons should be recorded and backed up on Teams Streams".
    # Valence's policy does not require it.
    required: bool = False


def judge(settings: MeetingSettings, snapshot: LessonSnapshot, policy: Policy) -> Finding:
    if settings.record_automatically is None:
        return RULE.finding(snapshot, policy, Status.could_not_verify, "whether the lesson is recorded could not be checked",
                            reason="Graph did not report recordAutomatically")
    if not settings.record_automatically:
        return RULE.finding(snapshot, policy, Status.failed, "not set to record automatically; the school requires live lessons to be recorded")
    return RULE.finding(snapshot, policy, Status.passed, "set to record automatically")


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    if not RULE.options_for(policy).required:
        # One-to-one sessions are always checked: one_to_one_recorded.
        return [RULE.finding(snapshot, policy, Status.passed, "the school does not require lessons to be recorded")]
    return RULE.judge_settings(snapshot, policy, "whether the lesson is recorded", lambda s: judge(s, snapshot, policy))


RULE = Rule(
    id="recording",
    title="Recorded when required",
    severity=Severity.warning,
    remediation="Meeting options > Record automatically: on (or start recording now from More actions > Record).",
    evaluate=evaluate,
    options=Options,
)
