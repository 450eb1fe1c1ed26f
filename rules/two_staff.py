"""two-staff: at least two members of staff whenever pupils are present."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass

from .base import ROSTER_MOMENTS, Rule, RuleOptions
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


def _alone(staff: list[str], start: str, end: str | None) -> str:
    """Who was left with pupils, in words a DSL reads at a glance."""
    if not staff:
        return f"pupils had no member of staff with them from {start} until {end}" if end else \
            f"pupils have had no member of staff with them since {start}, and still have none"
    who = " and ".join(staff) if len(staff) == 2 else ", ".join(staff)
    if len(staff) == 1:
        return f"{who} was alone with pupils from {start} until {end}" if end else \
            f"{who} has been alone with pupils since {start} and is still alone"
    return f"only {who} were with pupils from {start} until {end}" if end else f"only {who} have been with pupils since {start}"


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    options = RULE.options_for(policy)
    grace = timedelta(minutes=options.grace_minutes)
    zone = policy.school.zone
    for start, end in understaffed_spells(snapshot, options.minimum_staff):
        lasted = (end or snapshot.at) - start
        if lasted >= grace:
            staff = sorted(snapshot.name_of(p) for p in snapshot.people_present(PersonClass.staff, start))
            if not snapshot.roster_settled:
                return [
                    RULE.finding(
                        snapshot, policy, Status.could_not_verify,
                        f"fewer than {options.minimum_staff} known staff from {start.astimezone(zone):%H:%M}",
                        reason=f"not everyone present could be classified: {snapshot.roster_problem}",
                    )
                ]
            what = _alone(staff, f"{start.astimezone(zone):%H:%M}", f"{end.astimezone(zone):%H:%M}" if end else None)
            return [
                RULE.finding(
                    snapshot, policy, Status.failed,
                    f"{what} ({minutes(lasted)} min; {options.minimum_staff} staff required)",
                    details={"since": start.isoformat(), "until": end.isoformat() if end else None, "staff": staff},
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
    remediation="Ask a second member of staff to join now, or end the session. If two staff cannot be present, "
    "ask SLT to record an approved exception for this lesson.",
    evaluate=evaluate,
    moments=ROSTER_MOMENTS,
    options=Options,
    needs_roster=True,
    prior_approval=True,
)
