"""operating-hours: lessons start and end inside the hours SLT set, on school days."""

from __future__ import annotations

from datetime import datetime, timedelta

from config.policy import Policy
from domain.findings import Finding, Severity, Status

from .base import Rule, contact_verdict
from .snapshot import LessonSnapshot, Moment


def _problem(moment: datetime, policy: Policy, what: str) -> str | None:
    local = moment.astimezone(policy.school.zone)
    day = local.date()
    closed = policy.calendar.closed_on(day)
    if closed:
        return f"{local:%A %d %B} is {closed}"
    hours = policy.hours.on(day)
    if hours is None:
        return f"{local:%A} is not a school day"
    clock = local.time().replace(tzinfo=None)
    if not hours.opens <= clock <= hours.closes:
        return f"{what} {local:%H:%M}, outside operating hours ({hours.opens:%H:%M}-{hours.closes:%H:%M} on {local:%A}s)"
    return None


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    if policy.hours is None:
        return [
            RULE.finding(snapshot, policy, Status.could_not_verify, "operating hours could not be checked",
                         reason="the policy file sets no [hours]")
        ]
    lesson = snapshot.lesson
    start = lesson.actual_start
    if start is None:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "the lesson's start time is not known",
                             reason="Teams' start event was not received")]
    problems = [p for p in (_problem(start, policy, "it started at"),) if p]
    # At the end, or once the clock passes the end of a lesson still running, the end counts too.
    end = lesson.actual_end or (snapshot.at if snapshot.moment is not Moment.start else None)
    if end is not None:
        if end_problem := _problem(end, policy, "it ended at" if lesson.actual_end else "it was still running at"):
            problems.append(end_problem)
    if problems:
        return contact_verdict(RULE, snapshot, policy, "; ".join(dict.fromkeys(problems)))
    local = start.astimezone(policy.school.zone)
    recheck_at = None
    if lesson.actual_end is None:
        # Look again just after closing time, in case the lesson is still running then.
        hours = policy.hours.on(local.date())
        closing = datetime.combine(local.date(), hours.closes, tzinfo=policy.school.zone) + timedelta(minutes=1)
        recheck_at = closing.astimezone(start.tzinfo)
    return [RULE.finding(snapshot, policy, Status.passed, f"within operating hours ({local:%A %H:%M})", recheck_at=recheck_at)]


RULE = Rule(
    id="operating-hours",
    title="Within operating hours",
    severity=Severity.breach,
    remediation="End the session and reschedule it within the school's operating hours, on a school day.",
    evaluate=evaluate,
    moments=frozenset({Moment.start, Moment.roster, Moment.grace, Moment.end, Moment.report}),
)
