"""presenters-restricted: pupils cannot present or share their screens."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass
from domain.meeting import MeetingSettings, Presenters

from .base import Rule
from .snapshot import LessonSnapshot

SAFE = (Presenters.organizer, Presenters.role_is_presenter)


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    pupils_presenting = sorted(
        {a.display_name or a.person_id for a in snapshot.intervals(PersonClass.pupil) if (a.meeting_role or "").lower() in ("presenter", "organizer")}
    )
    if pupils_presenting:
        return [RULE.finding(snapshot, policy, Status.failed, f"pupils with the presenter role: {', '.join(pupils_presenting)}")]

    def judge(settings: MeetingSettings) -> Finding:
        if settings.allowed_presenters is Presenters.unknown:
            return RULE.finding(snapshot, policy, Status.could_not_verify, "Graph reported a presenter setting Chaperone does not know",
                                reason="unknown allowedPresenters value")
        if settings.allowed_presenters not in SAFE:
            return RULE.finding(snapshot, policy, Status.failed,
                                f"'{settings.allowed_presenters.value}' can present and share screens, pupils included")
        return RULE.finding(snapshot, policy, Status.passed, f"only {settings.allowed_presenters.value} can present")

    return RULE.judge_settings(snapshot, policy, "who can present", judge)


RULE = Rule(
    id="presenters-restricted",
    title="Pupils cannot present",
    severity=Severity.warning,
    remediation="Meeting options > Who can present > Only me (or Specific people), so pupils cannot share their screens.",
    evaluate=evaluate,
)
