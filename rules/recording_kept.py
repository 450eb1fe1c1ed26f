"""recording-kept: where a recording is required, one was made and is kept in the school's tenant.

The setting `recordAutomatically` only says a recording was meant to happen: after the lesson
Graph's list of the meeting's recordings shows whether one was made.
"""

from __future__ import annotations

from datetime import timedelta

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lookups import LookupOutcome

from . import one_to_one, recording
from .base import Rule
from .snapshot import LessonSnapshot, Moment

BEFORE_START = timedelta(minutes=5)
AFTER_END = timedelta(minutes=30)


def required(snapshot: LessonSnapshot, policy: Policy) -> str | None:
    """Why this lesson must be recorded, or None when it need not be."""
    if recording.RULE.options_for(policy).enabled and recording.RULE.options_for(policy).required:
        return "the school requires live lessons to be recorded"
    if one_to_one.RULE.options_for(policy).require_recording and one_to_one.spells(snapshot, policy):
        return "one-to-one sessions must be recorded"
    return None


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    why = required(snapshot, policy)
    if why is None:
        return [RULE.finding(snapshot, policy, Status.passed, "no recording is required for this lesson")]
    lesson = snapshot.lesson
    lookup = lesson.recordings_lookup
    if lookup is None or lookup.outcome is not LookupOutcome.ok or lesson.recordings is None:
        reason = str(lookup) if lookup else "Graph's list of recordings is read after the lesson"
        return [RULE.finding(snapshot, policy, Status.could_not_verify, f"whether a recording was kept ({why})", reason=reason)]
    if lesson.actual_start is None:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, f"whether a recording was kept ({why})",
                             reason="the lesson's start is not known, so its recordings cannot be told from other occurrences'")]
    # A recurring meeting keeps every occurrence's recordings under one meeting: this lesson's are
    # the ones made while it ran.
    ran_until = (lesson.actual_end or snapshot.at) + AFTER_END
    this_lesson = [r for r in lesson.recordings if r.created is None or lesson.actual_start - BEFORE_START <= r.created <= ran_until]
    if not this_lesson:
        return [RULE.finding(snapshot, policy, Status.failed, f"no recording of the lesson was kept; {why}")]
    school = policy.school.tenant_id
    kept = [r for r in this_lesson if school is None or r.tenant_id is None or r.tenant_id == school]
    if not kept:
        elsewhere = sorted({r.tenant_id for r in this_lesson if r.tenant_id})
        return [RULE.finding(snapshot, policy, Status.failed,
                             f"the recording is held outside the school's tenant ({', '.join(elsewhere)}); {why}",
                             details={"tenants": elsewhere})]
    return [RULE.finding(snapshot, policy, Status.passed, f"a recording was kept in the school's tenant ({why})")]


RULE = Rule(
    id="recording-kept",
    title="Required recording kept",
    severity=Severity.breach,
    remediation="Record every session the policy requires (More actions > Record, or Record automatically in "
    "Meeting options), from a school account so the recording is saved to the school's Teams and OneDrive.",
    evaluate=evaluate,
    moments=frozenset({Moment.end, Moment.report}),
    needs_roster=True,
)
