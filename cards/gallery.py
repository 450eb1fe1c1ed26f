"""Every card Chaperone can send, filled with realistic sample data (`python app.py cards`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from config.policy import Policy
from domain.findings import Severity, Status, StoredFinding
from domain.lookups import Lookup
from domain.messages import AlertState, RaisedFinding
from domain.lesson import Attendance, AttendanceSource, Lesson, LessonStatus, PersonClass
from domain.placement import Placement

from . import attendance_summary, aup, concern, escalation, reminder, slt_alert, teacher_warning

START = datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)


def _person(n: int, name: str, kind: PersonClass, joined: int, left: int | None, role: str = "Attendee") -> Attendance:
    return Attendance(
        id=n, person_id=f"sample-{n}", aad_object_id=f"sample-{n}", display_name=name, tenant_id="sample-tenant",
        meeting_role=role, classification=kind, joined_at=START + timedelta(minutes=joined),
        left_at=START + timedelta(minutes=left) if left is not None else None, source=AttendanceSource.live,
    )


def sample_lesson(ended: bool = True) -> Lesson:
    pupils = ["Alex Morgan", "Bea Clarke", "Cal Evans", "Dev Shah", "Eli Brooks", "Fay Turner"]
    attendance = [
        _person(1, "Ms Amara Okafor", PersonClass.staff, 1, 55 if ended else None, "Organizer"),
        _person(2, "Mr Tom Hale", PersonClass.staff, 1, 20, "Presenter"),
        *[_person(10 + i, name, PersonClass.pupil, 2, 55 if ended else None) for i, name in enumerate(pupils)],
        _person(30, "Visiting Speaker", PersonClass.external, 30, 40),
    ]
    return Lesson(
        id=42, meeting_id="sample-meeting", title="Year 9 Science (9C)", organizer_aad_id="sample-1",
        organizer_name="Ms Amara Okafor", join_url=None, meeting_type="Scheduled", graph_meeting_id=None,
        tenant_id="sample-tenant", conversation_id=None, scheduled_start=START, scheduled_end=START + timedelta(minutes=55),
        actual_start=START, actual_end=START + timedelta(minutes=55) if ended else None,
        status=LessonStatus.closed if ended else LessonStatus.open, start_event_missing=False, end_event_missing=False,
        details_lookup=Lookup.ok(), attendance=attendance,
    )


def _finding(n: int, rule_id: str, severity: Severity, status: Status, message: str, reason: str | None = None) -> StoredFinding:
    return StoredFinding(
        id=n, lesson_id=42, rule_id=rule_id, severity=severity, status=status,
        message=message, reason=reason, details={}, moment="roster",
        episode=1 if status is Status.failed else 0, final=False, first_failed_at=START + timedelta(minutes=25),
        evaluated_at=START + timedelta(minutes=25),
    )


def sample_findings() -> list[StoredFinding]:
    return [
        _finding(1, "two-staff", Severity.breach, Status.failed, "Ms Amara Okafor has been alone with pupils since 11:20 and is still alone (5 min; 2 staff required)"),
        _finding(2, "school-accounts-only", Severity.breach, Status.failed, "1 participant without a school account: Visiting Speaker"),
        _finding(3, "attendee-av", Severity.warning, Status.failed, "pupils can switch on their own cameras"),
        _finding(4, "aup-signed", Severity.warning, Status.could_not_verify, "AUP signatures could not be checked",
                 "the AUP signature register is not available yet"),
        _finding(5, "waiting-room", Severity.breach, Status.passed, "the waiting room is on (lobby bypass: organizer)"),
    ]


def gallery(policy: Policy) -> dict[str, dict]:
    lesson = sample_lesson()
    findings = sample_findings()
    breaches = [f for f in findings if f.status is Status.failed and f.severity is Severity.breach]
    warnings = [f for f in findings if f.status is Status.failed]
    acted = START + timedelta(minutes=27)
    raised = [RaisedFinding(finding=f, present=sample_lesson(ended=False).present_at(f.evaluated_at)) for f in breaches]
    passing_now = {f.id: f.model_copy(update={"status": Status.passed, "message": "at least 2 staff whenever pupils were present"})
                   for f in breaches if f.rule_id == "two-staff"}
    cards = {
        "reminder": reminder.reminder_card(policy, lesson.title, lesson.id),
        "report-concern-form": reminder.concern_form(lesson.id),
        "report-concern-received": reminder.concern_received(),
        "teacher-warning-as-everyone-sees-it": teacher_warning.neutral_card(lesson.id, ["29:sample-organizer"], 7),
        "teacher-warning-for-the-organizer": teacher_warning.warning_card(lesson.title, warnings),
        "slt-alert": slt_alert.alert_card(policy, sample_lesson(ended=False), raised, {}, AlertState(alert_id=8), "9C Science"),
        "slt-alert-acknowledged": slt_alert.alert_card(
            policy, sample_lesson(ended=False), raised, {},
            AlertState(alert_id=8, acknowledged_by="Roland Gooding", acknowledged_at=acted, exception_id=3, exception_by="Roland Gooding"),
            "9C Science",
        ),
        "slt-alert-cleared": slt_alert.alert_card(
            policy, lesson, raised[:1], passing_now,
            AlertState(alert_id=8, cleared_at=acted + timedelta(minutes=60),
                       cleared_reason="Graph's attendance report corrected the register, and the check now passes"),
            "9C Science",
        ),
        "slt-alert-resolved": slt_alert.alert_card(
            policy, lesson, raised, {},
            AlertState(alert_id=8, acknowledged_by="Roland Gooding", acknowledged_at=acted, resolved_by="Lisa Kavanagh",
                                 resolved_at=acted + timedelta(minutes=30)),
            "9C Science",
        ),
        "slt-alert-school-unknown": slt_alert.alert_card(
            policy, sample_lesson(ended=False).model_copy(update={
                "placement": Placement.unknown, "placement_reason": "the organizer is in no school's staff group, and no class team or "
                                                                    "timetable names the lesson"}),
            raised, {}, AlertState(alert_id=8), "not on the timetable",
        ),
        "escalation-to-trust-leads": escalation.escalation_card(
            "Riverside Learning Trust", policy, lesson, ["Two members of staff present", "Waiting room (lobby) on"], START,
            START + timedelta(minutes=31), 8),
        "attendance-summary": attendance_summary.summary_card(policy, lesson, findings),
        "concern-for-the-dsl": concern.concern_card(policy, lesson, "Bea Clarke",
                                                    "Someone in the chat kept messaging me after I asked them to stop.", acted),
    }
    document = policy.aup_document()
    if document is not None:
        cards |= {
            "aup-signing": aup.signing_card(document, "Amara Okafor", None),
            "aup-signing-with-a-problem": aup.signing_card(document, "Amara Okafor", "Class teacher", "Confirm that you have read and understood the AUP."),
            "aup-receipt": aup.receipt_card("Amara Okafor", "Class teacher", document.version, acted, policy.school.zone, already=False),
            "aup-reminder": aup.reminder_card(document),
            "welcome": aup.welcome_card(policy.school.name, document),
        }
    return cards
