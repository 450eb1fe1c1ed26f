"""attendee-av: pupils' microphones and cameras are controlled by staff."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.meeting import MeetingSettings

from .base import Rule, RuleOptions
from .snapshot import LessonSnapshot


class Options(RuleOptions):
    microphones_off: bool = True
    cameras_off: bool = True


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    options = RULE.options_for(policy)

    def judge(settings: MeetingSettings) -> Finding:
        open_to = []
        for wanted, allowed, what in (
            (options.microphones_off, settings.attendee_mic_allowed, "microphones"),
            (options.cameras_off, settings.attendee_camera_allowed, "cameras"),
        ):
            if not wanted:
                continue
            if allowed is None:
                return RULE.finding(snapshot, policy, Status.could_not_verify, f"attendee {what} setting not reported by Graph",
                                    reason="missing allowAttendeeToEnable setting")
            if allowed:
                open_to.append(what)
        if open_to:
            return RULE.finding(snapshot, policy, Status.failed, f"pupils can switch on their own {' and '.join(open_to)}")
        return RULE.finding(snapshot, policy, Status.passed, "pupils' microphones and cameras are controlled by staff")

    return RULE.judge_settings(snapshot, policy, "microphone and camera settings", judge)


RULE = Rule(
    id="attendee-av",
    title="Pupils' microphones and cameras controlled",
    severity=Severity.warning,
    remediation="Meeting options > Allow mic for attendees: off, and Allow camera for attendees: off. "
    "Unmute pupils when you want them to take part.",
    evaluate=evaluate,
    options=Options,
)
