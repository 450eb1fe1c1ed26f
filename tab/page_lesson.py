"""One lesson: the timeline, the meeting settings Graph reported, each verdict with the clause
of the school's AUP, the cards sent and to whom, what SLT did, and (for the DSL) concerns."""

from __future__ import annotations

from domain.findings import Status
from domain.lesson import Lesson
from domain.meeting import MeetingSettings
from domain.placement import Placement
from domain.messages import AlertState, Destination, Message, MessageKind
from rules.registry import BY_ID

from . import timeline
from .context import Ctx
from .html import badge, day, e, empty, hm, section, stamp, table

PLACEMENT_WORDS = {Placement.pending: "nothing yet (waiting for the lesson's start)", Placement.only_school: "the only school",
                   Placement.staff_group: "the organiser's staff group", Placement.class_team: "the class team",
                   Placement.timetable: "the timetable", Placement.unknown: "none of staff group, class team or timetable"}
STATUS_BADGE = {Status.passed: ("pass", "pass"), Status.failed: ("breach", "fail"), Status.could_not_verify: ("unverified", "could not verify")}
DESTINATIONS = {Destination.meeting: "the meeting chat", Destination.slt_channel: "the SLT channel", Destination.organizer: "the organiser",
                Destination.dsl: "the DSL", Destination.conversation: "a reply"}
KINDS = {MessageKind.reminder: "Behaviour reminder", MessageKind.teacher_warning: "Organiser's warning", MessageKind.slt_alert: "SLT alert",
         MessageKind.summary: "Lesson record", MessageKind.concern: "Concern", MessageKind.reply: "Reply"}


def settings_table(s: MeetingSettings) -> str:
    def yn(v: bool | None) -> str:
        return "unknown" if v is None else ("yes" if v else "no")

    rows = [("Who bypasses the lobby", s.lobby_scope.value), ("Who can present", s.allowed_presenters.value), ("Meeting chat", s.chat.value),
            ("Attendees may unmute", yn(s.attendee_mic_allowed)), ("Attendees may turn on cameras", yn(s.attendee_camera_allowed)),
            ("Records automatically", yn(s.record_automatically)), ("Recording allowed", yn(s.allow_recording)),
            ("Live event (broadcast)", yn(s.is_broadcast))]
    return table(["Setting", "As Graph reported it"], [(e(a), e(b)) for a, b in rows], cls="settings")


def verdicts(ctx: Ctx, lesson: Lesson, findings) -> str:
    zone = ctx.policy.school.zone
    if not findings:
        return empty("No checks have run on this lesson yet.")
    order = {Status.failed: 0, Status.could_not_verify: 1, Status.passed: 2}
    items = []
    passed = [f for f in findings if f.status is Status.passed]
    for f in sorted((f for f in findings if f.status is not Status.passed), key=lambda f: (order[f.status], f.rule_id)):
        rule = BY_ID.get(f.rule_id)
        kind, word = STATUS_BADGE[f.status]
        if f.status is Status.failed and f.severity.value != "breach":
            kind = "warning"  # a failed reminder or warning is not shown as a breach
        clauses = "".join(
            f'<blockquote class="clause"><p>“{e(c.text)}”</p><footer>{e(m.title)}{f" · {e(c.section)}" if c.section else ""}</footer></blockquote>'
            for c, m in ctx.policy.clauses_for(f.rule_id))
        reason = f'<p class="muted">{e(f.reason)}</p>' if f.reason else ""
        since = f' <span class="muted">since {hm(f.first_failed_at, zone)}</span>' if f.status is Status.failed and f.first_failed_at else ""
        fix = f'<p><em>What to do:</em> {e(rule.remediation)}</p>' if rule and f.status is Status.failed else ""
        items.append(
            f'<li class="verdict verdict-{e(kind)}"><div class="verdict-head">{badge(kind, word)} '
            f'<strong>{e(rule.title if rule else f.rule_id)}</strong> <code>{e(f.rule_id)}</code> '
            f'<span class="muted">({e(f.severity.value)})</span>{since}</div>'
            f"<p>{e(f.message)}</p>{reason}{fix}{clauses}</li>")
    # Passing checks are listed, not quoted: the page leads with what needs attention.
    passes = ("".join(f'<li>{badge("pass", "pass")} <strong>{e(BY_ID[f.rule_id].title if f.rule_id in BY_ID else f.rule_id)}</strong> '
                      f'<code>{e(f.rule_id)}</code>: {e(f.message)}</li>' for f in sorted(passed, key=lambda f: f.rule_id)))
    more = (f'<details class="passed"><summary>{len(passed)} check{"s" if len(passed) != 1 else ""} passed</summary>'
            f'<ul class="passes">{passes}</ul></details>') if passed else ""
    return (f'<ul class="verdicts">{"".join(items)}</ul>' if items else "") + more


def cards_sent(ctx: Ctx, messages: list[tuple[Message, AlertState | None]]) -> str:
    zone = ctx.policy.school.zone
    if not messages:
        return empty("No cards have been sent about this lesson.")
    rows = []
    for m, _ in messages:
        when = stamp(m.sent_at or m.created_at, zone)
        rows.append((e(KINDS.get(m.kind, m.kind.value)), e(DESTINATIONS.get(m.destination, m.destination.value)),
                     badge("pass" if m.status.value == "sent" else "unverified", m.status.value), e(when), e(m.summary)))
    return table(["Card", "To", "Delivery", "When", "About"], rows)


async def slt_actions(ctx: Ctx, lesson: Lesson, messages: list[tuple[Message, AlertState | None]]) -> str:
    zone = ctx.policy.school.zone
    exceptions = await ctx.records.exceptions_for(lesson, ctx.scope)
    targets = [f"message:{m.id}" for m, _ in messages if m.kind is MessageKind.slt_alert] + [f"exception:{x.id}" for x in exceptions]
    entries = await ctx.records.actions_on(targets, ctx.scope)
    rows = [(e(stamp(a.at, zone)), e(a.actor_name or a.actor), e(a.action.replace(".", " ")), e(a.target or "")) for a in entries]
    for m, state in messages:
        if state and state.cleared_at:
            rows.append((e(stamp(state.cleared_at, zone)), "Chaperone", "alert cleared", e(state.cleared_reason or "")))
    parts = [table(["When", "Who", "Action", "On"], rows) if rows else empty("No action by SLT or the DSL is recorded.")]
    if exceptions:
        parts.append("<h3>Exceptions for this lesson or its series</h3>")
        parts.append(table(["#", "Rule", "Reason", "Approved", "Expires", "State"], [
            (e(x.id), f"<code>{e(x.rule_id)}</code>", e(x.reason), e(f"{x.approved_by_name or x.approved_by} · {stamp(x.approved_at, zone)}"),
             e(stamp(x.expires_at, zone) or "no expiry"), e("withdrawn" if x.revoked_at else "active"))
            for x in exceptions]))
    return "".join(parts)


async def concerns(ctx: Ctx, lesson: Lesson) -> str:
    zone = ctx.policy.school.zone
    found = await ctx.records.concerns(ctx.scope, lesson.id)
    if not found:
        return empty("No concern was reported from this lesson.")
    return table(["Reported", "By", "Concern", "Status"], [
        (e(stamp(c.created_at, zone)), e(c.reporter_name or "someone"), e(c.text), e(c.status.value)) for c in found])


async def render(ctx: Ctx, lesson: Lesson) -> str:
    zone = ctx.policy.school.zone
    findings = (await ctx.records.findings([lesson.id]))[lesson.id]
    messages = await ctx.records.messages(lesson.id, ctx.scope)
    two_staff = BY_ID["two-staff"].options_for(ctx.policy)
    waiting_room = BY_ID["waiting-room"].options_for(ctx.policy)
    drawing = timeline.render(lesson, findings, zone=zone, now=ctx.now, minimum_staff=two_staff.minimum_staff,
                              allowed_lobby=tuple(waiting_room.allowed_scopes))
    end = hm(lesson.actual_end, zone) if lesson.actual_end else "running"
    inferred = " (end inferred: Teams sent no end)" if lesson.end_inferred else ""
    length = f"{lesson.length_seconds // 60} min" if lesson.length_seconds is not None else "length unknown"
    head = (f'<p class="muted">{e(day(lesson.actual_start or lesson.scheduled_start, zone))} · {hm(lesson.actual_start, zone)}–{e(end)}'
            f"{e(inferred)} · {e(length)} · organised by {e(lesson.organizer_name or lesson.organizer_aad_id or 'unknown')}"
            f" · {e(lesson.meeting_type or 'meeting type unknown')}</p>")
    if ctx.services.schools.is_trust:
        # Which school's record this is, and why: the policy it was judged by follows from it.
        unknown = lesson.placement is Placement.unknown
        head += (f'<p class="placement{" notice" if unknown else ""}" data-school="{e(lesson.school_id or "")}">'
                 f'<strong>{e("School unknown" if unknown else ctx.policy.school.name)}</strong>'
                 f'{e(f" (judged by {ctx.policy.school.name})" if unknown else "")} · placed by {e(PLACEMENT_WORDS.get(lesson.placement, lesson.placement.value))}'
                 f'{e(f": {lesson.placement_reason}" if lesson.placement_reason else "")}</p>')
    settings = (settings_table(lesson.meeting_settings) if lesson.meeting_settings
                else empty(f"Graph's meeting settings: {lesson.settings_lookup or 'not read yet'}"))
    parts = [
        f'<h1 data-title="{e(lesson.title or "Lesson")}">{e(lesson.title or "Untitled meeting")}</h1>', head,
        section("Who was present when", f'<div class="timeline-wrap">{drawing}</div>{timeline.LEGEND}', id_="timeline"),
        section("Verdicts", verdicts(ctx, lesson, findings), id_="verdicts"),
        section("Meeting settings", settings, id_="settings"),
        section("Cards sent", cards_sent(ctx, messages), id_="cards"),
        section("SLT and DSL actions", await slt_actions(ctx, lesson, messages), id_="actions"),
    ]
    if ctx.viewer.is_dsl:
        parts.append(section("Concerns (DSL only)", await concerns(ctx, lesson), id_="concerns"))
    return "".join(parts)
