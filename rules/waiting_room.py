"""waiting-room: the lobby is on, so staff admit each person."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.meeting import LobbyScope, MeetingSettings

from .base import Rule, RuleOptions
from .snapshot import LessonSnapshot


class Options(RuleOptions):
    # Who may skip the lobby. 'organization' is not safe: guests bypass it too.
    allowed_scopes: tuple[LobbyScope, ...] = (LobbyScope.organizer, LobbyScope.invited)
    # Turn the lobby on through Graph when it is off (needs OnlineMeetings.ReadWrite.All).
    remediate: bool = False
    remediate_to: LobbyScope = LobbyScope.organizer


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    options = RULE.options_for(policy)
    allowed = ", ".join(s.value for s in options.allowed_scopes)

    def judge(settings: MeetingSettings) -> Finding:
        if settings.lobby_scope is LobbyScope.unknown:
            return RULE.finding(snapshot, policy, Status.could_not_verify, "Graph reported a lobby setting Chaperone does not know",
                                reason="unknown lobby bypass scope")
        if settings.lobby_scope not in options.allowed_scopes:
            note = " (this lets guests in too)" if settings.lobby_scope is LobbyScope.organization else ""
            return RULE.finding(
                snapshot, policy, Status.failed,
                f"the waiting room is off: '{settings.lobby_scope.value}' can bypass the lobby{note}; allowed: {allowed}",
                details={"lobby_scope": settings.lobby_scope.value},
            )
        if settings.dial_in_bypasses_lobby:
            return RULE.finding(snapshot, policy, Status.failed, "people dialling in by phone bypass the lobby")
        return RULE.finding(snapshot, policy, Status.passed, f"the waiting room is on (lobby bypass: {settings.lobby_scope.value})")

    return RULE.judge_settings(snapshot, policy, "the waiting room", judge)


RULE = Rule(
    id="waiting-room",
    title="Waiting room (lobby) on",
    severity=Severity.breach,
    remediation="Turn the lobby on: Meeting options > Who can bypass the lobby > Only me (or People I invite), "
    "and switch off 'People dialing in can bypass the lobby'.",
    evaluate=evaluate,
    options=Options,
)
