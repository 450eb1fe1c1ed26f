"""meeting-chat: chat limited, where the school asks for it."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.meeting import ChatMode, MeetingSettings

from .base import Rule, RuleOptions
from .snapshot import LessonSnapshot, Moment


class Options(RuleOptions):
    allowed: tuple[ChatMode, ...] = (ChatMode.limited, ChatMode.disabled)


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    options = RULE.options_for(policy)

    def judge(settings: MeetingSettings) -> Finding:
        if settings.chat is ChatMode.unknown:
            return RULE.finding(snapshot, policy, Status.could_not_verify, "Graph reported a chat setting Chaperone does not know",
                                reason="unknown allowMeetingChat value")
        if settings.chat not in options.allowed:
            allowed = " or ".join(c.value for c in options.allowed)
            return RULE.finding(snapshot, policy, Status.failed, f"meeting chat is '{settings.chat.value}' (the school asks for {allowed})")
        return RULE.finding(snapshot, policy, Status.passed, f"meeting chat is {settings.chat.value}")

    return RULE.judge_settings(snapshot, policy, "the chat setting", judge)


RULE = Rule(
    id="meeting-chat",
    title="Chat limited",
    severity=Severity.info,
    remediation="Meeting options > Meeting chat > In-meeting only (or Off).",
    evaluate=evaluate,
    moments=frozenset({Moment.start, Moment.end}),
    options=Options,
)
