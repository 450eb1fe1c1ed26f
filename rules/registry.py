"""Every rule Chaperone has. Adding a rule is adding its module to RULES."""

from __future__ import annotations

from config.policy import Policy, PolicyError
from domain.findings import Finding, Severity, Status

from . import (
    attendee_av,
    aup_signed,
    drop_in_possible,
    image_consent,
    invitation_sent,
    invited_only,
    live_stream_approval,
    managed_device,
    meeting_chat,
    one_to_one,
    one_to_one_adults,
    one_to_one_consent,
    one_to_one_recorded,
    operating_hours,
    parental_consent,
    presenters_restricted,
    pupil_aup_agreement,
    recording,
    recording_kept,
    school_accounts_only,
    staff_pupil_chats,
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
    one_to_one_consent.RULE,
    one_to_one_adults.RULE,
    one_to_one_recorded.RULE,
    recording.RULE,
    live_stream_approval.RULE,
    parental_consent.RULE,
    aup_signed.RULE,
    recording_kept.RULE,
    invited_only.RULE,
    invitation_sent.RULE,
    drop_in_possible.RULE,
    pupil_aup_agreement.RULE,
    image_consent.RULE,
    managed_device.RULE,
    staff_pupil_chats.RULE,
)
BY_ID = {rule.id: rule for rule in RULES}


def check_policy(policy: Policy) -> None:
    """Fail at start-up, naming the table, for a [rules.*] entry Chaperone cannot use."""
    unknown = sorted(set(policy.rules) - set(BY_ID))
    if unknown:
        raise PolicyError(f"[rules] names rules Chaperone does not have: {', '.join(unknown)} (known: {', '.join(BY_ID)})")
    for rule in RULES:
        rule.options_for(policy)
    strangers = sorted(set(policy.exceptions.dsl_only) - set(BY_ID))
    if strangers:
        raise PolicyError(f"[exceptions] dsl_only names rules Chaperone does not have: {', '.join(strangers)}")
    for clause_map in policy.clause_maps:
        strangers = sorted({c.rule for c in clause_map.clause} - set(BY_ID))
        if strangers:
            raise PolicyError(f"the clause map {clause_map.id} names rules Chaperone does not have: {', '.join(strangers)}")


def enabled(policy: Policy) -> list[Rule]:
    return [rule for rule in RULES if rule.options_for(policy).enabled]


NO_ROSTER = ("Teams sends no join or leave events for channel meetings, and Graph keeps no attendance report "
             "for them: who was present cannot be known")


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    """Every enabled rule with something to say at this moment, approved exceptions applied."""
    findings = []
    for rule in enabled(policy):
        if snapshot.moment not in rule.moments:
            continue
        unknown = _cannot_judge(rule, snapshot)
        if unknown is not None:
            findings.append(rule.finding(snapshot, policy, Status.could_not_verify, unknown[0], reason=unknown[1]))
            continue
        findings += [_approved(rule, finding, snapshot, policy) for finding in rule.evaluate(snapshot, policy)]
    return findings


def _cannot_judge(rule: Rule, snapshot: LessonSnapshot) -> tuple[str, str] | None:
    """Why the rule cannot be judged at all (knowing nothing is never a pass), or None."""
    if rule.needs_roster and not snapshot.has_live_roster:
        return "who was present could not be checked", NO_ROSTER
    if rule.needs_organizer and not snapshot.organizer_known:
        details = snapshot.lesson.details_lookup
        return "the organizer is not known yet", f"Teams' meeting details: {details}" if details else "Teams' meeting details have not been read yet"
    return None


def _approved(rule: Rule, finding: Finding, snapshot: LessonSnapshot, policy: Policy) -> Finding:
    """An approved failure is no longer a breach. Where the policy asks for approval before the
    lesson (Rule.prior_approval), one recorded afterwards is shown but the breach stands."""
    if finding.status is not Status.failed:
        return finding
    approval = snapshot.approval(rule.id, person_ids={a.person_id for a in snapshot.lesson.attendance})
    if approval is None:
        return finding
    by = approval.approved_by_name or "SLT"
    zone = policy.school.zone
    if rule.prior_approval and approval.approved_at > snapshot.started_at:
        when = approval.approved_at.astimezone(zone)
        return finding.model_copy(update={
            "reason": f"approved afterwards by {by} at {when:%H:%M on %d %B %Y} (exception #{approval.id}: {approval.reason}); "
                      "the policy asks for approval before the lesson, so this stays a breach",
            "details": {**finding.details, "approved_afterwards": approval.id},
        })
    until = f" until {approval.expires_at.astimezone(zone):%d %B %Y}" if approval.expires_at else ""
    return finding.model_copy(update={
        "severity": Severity.info,
        "reason": f"approved exception #{approval.id} by {by}{until}: {approval.reason}",
    })
