"""Every rule Chaperone has. Adding a rule is adding its module to RULES."""

from __future__ import annotations

from config.policy import Policy, PolicyError
from domain.findings import Finding, Severity, Status

from . import (
    attendee_av,
    aup_signed,
    live_stream_approval,
    meeting_chat,
    one_to_one,
    operating_hours,
    parental_consent,
    presenters_restricted,
    recording,
    school_accounts_only,
    timetabled,
    two_staff,
    waiting_room,
)
from .base import Rule
from .snapshot import LessonSnapshot

RULES: tuple[Rule, ...] = (
    waiting_room.RULE,
    two_staff.RULE,
    operating_hours.RULE,
    timetabled.RULE,
    school_accounts_only.RULE,
    presenters_restricted.RULE,
    attendee_av.RULE,
    meeting_chat.RULE,
    one_to_one.RULE,
    recording.RULE,
    live_stream_approval.RULE,
    parental_consent.RULE,
    aup_signed.RULE,
)
BY_ID = {rule.id: rule for rule in RULES}


def check_policy(policy: Policy) -> None:
    """Fail at start-up, naming the table, for a [rules.*] entry Chaperone cannot use."""
    unknown = sorted(set(policy.rules) - set(BY_ID))
    if unknown:
        raise PolicyError(f"[rules] names rules Chaperone does not have: {', '.join(unknown)} (known: {', '.join(BY_ID)})")
    for rule in RULES:
        rule.options_for(policy)


def enabled(policy: Policy) -> list[Rule]:
    return [rule for rule in RULES if rule.options_for(policy).enabled]


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    """Every enabled rule with something to say at this moment, approved exceptions applied."""
    findings = []
    people = {a.person_id for a in snapshot.lesson.attendance}
    for rule in enabled(policy):
        if snapshot.moment not in rule.moments:
            continue
        for finding in rule.evaluate(snapshot, policy):
            if finding.status is Status.failed:
                approval = snapshot.approval(rule.id, person_ids=people)
                if approval is not None:
                    until = f" until {approval.expires_at:%d %B %Y}" if approval.expires_at else ""
                    finding = finding.model_copy(
                        update={
                            "severity": Severity.info,
                            "reason": f"approved exception #{approval.id} by {approval.approved_by_name or 'SLT'}{until}: {approval.reason}",
                        }
                    )
            findings.append(finding)
    return findings
