"""Concerns (the DSL's alone): each concern with its lesson, reporter, words and status; the DSL
marks one seen, or closes it with a note."""

from __future__ import annotations

from .context import Ctx
from .html import badge, e, empty, link, stamp

STATUS_BADGE = {"new": "breach", "seen": "warning", "closed": "pass"}


async def render(ctx: Ctx, done: str | None = None) -> str:
    zone = ctx.policy.school.zone
    found = await ctx.records.concerns(ctx.scope)
    ok = f'<p class="done" role="status">{e(done)}</p>' if done else ""
    if not found:
        return ok + empty("No concerns have been reported.")
    items = []
    for c in found:
        lesson = link(ctx.href(f"/tab/lesson/{c.lesson_id}"), c.lesson_title or f"lesson {c.lesson_id}") if c.lesson_id else "no lesson (reported outside a meeting)"
        status = badge(STATUS_BADGE[c.status.value], c.status.value)
        by = f' <span class="muted">by {e(c.status_by)}, {e(stamp(c.status_at, zone))}</span>' if c.status_by else ""
        note = f'<p class="note"><strong>DSL note:</strong> {e(c.note)}</p>' if c.note else ""
        actions = ""
        if c.status.value != "closed" and ctx.viewer.may_act:
            seen = (f'<form method="post" action="{e(ctx.href(f"/tab/api/concerns/{c.id}/seen"))}" data-post class="inline">'
                    '<button type="submit" class="secondary">Mark seen</button></form>') if c.status.value == "new" else ""
            actions = (f'<div class="concern-actions">{seen}<form method="post" action="{e(ctx.href(f"/tab/api/concerns/{c.id}/closed"))}" data-post class="inline">'
                       f'<label>Note <input name="note" required maxlength="2000"></label><button type="submit">Close</button></form></div>')
        items.append(f'<li class="concern"><div class="verdict-head">{status}{by}</div>'
                     f'<p class="muted">{e(stamp(c.created_at, zone))} · {e(c.reporter_name or "someone")} · {lesson}</p>'
                     f'<blockquote>{e(c.text)}</blockquote>{note}{actions}</li>')
    return ok + f'<ul class="concerns">{"".join(items)}</ul>'
