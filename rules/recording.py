"""recording: live lessons are recorded when the school requires it (always for one-to-one)."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass

from .base import ANNEX_2023, STAFF_2023, Clause, Rule, RuleOptions
from .snapshot import LessonSnapshot, Moment


class Options(RuleOptions):
    # The 2023 policy: "live lessons should be recorded and backed up on Teams Streams".
    # Valence's policy does not require it.
    required: bool = False


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    options = RULE.options_for(policy)
    one_to_one = len(snapshot.people(PersonClass.pupil)) == 1 and snapshot.moment is not Moment.start
    if not options.required and not one_to_one:
        return [RULE.finding(snapshot, policy, Status.passed, "recording is not required for this lesson")]
    settings = snapshot.lesson.meeting_settings
    if settings is None or settings.record_automatically is None:
        return RULE.settings_unknown(snapshot, policy, "whether the lesson is recorded")
    why = "one-to-one sessions must be recorded" if one_to_one else "the school requires live lessons to be recorded"
    if not settings.record_automatically:
        return [RULE.finding(snapshot, policy, Status.failed, f"not set to record automatically; {why}")]
    return [RULE.finding(snapshot, policy, Status.passed, "set to record automatically")]


RULE = Rule(
    id="recording",
    title="Recorded when required",
    severity=Severity.warning,
    clauses=(
        Clause("I understand that live lessons should be recorded and backed up on Teams Streams, so that if any "
               "issues were to arise, the video can be reviewed", STAFF_2023),
        Clause("Where these sessions may be necessary they must be recorded and saved to Teams Streams where this "
               "can be reviewed at any time.", ANNEX_2023),
    ),
    remediation="Meeting options > Record automatically: on (or start recording now from More actions > Record).",
    evaluate=evaluate,
    moments=frozenset({Moment.start, Moment.roster, Moment.end}),
    options=Options,
)
