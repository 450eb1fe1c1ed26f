"""invitation-sent: a lesson with pupils had an invitation to them that set out the expectations."""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lookups import LookupOutcome
from domain.wording import plural

from .base import Rule, RuleOptions, contact_verdict
from .snapshot import LessonSnapshot, Moment


class Options(RuleOptions):
    # Words the invitation must contain, e.g. ["camera", "microphone"] (case does not matter).
    required_phrases: tuple[str, ...] = ()


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    options = RULE.options_for(policy)
    lesson = snapshot.lesson
    event, lookup = lesson.calendar_event, lesson.calendar_lookup
    if event is None and (lookup is None or lookup.outcome is not LookupOutcome.none):
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "the invitation could not be read",
                             reason=f"the calendar: {lookup or 'not read yet'}")]
    organizer = {i.lower() for i in snapshot.organizer_ids}
    problems = []
    if event is None:
        problems.append("no invitation was sent (an ad hoc or Meet Now call has no calendar event)")
    elif event.attendees is None or event.body_text is None:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "the invitation could not be read",
                             reason="Graph did not report the calendar event's attendees or body")]
    else:
        # Invited on the calendar event, or as the meeting's participants (a meeting created
        # through Graph or Teams' scheduling form lists them there).
        meeting = lesson.meeting_settings
        invited = set(event.attendees) | {i.lower() for p in (meeting.invited if meeting else ()) for i in (p.aad_object_id, p.upn) if i}
        if not invited - organizer:
            problems.append("the invitation was sent to nobody")
        if not event.body_text:
            problems.append("the invitation says nothing about the session's expectations")
        else:
            missing = [p for p in options.required_phrases if p.lower() not in event.body_text.lower()]
            if missing:
                problems.append(f"the invitation does not mention {', '.join(repr(p) for p in missing)}")
    if problems:
        return contact_verdict(RULE, snapshot, policy, "; ".join(problems))
    # People, not addresses: the meeting may list someone by both their id and their sign-in name.
    attendees = len(set(event.attendees) - organizer) or len(lesson.meeting_settings.invited if lesson.meeting_settings else ())
    return [RULE.finding(snapshot, policy, Status.passed,
                         f"an invitation setting out expectations went to {plural(attendees, 'attendee')}")]


RULE = Rule(
    id="invitation-sent",
    title="Invitation with expectations sent",
    severity=Severity.warning,
    remediation="Schedule lessons from Outlook or the Teams calendar, invite the class, and write the session's "
    "expectations (camera, microphone, chat, where to sit) in the invitation.",
    evaluate=evaluate,
    moments=frozenset({Moment.roster, Moment.end}),
    options=Options,
    needs_organizer=True,
)
