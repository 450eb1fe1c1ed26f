"""one-to-one: a live session with a single pupil needs approval, consent, two adults and a recording."""

from __future__ import annotations

from pydantic import Field

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass

from .base import ANNEX_2023, STAFF_2023, VALENCE, Clause, Rule, RuleOptions
from .snapshot import LessonSnapshot, Moment

CONSENT = "one-to-one"


class Options(RuleOptions):
    minimum_adults: int = Field(2, ge=1)
    require_recording: bool = True
    require_consent: bool = True


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    options = RULE.options_for(policy)
    pupils = snapshot.people(PersonClass.pupil)
    if len(pupils) != 1:
        if not snapshot.roster_settled and not pupils:
            return [RULE.finding(snapshot, policy, Status.could_not_verify, "who is a pupil is not known yet",
                                 reason=snapshot.roster_problem)]
        return [RULE.finding(snapshot, policy, Status.passed, f"not a one-to-one session ({len(pupils)} pupils)")]
    [pupil] = pupils
    missing, unknown = [], []
    start = snapshot.lesson.actual_start or snapshot.at
    if snapshot.approval(RULE.id, before=start) is None:
        missing.append("prior SLT approval")
    if options.require_consent:
        if snapshot.consents is None:
            unknown.append("no parental consent register has been imported")
        elif pupil not in snapshot.consents.get(CONSENT, frozenset()):
            missing.append("written parental consent for one-to-one sessions")
    if len(snapshot.people(PersonClass.staff)) < options.minimum_adults:
        missing.append(f"{options.minimum_adults} adults present")
    if options.require_recording:
        settings = snapshot.lesson.meeting_settings
        if settings is None or settings.record_automatically is None:
            unknown.append("whether it is recorded: " + (str(snapshot.lesson.settings_lookup) if snapshot.lesson.settings_lookup else "settings not read yet"))
        elif not settings.record_automatically:
            missing.append("a recording")
    name = snapshot.name_of(pupil)
    if missing:
        return [RULE.finding(snapshot, policy, Status.failed, f"one-to-one session with {name} without {', '.join(missing)}",
                             details={"pupil": pupil, "missing": missing})]
    if unknown:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, f"one-to-one session with {name}", reason="; ".join(unknown))]
    return [RULE.finding(snapshot, policy, Status.passed, f"one-to-one session with {name}: approved, consented, staffed and recorded")]


RULE = Rule(
    id="one-to-one",
    title="One-to-one sessions approved and safeguarded",
    severity=Severity.breach,
    clauses=(
        Clause("Live 1 to 1 sessions will only take place with prior approval from SLT.", VALENCE),
        Clause("I understand that any 1-1 live lessons need to be pre-arranged, with written parental consent given "
               "and that two adults need to be present. Where 1-1 sessions may be necessary these sessions must be "
               "recorded and saved to the school server where this can be reviewed at any time.", STAFF_2023),
        Clause("1-1 Live Lessons need to be pre-arranged, with written parental consent given and 2 adults need to "
               "be present.", ANNEX_2023),
    ),
    remediation="Do not continue a one-to-one session without SLT's prior approval, written parental consent, a "
    "second adult and recording switched on. Bring in a second member of staff or end the session.",
    evaluate=evaluate,
    moments=frozenset({Moment.roster, Moment.end, Moment.report}),
    options=Options,
)
