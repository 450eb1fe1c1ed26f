"""What every rule module declares, and the helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from config.policy import Policy, PolicyError
from domain.findings import Finding, Severity, Status
from domain.meeting import MeetingSettings

from .snapshot import Fact, LessonSnapshot, Moment

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
    # The words of the school's AUP a rule enforces are in the clause maps of the documents
    # the school adopted (policies/clauses/), not here: see Policy.clauses_for.
    remediation: str
    evaluate: Callable[[LessonSnapshot, Policy], list[Finding]]
    # When the rule has something to say: at the start, on roster changes, at the end...
    moments: frozenset[Moment] = ALL_MOMENTS
    options: type[RuleOptions] = RuleOptions
    # The rule judges who was present: with no live roster (channel meetings) it cannot.
    needs_roster: bool = False
    # The rule judges the organizer or what Graph keeps under them (calendar, timetable).
    needs_organizer: bool = False
    # The policy asks for SLT's approval *before* (one-to-one sessions, live streams, two staff:
    # "SLT approval will be sought"): an exception recorded after the start does not waive it.
    prior_approval: bool = False
    # The school's registers the rule reads (timetable, consents, signatures): only what an
    # enabled rule needs is loaded for an assessment.
    needs: frozenset[Fact] = frozenset()

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

    def judge_settings(
        self, snapshot: LessonSnapshot, policy: Policy, what: str, judge: Callable[[MeetingSettings], Finding]
    ) -> list[Finding]:
        """Judge the meeting's options as they were through the lesson, not only as they are
        now: a lobby opened for ten minutes and closed again was still open for ten minutes."""
        seen = snapshot.settings_seen()
        if not seen:
            return self.settings_unknown(snapshot, policy, what)
        # A state replaced at the same instant (Chaperone turning the lobby on as the lesson
        # started) was never in effect.
        seen = [o for o, after in zip(seen, seen[1:] + [None]) if after is None or after.observed_at > o.observed_at]
        verdicts = [(o.observed_at, judge(o.settings)) for o in seen]
        now = verdicts[-1][1]
        if now.status is Status.failed:
            return [now]
        failed = [(i, at, f) for i, (at, f) in enumerate(verdicts) if f.status is Status.failed]
        if not failed:
            return [now]
        i, at, first = failed[0]
        zone = policy.school.zone
        put_right = next((t for t, f in verdicts[i + 1:] if f.status is not Status.failed), None)
        when = f"from {at.astimezone(zone):%H:%M}" + (f" until {put_right.astimezone(zone):%H:%M}" if put_right else "")
        return [first.model_copy(update={"message": f"{first.message} ({when}, then put right)",
                                         "details": {**first.details, "seen_at": at.isoformat()}})]

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


def contact_verdict(rule: Rule, snapshot: LessonSnapshot, policy: Policy, problem: str) -> list[Finding]:
    """A problem that matters only for online contact with pupils or parents (operating hours,
    the timetable): a breach when pupils or possible parents were present; nothing to flag in a
    staff-only meeting; could not verify while who was there is not known."""
    contact = snapshot.contact() if snapshot.has_live_roster else None
    if contact:
        return [rule.finding(snapshot, policy, Status.failed, problem)]
    if contact is False:
        yet = "" if snapshot.lesson.actual_end else " (so far)"
        return [rule.finding(snapshot, policy, Status.passed, f"only staff present{yet}, so not a lesson with pupils or parents: {problem}")]
    if not snapshot.has_live_roster:
        why = "Teams sends no join or leave events for channel meetings, so whether pupils were present is not known"
    else:
        why = f"{len(snapshot.unidentified())} people present are not identified yet ({snapshot.roster_problem or 'the directory has not answered yet'})"
    return [rule.finding(snapshot, policy, Status.could_not_verify, problem, reason=why)]


def forms_verdict(rule: Rule, snapshot: LessonSnapshot, policy: Policy, kind: str, form: str, command: str, *,
                  failed_as: str = "no {form} on file for {names}") -> list[Finding]:
    """Every pupil present has a form of `kind` on file: the verdict shared by the register rules."""
    without = snapshot.without_form(kind)
    if without is None:
        return [rule.finding(snapshot, policy, Status.could_not_verify, f"{form}s could not be checked",
                             reason=f"no register of them has been imported (python app.py {command} FILE)")]
    if without:
        return [rule.finding(snapshot, policy, Status.failed, failed_as.format(form=form, names=", ".join(without)),
                             details={"pupils": without})]
    return [rule.finding(snapshot, policy, Status.passed, f"every pupil present has a {form} on file")]
