"""invited-only: pupils and outsiders in a lesson were invited to it; access links are not shared.

Staff of the school are never flagged: "a member of SLT, DSL and/or head of department is able
to drop in at any time".
"""

from __future__ import annotations

from config.policy import Policy
from domain.findings import Finding, Severity, Status
from domain.lesson import PersonClass
from domain.wording import plural

from .base import ROSTER_MOMENTS, Rule
from .snapshot import LessonSnapshot


def invitees(snapshot: LessonSnapshot) -> set[str]:
    """Everyone invited, by Entra id and sign-in address (lower case), from the meeting's
    participants and the calendar event's attendees, the organizer left out."""
    lesson = snapshot.lesson
    names: set[str] = set()
    for person in lesson.meeting_settings.invited if lesson.meeting_settings else ():
        names |= {n.lower() for n in (person.aad_object_id, person.upn) if n}
    if lesson.calendar_event is not None:
        names |= set(lesson.calendar_event.attendees or ())
    return names - {i.lower() for i in snapshot.organizer_ids}


def evaluate(snapshot: LessonSnapshot, policy: Policy) -> list[Finding]:
    invited = invitees(snapshot)
    if not invited:
        # Nobody listed can mean the class was invited as a group Graph does not expand here, or
        # that the facts were not read: never a breach on that alone.
        lesson = snapshot.lesson
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "who was invited is not known",
                             reason=f"the meeting and its calendar event list no invitees (meeting settings: "
                                    f"{lesson.settings_lookup or 'not read yet'}; calendar: {lesson.calendar_lookup or 'not read yet'})")]
    outsiders = {}
    for a in snapshot.lesson.attendance:
        if a.classification not in (PersonClass.pupil, PersonClass.external):
            continue
        known_as = {n.lower() for n in (a.aad_object_id, a.upn) if n}
        if not known_as & invited:
            outsiders[a.person_id] = a.display_name or a.person_id
    if outsiders:
        names = sorted(set(outsiders.values()))
        return [RULE.finding(snapshot, policy, Status.failed,
                             f"{plural(len(names), 'person', 'people')} joined without being invited: {', '.join(names)}",
                             details={"people": names})]
    if snapshot.unidentified() and not snapshot.roster_settled:
        return [RULE.finding(snapshot, policy, Status.could_not_verify, "not everyone present is identified yet",
                             reason=snapshot.roster_problem)]
    return [RULE.finding(snapshot, policy, Status.passed, "every pupil and visitor present was invited")]


RULE = Rule(
    id="invited-only",
    title="Only invited people join",
    severity=Severity.warning,
    remediation="Remove anyone you did not invite, and remind the class not to share the lesson's link; "
    "invite pupils (or the class) to the meeting rather than posting the link.",
    evaluate=evaluate,
    moments=ROSTER_MOMENTS,
    needs_roster=True,
    needs_organizer=True,
)
