"""staff-pupil-chats: a weekly report to the DSL of one-to-one Teams chats between staff and pupils
outside lessons (who, when created, last activity; never what was said). Off by default: the
school turns it on after its data protection impact assessment.

Not a check of one lesson: `judge` runs on the week's chats, from the weekly report job.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from config.policy import Policy
from domain.chats import StaffPupilChat
from domain.findings import Finding, Severity, Status
from domain.wording import plural

from .base import Rule, RuleOptions
from .snapshot import LessonSnapshot


class Options(RuleOptions):
    enabled: bool = False
    # How far back a chat's last activity counts (the report is weekly).
    look_back_days: int = Field(7, ge=1, le=31)


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    return []  # chats are not part of any one lesson: see judge()


def judge(chats: list[StaffPupilChat], since: datetime, policy: Policy) -> Finding:
    active = [c for c in chats if c.last_activity is None or c.last_activity >= since]
    zone = policy.school.zone
    details = {"chats": [
        {"staff": c.staff.name or c.staff.aad_object_id, "pupil": c.pupil.name or c.pupil.aad_object_id,
         "created": c.created.isoformat() if c.created else None, "last_activity": c.last_activity.isoformat() if c.last_activity else None}
        for c in sorted(active, key=lambda c: (c.staff.name or "", c.pupil.name or ""))
    ]}
    if not active:
        return Finding(rule_id=RULE.id, severity=RULE.severity_for(policy), status=Status.passed,
                       message=f"no one-to-one chats between staff and pupils active since {since.astimezone(zone):%d %B}")
    return Finding(rule_id=RULE.id, severity=RULE.severity_for(policy), status=Status.failed,
                   message=f"{plural(len(active), 'one-to-one chat')} between staff and pupils active since {since.astimezone(zone):%d %B}",
                   details=details)


RULE = Rule(
    id="staff-pupil-chats",
    title="Staff and pupils talk through lessons and school email",
    severity=Severity.warning,
    remediation="Talk to the member of staff: contact with pupils goes through pre-arranged live lessons or school "
    "email, with parents copied in where possible.",
    evaluate=evaluate,
    moments=frozenset(),
    options=Options,
)
