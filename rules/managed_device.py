"""managed-device: the organizer ran the lesson from a school-managed device, where the sign-in
logs can tell (off by default; information only)."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lookups import LookupOutcome

from .base import Rule, RuleOptions
from .snapshot import LessonSnapshot, Moment


class Options(RuleOptions):
    # Reading sign-in logs is personal data about staff: the school turns this on after its DPIA.
    enabled: bool = False


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    lesson = snapshot.lesson
    lookup = lesson.organizer_device_lookup
    if lookup is None or lookup.outcome is LookupOutcome.could_not_verify:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "the organizer's device could not be checked",
                             reason=str(lookup) if lookup else "the sign-in logs are read when the lesson starts")]
    device = lesson.organizer_device
    if device is None or device.managed is None:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "the organizer's device could not be checked",
                             reason="no Teams sign-in before the lesson says whether the device is managed")]
    what = f" ({device.description})" if device.description else ""
    if not device.managed:
        return [RULE.finding(snapshot, policy, Status.failed, f"the organizer signed in to Teams from a device the school does not manage{what}")]
    return [RULE.finding(snapshot, policy, Status.passed, f"the organizer signed in to Teams from a school-managed device{what}")]


RULE = Rule(
    id="managed-device",
    title="School equipment used",
    severity=Severity.info,
    remediation="Use a school laptop, tablet or other school-managed device for live lessons where you can.",
    evaluate=evaluate,
    moments=frozenset({Moment.start, Moment.end}),
    options=Options,
    needs_organizer=True,
)
