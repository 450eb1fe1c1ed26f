"""The register: every lesson in a date range, filtered by teacher, class and verdict, with
totals and a CSV of exactly the rows shown."""

from __future__ import annotations

from datetime import date, timedelta

from domain.records import RegisterFilter, Verdict

from .context import Ctx
from .html import badge, e, empty, hm, link, table
from .rows import register_rows, totals

VERDICT_BADGE = {Verdict.breach: "breach", Verdict.warning: "warning", Verdict.could_not_verify: "unverified", Verdict.clear: "pass"}


def default_filter(today: date) -> RegisterFilter:
    return RegisterFilter(start=today - timedelta(days=6), end=today)


def filter_params(filt: RegisterFilter) -> dict[str, object]:
    return {"from": filt.start.isoformat(), "to": filt.end.isoformat(), "teacher": filt.teacher, "class": filt.class_label,
            "verdict": filt.verdict.value if filt.verdict else None}


def _options(values: list[tuple[str, str]], chosen: str | None, blank: str) -> str:
    opts = [f'<option value="">{e(blank)}</option>']
    opts += [f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(label)}</option>' for v, label in values]
    return "".join(opts)


async def render(ctx: Ctx, filt: RegisterFilter) -> str:
    zone = ctx.policy.school.zone
    rows = [r async for r in register_rows(ctx.records, ctx.policy, filt, ctx.scope)]
    sums = totals(rows)
    teachers = await ctx.records.organizers(ctx.scope)
    # Classes offered are the timetable's (a filter to a class with no lesson in range is valid, and empty).
    classes = sorted({t.class_label for t in await ctx.records.timetable(ctx.scope) if t.class_label} | {r.class_label for r in rows if r.class_label})
    form = (
        f'<form class="filters" data-get action="/tab/register">{ctx.school_field}'
        f'<label>From <input type="date" name="from" value="{e(filt.start.isoformat())}" required></label>'
        f'<label>To <input type="date" name="to" value="{e(filt.end.isoformat())}" required></label>'
        f'<label>Teacher <select name="teacher">{_options(teachers, filt.teacher, "Any teacher")}</select></label>'
        f'<label>Class <select name="class">{_options([(c, c) for c in classes], filt.class_label, "Any class")}</select></label>'
        f'<label>Verdict <select name="verdict">{_options([(v.value, v.value.replace("-", " ")) for v in Verdict], filt.verdict.value if filt.verdict else None, "Any verdict")}</select></label>'
        '<button type="submit">Show</button></form>'
    )
    summary = (f'<dl class="totals"><div><dt>Lessons</dt><dd data-total="lessons">{sums.lessons}</dd></div>'
               f'<div><dt>Minutes</dt><dd data-total="minutes">{sums.minutes}</dd></div>'
               f'<div><dt>With a breach</dt><dd data-total="with-breach">{sums.with_breach}</dd></div>'
               f'<div><dt>Could not verify</dt><dd data-total="could-not-verify">{sums.could_not_verify}</dd></div></dl>')
    csv = ctx.href("/tab/api/register.csv", filter_params(filt))
    download = f'<p class="actions"><a class="button" href="{e(csv)}" data-download="register.csv">Download CSV</a></p>'
    if not rows:
        return form + summary + empty("No lessons match.")
    body = table(["Date", "Time", "Lesson", "Organiser", "Class", "Staff", "Pupils", "Minutes", "Verdict"], [
        (e(r.day.strftime("%a %d %b") if r.day else "?"), e(f"{hm(r.start, zone)}–{hm(r.end, zone) if r.end else 'now'}"),
         link(ctx.href(f"/tab/lesson/{r.lesson_id}"), r.title or "Untitled meeting"), e(r.organizer or ""), e(r.class_label),
         e(r.staff), e(r.pupils), e("" if r.minutes is None else r.minutes),
         badge(VERDICT_BADGE[r.verdict], r.verdict.value.replace("-", " ")) + (f' <small>{e(", ".join(r.breaches))}</small>' if r.breaches else ""))
        for r in rows], cls="register")
    return form + summary + download + body
