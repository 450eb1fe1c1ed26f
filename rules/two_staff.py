"""two-staff: at least two members of staff whenever pupils are present."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass

from .base import ROSTER_MOMENTS, STAFF_2023, VALENCE, Clause, Rule, RuleOptions
from .snapshot import LessonSnapshot, minutes


class Options(RuleOptions):
    minimum_staff: int = Field(2, ge=1)
    # Time allowed from the first pupil joining, and again whenever staff drop below the minimum.
    grace_minutes: float = Field(5, ge=0)


def understaffed_spells(snapshot: LessonSnapshot, minimum: int) -> list[tuple[datetime, datetime | None]]:
    """Spells when pupils were present with fewer than `minimum` staff: (start, end or None if ongoing)."""
    spells: list[tuple[datetime, datetime | None]] = []
    current: datetime | None = None
    for moment in snapshot.change_points():
        short = bool(snapshot.people_present(PersonClass.pupil, moment)) and len(
            snapshot.people_present(PersonClass.staff, moment)
        ) < minimum
        if short and current is None:
            current = moment
        elif not short and current is not None:
            spells.append((current, moment))
            current = None
    if current is not None:
        spells.append((current, None))
    return spells


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    options = RULE.options_for(policy)
    if not snapshot.has_live_roster:
        return [
            RULE.finding(
                snapshot, policy, Status.could_not_verify, "staffing could not be checked live",
                reason="Teams sends no join/leave events for channel meetings; it is checked after the lesson "
                "from Graph's attendance report",
            )
        ]
    grace = timedelta(minutes=options.grace_minutes)
    zone = policy.school.zone
    for start, end in understaffed_spells(snapshot, options.minimum_staff):
        lasted = (end or snapshot.at) - start
        if lasted >= grace:
            staff = sorted(snapshot.name_of(p) for p in snapshot.people_present(PersonClass.staff, start))
            who = ", ".join(staff) or "no staff"
            until = f"until {end.astimezone(zone):%H:%M}" if end else "and still is"
            if not snapshot.roster_settled:
                return [
                    RULE.finding(
                        snapshot, policy, Status.could_not_verify,
                        f"fewer than {options.minimum_staff} known staff from {start.astimezone(zone):%H:%M}",
                        reason=f"not everyone present could be classified: {snapshot.roster_problem}",
                    )
                ]
            return [
                RULE.finding(
                    snapshot, policy, Status.failed,
                    f"pupils were with {who} alone from {start.astimezone(zone):%H:%M} {until} "
                    f"({minutes(lasted)} min; {options.minimum_staff} staff required)",
                    details={"since": start.isoformat()},
                )
            ]
        if end is None:
            # Short of staff now, but within the grace period: look again when it ends.
            check_at = start + grace
            return [
                RULE.finding(
                    snapshot, policy, Status.passed,
                    f"fewer than {options.minimum_staff} staff since {start.astimezone(zone):%H:%M}; "
                    f"within the {options.grace_minutes:g}-minute grace period, checked again at {check_at.astimezone(zone):%H:%M}",
                    recheck_at=check_at,
                )
            ]
    if not snapshot.people(PersonClass.pupil):
        return [RULE.finding(snapshot, policy, Status.passed, "no pupils present yet")]
    return [RULE.finding(snapshot, policy, Status.passed, f"at least {options.minimum_staff} staff whenever pupils were present")]


RULE = Rule(
    id="two-staff",
    title="Two members of staff present",
    severity=Severity.breach,
    clauses=(
        Clause("When live streaming with learners: ... at least 2 members of staff will be present. "
               "If this is not possible, SLT approval will be sought.", VALENCE),
        Clause("I understand that for live lessons at least two members of staff should be present; where this "
               "is not possible, the leadership team's approval will be sought;", STAFF_2023),
    ),
    remediation="Ask a second member of staff to join now, or end the session. If two staff cannot be present, "
    "ask SLT to record an approved exception for this lesson.",
    evaluate=evaluate,
    moments=ROSTER_MOMENTS,
    options=Options,
)
