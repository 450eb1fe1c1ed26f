"""The demo's printed report: each lesson, its attendance, and what was flagged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from config.policy import Policy
from domain.conversations import AlertDestination
from domain.enrolment import LessonOrigin
from domain.findings import Status, StoredFinding
from domain.lesson import AttendanceSource, Lesson
from domain.lookups import LookupOutcome
from domain.messages import Message
from rules.registry import BY_ID


@dataclass
class DemoReport:
    policy: Policy
    lessons: list[Lesson]
    findings: dict[int, list[StoredFinding]]
    messages: dict[int, list[Message]]
    expectations: dict[str, str]
    alert_destination: AlertDestination | None
    connector_calls: int
    graph_calls: int
    replayed: int
    replay_unchanged: bool
    database_url: str
    notes: list[str]
    served_url: str = ""


def _hm(value: datetime | None, policy: Policy) -> str:
    return value.astimezone(policy.school.zone).strftime("%H:%M") if value else "?"


def _length(seconds: int | None) -> str:
    return f"{seconds // 60} min" if seconds is not None else "unknown"


def render_lesson(lesson: Lesson, policy: Policy, expectation: str | None) -> list[str]:
    zone = policy.school.zone
    date = lesson.actual_start.astimezone(zone).strftime("%A %d %B %Y") if lesson.actual_start else "date unknown"
    lines = [
        f"{lesson.title or lesson.meeting_id}",
        f"  {date}, {_hm(lesson.actual_start, policy)}-{_hm(lesson.actual_end, policy)} ({_length(lesson.length_seconds)}),"
        f" {lesson.meeting_type or 'type unknown'}, organised by {lesson.organizer_name or lesson.organizer_aad_id or 'unknown'}",
    ]
    if expectation:
        lines.append(f"  scenario: {expectation}")
    if lesson.origin is LessonOrigin.call_record:
        lines.append("  UNMONITORED: seen only afterwards, in Graph's call record; Chaperone did not follow it live")
    if lesson.details_lookup and lesson.details_lookup.outcome is not LookupOutcome.ok:
        lines.append(f"  meeting details: {lesson.details_lookup}")
    settings = lesson.meeting_settings
    if settings:
        lines.append(
            f"  settings (Graph): lobby bypass {settings.lobby_scope.value}, presenters {settings.allowed_presenters.value},"
            f" chat {settings.chat.value}, records automatically {settings.record_automatically}"
        )
    else:
        lines.append(f"  settings (Graph): {lesson.settings_lookup or 'not looked up yet'}")
    calendar = lesson.calendar_event
    if calendar:
        lines.append(f"  calendar: '{calendar.subject}' [{', '.join(calendar.categories)}]{' (recurring)' if calendar.is_recurring else ''}")
    else:
        lines.append(f"  calendar: {lesson.calendar_lookup or 'not looked up yet'}")
    lines.append(f"  attendance report (Graph): {lesson.report_lookup or 'not looked up yet'}")
    lines.append(f"  attendance ({len({a.person_id for a in lesson.attendance})} people, {len(lesson.attendance)} intervals):")
    for a in sorted(lesson.attendance, key=lambda a: (a.joined_at or lesson.actual_start, a.display_name or "")):
        minutes = f"{a.seconds // 60:>3} min" if a.seconds is not None else "    ?  "
        source = {AttendanceSource.graph_report: "  (from Graph's report)", AttendanceSource.call_record: "  (from the call record)"}.get(a.source, "")
        lines.append(
            f"    {a.display_name or a.person_id:<22} {a.meeting_role or '':<10} {a.classification.value:<8}"
            f" {_hm(a.joined_at, policy)}-{_hm(a.left_at, policy)} {minutes}{source}"
        )
    return lines


def render_findings(policy: Policy, findings: list[StoredFinding]) -> list[str]:
    failed = [f for f in findings if f.status is Status.failed]
    unverified = [f for f in findings if f.status is Status.could_not_verify]
    passed = [f for f in findings if f.status is Status.passed]
    lines = ["  flagged:" if failed else "  flagged: nothing"]
    for finding in failed:
        rule = BY_ID[finding.rule_id]
        lines.append(f"    {finding.severity.value.upper()} {finding.rule_id}: {finding.message}")
        if finding.reason:
            lines.append(f"      ({finding.reason})")
        for clause, document in policy.clauses_for(rule.id):
            lines.append(f'      policy: "{clause.text}" ({document.title})')
    for finding in unverified:
        reason = (finding.reason or "").removeprefix("could not verify: ")
        lines.append(f"  could not verify {finding.rule_id}: {reason}")
    lines.append(f"  passed: {', '.join(f.rule_id for f in passed) or 'none'}")
    return lines


def render_report(report: DemoReport) -> str:
    policy = report.policy
    out = [
        f"Chaperone demo: {policy.school.name}, one school day followed through /api/messages",
        "=" * 78,
    ]
    out.extend(report.notes)
    if report.alert_destination:
        d = report.alert_destination
        out.append(f"SLT alert channel: {d.conversation.channel_id} (set by {d.set_by_name})")
    out.append("")
    for lesson in sorted(report.lessons, key=lambda l: l.actual_start or l.actual_end):
        out.extend(render_lesson(lesson, policy, report.expectations.get(lesson.meeting_id)))
        out.extend(render_findings(report.policy, report.findings.get(lesson.id, [])))
        sent = report.messages.get(lesson.id, [])
        if sent:
            out.append("  cards: " + "; ".join(f"{m.kind} to {m.destination} ({m.status})" for m in sent))
        out.append("")
    out.append(
        f"Redelivery: the first lesson's {report.replayed} activities were posted again;"
        f" register {'unchanged' if report.replay_unchanged else 'CHANGED (a defect)'}."
    )
    out.append(f"Stand-in calls: Bot Connector {report.connector_calls}, Microsoft Graph {report.graph_calls}.")
    out.append(f"Database: {report.database_url}")
    return "\n".join(out)
