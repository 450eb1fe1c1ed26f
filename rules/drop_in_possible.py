"""drop-in-possible: SLT and the DSL can join a lesson without waiting for the teacher to let them in."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.meeting import LobbyScope, MeetingSettings

from .base import Rule
from .snapshot import LessonSnapshot

# Lobby scopes that let every signed-in member of the school straight in.
SCHOOL_BYPASSES = {LobbyScope.organization, LobbyScope.organization_and_federated, LobbyScope.organization_excluding_guests,
                   LobbyScope.everyone}


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    droppers = {p.aad_object_id.lower(): p.name for p in [*policy.people.slt, *policy.people.dsl]}

    def judge(settings: MeetingSettings) -> Finding:
        if settings.lobby_scope is LobbyScope.unknown:
            return RULE.finding(snapshot, policy, Status.could_not_verify, "Graph reported a lobby setting Chaperone does not know",
                                reason="unknown lobby bypass scope")
        if settings.lobby_scope in SCHOOL_BYPASSES:
            return RULE.finding(snapshot, policy, Status.passed, "the school's staff bypass the lobby")
        if not droppers:
            return RULE.finding(snapshot, policy, Status.could_not_verify, "who may drop in is not known",
                                reason="the policy file names no SLT or DSL")
        if settings.lobby_scope is LobbyScope.invited:
            invited = {i.aad_object_id.lower() for i in settings.invited if i.aad_object_id}
            waiting = sorted(name for person, name in droppers.items() if person not in invited)
            if not waiting:
                return RULE.finding(snapshot, policy, Status.passed, "SLT and the DSL are invited, so they bypass the lobby")
            return RULE.finding(snapshot, policy, Status.failed,
                                f"{', '.join(waiting)} would wait in the lobby: only invited people bypass it, and they are not invited",
                                details={"waiting": waiting})
        return RULE.finding(snapshot, policy, Status.failed,
                            f"only '{settings.lobby_scope.value}' bypasses the lobby: SLT and the DSL would wait to be let in")

    return RULE.judge_settings(snapshot, policy, "whether SLT can drop in", judge)


RULE = Rule(
    id="drop-in-possible",
    title="SLT and the DSL can drop in",
    # Information: a teacher can still admit SLT from the lobby, but the policy means them to walk in.
    severity=Severity.info,
    remediation="Invite SLT and the DSL to the lesson series, or set Meeting options > Who can bypass the lobby "
    "to 'People in my organisation' (excluding guests).",
    evaluate=evaluate,
)
