"""What every rule module declares, and the helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from config.policy import Policy, PolicyError
from domain.findings import Finding, Severity, Status

from .snapshot import LessonSnapshot, Moment

VALENCE = "Valence School Staff Remote Learning AUP (November 2022)"
STAFF_2023 = "Acceptable Use Policy for Digital Technologies (Staff and Volunteers) 2023"
ANNEX_2023 = "Online Policy Annex - Remote Learning/Meeting Policy (with the 2023 AUP)"


@dataclass(frozen=True)
class Clause:
    """The words of the policy a rule enforces, and which document they come from."""

    text: str
    document: str


class RuleOptions(BaseModel):
    """A rule's table in the policy file: [rules.<rule id>]. Rules add their own options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    severity: Severity | None = None  # None: the rule's default


ALL_MOMENTS = frozenset(Moment)
ROSTER_MOMENTS = frozenset({Moment.roster, Moment.grace, Moment.end, Moment.report})


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    clauses: tuple[Clause, ...]
    remediation: str
    evaluate: Callable[[LessonSnapshot, Policy], list[Finding]]
    # When the rule has something to say: at the start, on roster changes, at the end...
    moments: frozenset[Moment] = ALL_MOMENTS
    options: type[RuleOptions] = RuleOptions

    def options_for(self, policy: Policy) -> RuleOptions:
        try:
            return self.options.model_validate(policy.rules.get(self.id, {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{policy.where(['rules', self.id, *map(str, e['loc'])])}: rules.{self.id}.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors()
            )
            raise PolicyError(f"the policy is not valid: {problems}") from exc

    def severity_for(self, policy: Policy) -> Severity:
        return self.options_for(policy).severity or self.severity

    def settings_unknown(self, snapshot: LessonSnapshot, policy: Policy, what: str) -> list[Finding]:
        """The verdict when Graph's meeting settings are not there: could not verify, and why."""
        lookup = snapshot.lesson.settings_lookup
        reason = str(lookup) if lookup else "the meeting's settings have not been read yet"
        return [self.finding(snapshot, policy, Status.could_not_verify, f"{what} could not be checked", reason=reason)]

    def finding(
        self,
        snapshot: LessonSnapshot,
        policy: Policy,
        status: Status,
        message: str,
        *,
        reason: str | None = None,
        recheck_at: datetime | None = None,
        details: dict | None = None,
    ) -> Finding:
        return Finding(
            rule_id=self.id,
            severity=self.severity_for(policy),
            status=status,
            message=message,
            reason=reason,
            recheck_at=recheck_at,
            details=details or {},
        )
