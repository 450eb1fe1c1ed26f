"""Today: lessons running now and earlier today, open breaches first, with live counts."""

from __future__ import annotations

from datetime import date

from domain.enrolment import LessonOrigin
from domain.findings import Severity, Status
from domain.lesson import Lesson, LessonStatus, PersonClass
from domain.placement import Placement
from domain.wording import plural

from .context import Ctx
from .html import badge, e, empty, hm, link
from .rows import utc_bounds


def present_now(lesson: Lesson, kind: PersonClass) -> int:
    return len({a.person_id for a in lesson.attendance if a.classification is kind and a.left_at is None})


async def render(ctx: Ctx, on: date) -> str:
    zone = ctx.policy.school.zone
    start, end = utc_bounds(on, on, zone)
    lessons: list[Lesson] = []
    after = 0
    while page := await ctx.records.lessons_page(start, end, scope=ctx.scope, after_id=after,
                                                  open_too=on == ctx.now.astimezone(zone).date()):
        lessons.extend(page)
        after = page[-1].id
    findings = await ctx.records.findings([l.id for l in lessons])

    def open_breaches(lesson: Lesson) -> list[str]:
        return [f.rule_id for f in findings[lesson.id] if f.status is Status.failed and f.severity is Severity.breach]

    lessons.sort(key=lambda l: (not open_breaches(l), l.status is not LessonStatus.open,
                                -(l.actual_start or start).timestamp()))
    running = sum(1 for l in lessons if l.status is LessonStatus.open)
    head = (f'<div class="summary"><p><strong>{running}</strong> running now · <strong>{len(lessons)}</strong> today · '
            f'<strong>{sum(1 for l in lessons if open_breaches(l))}</strong> with a breach</p>'
            f'<p class="muted">{e(on.strftime("%A %d %B %Y"))}{"" if ctx.viewer.whole_school else " · your lessons only"}</p></div>')
    head += await coverage_panel(ctx, on)
    if not lessons:
        return head + empty("No lessons yet today.")
    cards = []
    for lesson in lessons:
        breaches = open_breaches(lesson)
        unverified = [f.rule_id for f in findings[lesson.id] if f.status is Status.could_not_verify]
        badges = [badge("running", "running") if lesson.status is LessonStatus.open else badge("ended", "ended")]
        if lesson.placement is Placement.unknown:
            badges.append(badge("unverified", "school unknown"))
        if lesson.origin is LessonOrigin.call_record:
            badges.append(badge("breach", "unmonitored"))
        if unverified:
            badges.append(badge("unverified", "could not verify"))
        if breaches:
            badges.append(badge("breach", f"{len(breaches)} breach{'es' if len(breaches) > 1 else ''}"))
        if lesson.status is LessonStatus.open:
            counts = (f"<strong>{present_now(lesson, PersonClass.staff)}</strong> staff, "
                      f"<strong>{present_now(lesson, PersonClass.pupil)}</strong> pupils present now")
        else:
            staff = len({a.person_id for a in lesson.attendance if a.classification is PersonClass.staff})
            pupils = len({a.person_id for a in lesson.attendance if a.classification is PersonClass.pupil})
            counts = f"{staff} staff, {plural(pupils, 'pupil')} attended"
        rules = f'<p class="rules">Breach: {e(", ".join(breaches))}</p>' if breaches else ""
        cards.append(
            f'<li class="lesson-card{" has-breach" if breaches else ""}">'
            f'<div class="lesson-card-head">{link(ctx.href(f"/tab/lesson/{lesson.id}"), lesson.title or "Untitled meeting", cls="lesson-link")}'
            f'<span class="badges">{"".join(badges)}</span></div>'
            f'<p class="muted">{hm(lesson.actual_start, zone)}–{hm(lesson.actual_end, zone) if lesson.actual_end else "now"} · '
            f'{e(lesson.organizer_name or "organiser unknown")}</p><p>{counts}</p>{rules}</li>'
        )
    return head + f'<ul class="lesson-cards">{"".join(cards)}</ul>'


async def coverage_panel(ctx: Ctx, on: date) -> str:
    """The day's coverage, for those who see the whole school: sessions with pupils, followed
    live, seen only afterwards in a call record, and meetings Chaperone could not enrol in."""
    if ctx.services.coverage is None or not ctx.viewer.whole_school:
        return ""
    rows = await ctx.services.coverage.between(on, on, ctx.policy.school.zone, school_id=ctx.viewer.school_id)
    totals = [sum(getattr(r, f) for r in rows) for f in ("sessions_with_pupils", "followed_live", "seen_afterwards", "could_not_enrol")]
    reasons = [f"{r.teacher}: {reason}" for r in rows for reason in r.reasons]
    items = "".join(f"<li>{e(reason)}</li>" for reason in reasons[:20])
    return (f'<section class="coverage summary"><h2>Coverage</h2><p><strong>{totals[0]}</strong> sessions with pupils · '
            f'<strong>{totals[1]}</strong> followed live · <strong>{totals[2]}</strong> seen only afterwards (unmonitored) · '
            f'<strong>{totals[3]}</strong> could not enrol</p>' + (f'<ul class="muted">{items}</ul>' if items else "") + "</section>")
