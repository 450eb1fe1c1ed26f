"""live-stream-approval: broadcast (town hall / live event) sessions need SLT approval first."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.meeting import MeetingSettings

from .base import Rule
from .snapshot import LessonSnapshot

BROADCAST_TYPES = {"broadcast", "townhall", "liveevent"}


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    def judge(settings: MeetingSettings) -> Finding:
        broadcast = settings.is_broadcast or (settings.meeting_type or "").lower() in BROADCAST_TYPES
        if not broadcast:
            return RULE.finding(snapshot, policy, Status.passed, "not a live-streamed session")
        approval = snapshot.approval(RULE.id, before=snapshot.started_at)
        if approval is None:
            return RULE.finding(snapshot, policy, Status.failed, "a live-streamed session without prior SLT approval")
        return RULE.finding(snapshot, policy, Status.passed, f"live stream approved by {approval.approved_by_name or 'SLT'} before it started")

    return RULE.judge_settings(snapshot, policy, "whether this is a live stream", judge)


RULE = Rule(
    id="live-stream-approval",
    title="Live streams approved by SLT",
    severity=Severity.breach,
    remediation="Ask SLT to approve the live stream (an approved exception in Chaperone) before it starts.",
    evaluate=evaluate,
    prior_approval=True,
)
